# Every target creates .venv itself: `make demo` and `make test` are all the set-up a fresh machine needs.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV := $(BIN)/uv

.PHONY: demo test bench lint clean

$(UV):
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip uv

$(VENV)/.base: pyproject.toml | $(UV)
	$(UV) pip install -q -p $(BIN)/python -e '.[report]'
	touch $@

$(VENV)/.dev: pyproject.toml | $(UV)
	$(UV) pip install -q -p $(BIN)/python -e '.[dev]'
	touch $@ $(VENV)/.base

demo: $(VENV)/.base
	$(BIN)/python -m oneinbox_nb demo

test: $(VENV)/.dev
	$(BIN)/python -m pytest -q

bench: $(VENV)/.dev
	$(BIN)/python -m benchmarks

lint: $(VENV)/.dev
	$(BIN)/ruff check oneinbox_nb tests benchmarks
	$(BIN)/ruff format --check oneinbox_nb tests benchmarks

clean:
	rm -rf $(VENV) reports .pytest_cache
