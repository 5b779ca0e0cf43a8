# Every target creates .venv itself: `make demo` and `make test` are all the set-up a fresh machine needs.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV := $(BIN)/uv
# Installs write bytecode (uv's own option; it compiles even under PYTHONDONTWRITEBYTECODE=1, which
# many containers set), then the package's own sources, which an editable install leaves alone: every
# later process -- a CLI call, a kernel, a test worker -- starts without compiling pandas from source.
export UV_COMPILE_BYTECODE := 1
INSTALL := $(UV) pip install -q --compile-bytecode -p $(BIN)/python
COMPILE_OWN := $(BIN)/python -m compileall -q oneinbox_nb
# `make test`: every tier, a worker per core and one more (pytest-xdist; at most 4), a test file per
# worker at a time, so a module's kernel run, browser or server fixture is built once; files are
# handed out in collection order, which tests/conftest.py starts with the longest files
# (SLOWEST_FIRST), so the workers finish together (xdist's own reordering, by number of tests, is
# turned off). The extra worker keeps the cores busy while a test waits on the kernels, browsers,
# JVM and servers it started. `make test-fast` waits on nothing: one worker per core (auto).
CORES := $(shell getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)
PYTEST_WORKERS ?= $(shell echo $$(( $(CORES) + 1 )))
XDIST_FILES := --maxprocesses 4 --dist loadfile --no-loadscope-reorder
XDIST := -n $(PYTEST_WORKERS) $(XDIST_FILES)
FAST := not (notebook or browser or spark or server)

.PHONY: demo test test-fast bench lint clean dashboard lab

# Test runs keep bytecode, pytest's rewritten test modules too, even where the environment says not
# to (PYTHONDONTWRITEBYTECODE=1, as many containers set): otherwise every worker of every run
# rewrites and compiles each test module again (about 2 s of CPU a worker).
test test-fast fuzz bench: export PYTHONDONTWRITEBYTECODE :=
# The test workers (a core each, or more) keep every core busy: numpy's OpenBLAS threads would only
# fight the other workers for them, and they spin while they wait (explain_change on 3,000 calls of
# 30 turns: 1.0 s of CPU on one thread, 2.1 s on two). Results may differ in the last bit of a
# float, as they do between machines with different core counts.
test test-fast: export OPENBLAS_NUM_THREADS := 1

$(UV):
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --compile --upgrade pip uv

$(VENV)/.base: pyproject.toml | $(UV)
	$(INSTALL) -e '.[report]'
	$(COMPILE_OWN)
	touch $@

$(VENV)/.dev: pyproject.toml | $(UV)
	$(INSTALL) -e '.[dev]'
	$(COMPILE_OWN)
	touch $@ $(VENV)/.base $(VENV)/.dashboard

# The dashboard extra on top of whatever is there (after `make demo` alone, too).
$(VENV)/.dashboard: pyproject.toml | $(UV)
	$(INSTALL) -e '.[report,dashboard]'
	$(COMPILE_OWN)
	touch $@

# JupyterLab and nbstripout; the git filter strips outputs from notebooks as they are staged.
$(VENV)/.lab: pyproject.toml | $(UV)
	$(INSTALL) -e '.[lab]'
	$(COMPILE_OWN)
	$(BIN)/nbstripout --install
	touch $@ $(VENV)/.dashboard

demo: $(VENV)/.base
	$(BIN)/python -m oneinbox_nb demo

# Everything: unit tests, notebooks in kernels, Chromium, Voila, Spark, real servers (README, "Tests").
test: $(VENV)/.dev
	$(BIN)/python -m pytest -q $(XDIST) $(ARGS)

# The fast tier: no kernel, browser, JVM, real socket or subprocess server (in-process transports).
test-fast: $(VENV)/.dev
	$(BIN)/python -m pytest -q -n auto $(XDIST_FILES) -m "$(FAST)" $(ARGS)

# The explorers live in Voila, on the OneInbox API when ONEINBOX_API_KEY is set (else the sample);
# `make dashboard ARGS=--sample` for the embedded sample API.
dashboard: $(VENV)/.dashboard
	$(BIN)/python -m oneinbox_nb dashboard $(ARGS)

# JupyterLab on the notebooks, with this venv's Python as the kernel. Jupyter refuses to run as root
# (containers often are) unless told: the flag is added for root only.
AS_ROOT := $(if $(filter 0,$(shell id -u)),--ServerApp.allow_root=True)
lab: $(VENV)/.lab
	$(BIN)/jupyter lab --ServerApp.ip=127.0.0.1 --ServerApp.root_dir=notebooks $(AS_ROOT) $(ARGS)

bench: $(VENV)/.dev
	$(BIN)/python -m benchmarks

lint: $(VENV)/.dev
	$(BIN)/ruff check oneinbox_nb tests benchmarks
	$(BIN)/ruff format --check oneinbox_nb tests benchmarks

clean:
	rm -rf $(VENV) reports .pytest_cache

# The property-based tier with many examples: 2,000 per property (make test runs 20: tests/conftest.py),
# one property per worker: 13.5 min on 2 cores.
.PHONY: fuzz
fuzz: $(VENV)/.dev
	HYPOTHESIS_PROFILE=fuzz $(BIN)/python -m pytest -q -n auto --dist load tests/test_contract_frames.py tests/test_contract_sample_server.py \
		tests/frames/test_property.py
