# `make run` and `make test` do all set-up themselves on a fresh machine with Python 3.11+.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench install clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("octracker needs Python 3.11 or newer, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,lake]'
	@touch $(STAMP)

install: $(STAMP)

# Main job: refresh every pipeline over the bundled documents, then summarise series, changes and alerts.
run: $(STAMP)
	$(BIN)/octracker refresh
	$(BIN)/octracker summary

test: $(STAMP)
	$(BIN)/python -m pytest

# Benchmarks (not part of `make test`): 2.5-6 minutes on 2 cores (the first run also generates the tables);
# BENCH_ARGS=--quick for a smoke run.
bench: $(STAMP)
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python -m benchmarks.run $(BENCH_ARGS)

clean:
	rm -rf $(VENV) warehouse/*.duckdb warehouse/*.duckdb.wal warehouse/published warehouse/raw
