# `make run` and `make test` do all set-up themselves on a fresh machine with Python 3.11+.
# One virtual environment: `make run` installs what the main job needs; `make test` adds the test tools, the
# DuckLake extensions, the docs builder and the DuckDB shell to it. Each step is marked done by a stamp in .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.run-installed
TEST_STAMP := $(VENV)/.test-installed
DOCS_STAMP := $(VENV)/.docs-installed

.PHONY: run test lint docs bench install clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit("octracker needs Python 3.11 or newer, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	@touch $@

$(TEST_STAMP): $(RUN_STAMP)
	$(BIN)/pip install --quiet -e '.[test,lake,docs,cli]'
	@touch $@

$(DOCS_STAMP): $(RUN_STAMP)
	$(BIN)/pip install --quiet -e '.[docs]'
	@touch $@

# A development environment: everything `make test` needs.
install: $(TEST_STAMP)

# Main job: refresh every pipeline over the bundled documents, then summarise series, changes and alerts.
# Offline on purpose: the Eurostat and CBS feeds load their bundled snapshots (pipelines/snapshots/) and are
# reported unreachable; `octracker refresh` (or the scheduler) fetches them live.
run: $(RUN_STAMP)
	OCTRACKER_OFFLINE=1 $(BIN)/octracker refresh
	$(BIN)/octracker summary

# The whole suite on every core (pytest-xdist): each test file runs whole on one worker, so a module's fixtures are
# built once; each worker builds the session's shared warehouses for itself.
test: $(TEST_STAMP)
	$(BIN)/python -m pytest -n auto --dist loadfile

# ruff (lint and format) and mypy, as configured in pyproject.toml.
lint: $(TEST_STAMP)
	$(BIN)/pip install --quiet -e '.[lint]'
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

# The documentation site in site/: the indicator reference regenerated from the catalog, then a strict build
# (a broken link or anchor fails it). Nothing is fetched: the theme is installed with the docs extra.
docs: $(DOCS_STAMP)
	$(BIN)/python scripts/indicator_reference.py
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

# Benchmarks (not part of `make test`): 5-35 minutes on 2 cores, the busier the longer (the first run also generates the tables);
# BENCH_ARGS=--quick for a smoke run.
bench: $(TEST_STAMP)
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python -m benchmarks.run $(BENCH_ARGS)

clean:
	rm -rf $(VENV) site warehouse/*.duckdb warehouse/*.duckdb.wal warehouse/published warehouse/raw
