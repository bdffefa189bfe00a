# The README's commands. `make demo` sets up and runs a real encode + search; `make test` sets up and tests
# (all but the tests marked long); `make test-long` runs those too long for every run. CI runs .ci/run.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
# The CPU build of PyTorch, installed before anything else so no dependency pulls a CUDA build.
TORCH  ?= torch==2.13.0

.PHONY: setup setup-test demo test test-long lint bench clean dropin bench-peers-env

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
	@echo "The sentvec command is $(VENV)/bin/sentvec (or run: source $(VENV)/bin/activate); try $(VENV)/bin/sentvec --help"

test: setup-test
	$(PY) -m pytest -q

# pytest exits 5 when nothing is selected: no test marked long is not a failure.
test-long: setup-test
	$(PY) -m pytest -q -m long || [ $$? -eq 5 ]

LINTED := src tests benchmarks examples
# ruff (rules, docstrings and annotations on the library), ruff's formatter, mypy on src/sentvec (pyproject.toml)
lint: setup-test
	$(VENV)/bin/ruff check $(LINTED)
	$(VENV)/bin/ruff format --check $(LINTED)
	$(VENV)/bin/mypy

bench: setup-test
	$(PY) benchmarks/agreement.py
	$(PY) benchmarks/startup.py
	$(PY) benchmarks/encode_cpu.py

# The peer rows of benchmarks/encode_cpu.py (sentence-transformers' own ONNX backend and its dynamic int8 export,
# fastembed) in their own environment: optimum-onnx needs transformers 4.x (and so sentence-transformers 5.x),
# fastembed needs huggingface-hub < 2, both of which conflict with the test environment. The pins below are a
# combination checked to install and run together; encode_cpu.py finds this environment by itself.
PEERS_VENV ?= .venv-peers
PEERS_PINS ?= "sentence-transformers==5.7.0" "transformers==4.57.6" "optimum==2.1.0" \
              "optimum-onnx[onnxruntime]==0.1.0" "onnxruntime==1.32.0" "fastembed==0.9.1"

$(PEERS_VENV)/.peers:
	$(PYTHON) -m venv $(PEERS_VENV)
	$(PEERS_VENV)/bin/python -m pip install -q --upgrade pip
	$(PEERS_VENV)/bin/python -m pip install -q "$(TORCH)"
	$(PEERS_VENV)/bin/python -m pip install -q "$(TORCH)" $(PEERS_PINS)
	touch $@

bench-peers-env: $(PEERS_VENV)/.peers

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
	rm -rf $(VENV) $(PEERS_VENV) build dist src/*.egg-info .test-cache
