# Set-up and checks. `make run` and `make test` are the two README commands; `.ci/run` calls `make test`.
# The benchmarks are scripts with their own options and data (README, "Evaluation, baselines and benchmarks").
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.hetrec-installed

.PHONY: setup run test test-all lint clean

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

# the tests, then the lint (a failing test stops before it)
test: setup
	$(BIN)/python -m pytest -q $(ARGS)
	$(MAKE) --no-print-directory lint

# ruff (rules in pyproject's [tool.ruff]) and the import layers (pyproject's [tool.importlinter])
lint: setup
	$(BIN)/ruff check hetrec tests benchmarks plugins conf
	$(BIN)/lint-imports

test-all: setup
	$(BIN)/python -m pytest -q -m "" $(ARGS)

clean:
	rm -rf $(VENV) .hetrec_cache outputs multirun
