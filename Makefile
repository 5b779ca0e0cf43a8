# Every target creates .venv itself: `make demo` and `make test` are all the set-up a fresh machine needs.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV := $(BIN)/uv

.PHONY: demo test bench lint clean dashboard lab

$(UV):
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip uv

$(VENV)/.base: pyproject.toml | $(UV)
	$(UV) pip install -q -p $(BIN)/python -e '.[report]'
	touch $@

$(VENV)/.dev: pyproject.toml | $(UV)
	$(UV) pip install -q -p $(BIN)/python -e '.[dev]'
	touch $@ $(VENV)/.base $(VENV)/.dashboard

# The dashboard extra on top of whatever is there (after `make demo` alone, too).
$(VENV)/.dashboard: pyproject.toml | $(UV)
	$(UV) pip install -q -p $(BIN)/python -e '.[report,dashboard]'
	touch $@

# JupyterLab and nbstripout; the git filter strips outputs from notebooks as they are staged.
$(VENV)/.lab: pyproject.toml | $(UV)
	$(UV) pip install -q -p $(BIN)/python -e '.[lab]'
	$(BIN)/nbstripout --install
	touch $@ $(VENV)/.dashboard

demo: $(VENV)/.base
	$(BIN)/python -m oneinbox_nb demo

test: $(VENV)/.dev
	$(BIN)/python -m pytest -q

# The explorers live in Voila, on the OneInbox API when ONEINBOX_API_KEY is set (else the sample);
# `make dashboard ARGS=--sample` for the embedded sample API.
dashboard: $(VENV)/.dashboard
	$(BIN)/python -m oneinbox_nb dashboard $(ARGS)

# JupyterLab on the notebooks, with this venv's Python as the kernel.
lab: $(VENV)/.lab
	$(BIN)/jupyter lab --ServerApp.ip=127.0.0.1 --ServerApp.root_dir=notebooks $(ARGS)

bench: $(VENV)/.dev
	$(BIN)/python -m benchmarks

lint: $(VENV)/.dev
	$(BIN)/ruff check oneinbox_nb tests benchmarks
	$(BIN)/ruff format --check oneinbox_nb tests benchmarks

clean:
	rm -rf $(VENV) reports .pytest_cache

# The property-based tier with many examples: 2,000 per property (make test runs 100).
.PHONY: fuzz
fuzz: $(VENV)/.dev
	HYPOTHESIS_PROFILE=fuzz $(BIN)/python -m pytest -q tests/test_contract_frames.py tests/test_contract_sample_server.py
