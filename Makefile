# The README's commands. `make demo` sets up and runs a real encode + search; `make test` sets up and tests.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
# The CPU build of PyTorch, installed before anything else so no dependency pulls a CUDA build.
TORCH  ?= torch==2.13.0

.PHONY: setup setup-test demo test lint bench clean dropin

$(VENV)/.core: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH)"
	$(PY) -m pip install -q -e .
	touch $@

$(VENV)/.test: $(VENV)/.core
	$(PY) -m pip install -q -e ".[test,dev]"
	touch $@

setup: $(VENV)/.core
setup-test: $(VENV)/.test

demo: setup
	$(PY) examples/quickstart.py

test: setup-test
	$(PY) -m pytest -q

lint: setup-test
	$(VENV)/bin/ruff check src tests benchmarks examples

bench: setup-test
	$(PY) benchmarks/agreement.py
	$(PY) benchmarks/startup.py
	$(PY) benchmarks/encode_cpu.py

# Drop-in check: sentence-transformers' own unit tests with `sentence_transformers` swapped for this checkout's
# sentvec (strict mode: a name sentvec lacks fails its whole test file). Needs the harness in ST_SUITE, set up
# per its README (./setup.sh, ./get_tests.sh); DROPIN_MODE=sentvec-lenient for the diagnostic mode,
# DROPIN_ARGS for pytest arguments (e.g. a test file). Prints a per-area table and `sentvec: P passed ...`.
ST_SUITE    ?= ../shared/st-suite
DROPIN_MODE ?= sentvec
DROPIN_OUT  ?= $(CURDIR)/.st-out
DROPIN_ARGS ?=

dropin:
	@test -x "$(ST_SUITE)/run.sh" || { echo "no drop-in harness at $(ST_SUITE): set ST_SUITE=<path to st-suite> (see its README: setup.sh, get_tests.sh)" >&2; exit 2; }
	cd "$(ST_SUITE)" && SENTVEC_PATH="$(CURDIR)/src" ST_SUITE_OUT="$(DROPIN_OUT)" ./run.sh $(DROPIN_MODE) $(DROPIN_ARGS)

clean:
	rm -rf $(VENV) build dist src/*.egg-info
