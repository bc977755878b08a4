# dlgrade: make setup | make demo | make test | make quick | make compat
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
PYTHON ?= python3
PIP_QUIET := 2>&1 | (grep -v '^WARNING: Location' || true)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test quick compat generate bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	# torch is pinned here (a CPU wheel of this version is on the build machines); pyproject declares a range
	$(BIN)/pip install -q torch==2.13.0 $(PIP_QUIET)
	$(BIN)/pip install -q -e '.[otter]' $(PIP_QUIET)
	$(BIN)/python -c "import torch, numpy, nbformat, nbclient, pytest, otter, dlgrade; assert torch.__version__.startswith('2.13.0'), torch.__version__"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

demo: setup
	$(BIN)/dlgrade demo --out out/demo --dist dist

test: setup
	$(BIN)/python -m pytest -q -m "not other_torch"

# the tests not marked slow (no notebooks, grading batches, Docker or adversarial suites)
quick: setup
	$(BIN)/python -m pytest -q -m "not slow"

# the handout's checks under the newest other torch of the supported range (a venv made once per
# machine in ~/.cache/dlgrade-tests: about 1.5 minutes and 5.5 GB the first time)
compat: setup
	$(BIN)/python -m pytest -q -m other_torch

bench: setup
	$(BIN)/python bench/bench_grading.py

generate: setup
	$(BIN)/dlgrade generate

clean:
	rm -rf $(VENV) dist build *.egg-info
