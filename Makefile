# Set-up and checks. `make run` and `make test` are the two README commands; `.ci/run` calls `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.hetrec-installed

.PHONY: setup run test test-all lint bench clean

setup: $(STAMP)

# torch==2.13.0 goes in first, alone: pip then takes the local CPU wheel, and naming it again in the second call keeps
# any dependency from upgrading it (which would pull a multi-GB CUDA build).
$(STAMP): pyproject.toml $(wildcard plugins/*/pyproject.toml)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet torch==2.13.0 -e ".[dev]" $(foreach p,$(wildcard plugins/*/pyproject.toml),-e $(dir $(p)))
	touch $(STAMP)

run: setup
	$(BIN)/hetrec-train $(ARGS)

test: setup
	$(BIN)/python -m pytest -q $(ARGS)
	$(BIN)/lint-imports

test-all: setup
	$(BIN)/python -m pytest -q -m "" $(ARGS)

clean:
	rm -rf $(VENV) .hetrec_cache outputs multirun
