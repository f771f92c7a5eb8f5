# Two commands for a fresh machine: `make demo` and `make test`. Everything else is set up from here.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HASH := $(shell cksum pyproject.toml | cut -d' ' -f1)
BASE := $(VENV)/.base-$(HASH)
FULL := $(VENV)/.full-$(HASH)

.PHONY: demo test test-fast lint bench bench-quick clean install system-deps

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# The library and its command line.
$(BASE): pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet -e .
	@touch $(BASE)

# Plus what the tests and benchmarks use: pytest, hypothesis, linters and PySpark (the [spark] extra).
$(FULL): $(BASE)
	$(PY) -m pip install --quiet -e '.[dev,spark]'
	@touch $(FULL)

install: $(BASE)

# PostgreSQL server binaries and a Java runtime (for the Spark tests), from Debian when missing.
system-deps:
	@bash scripts/system-deps.sh

# The terminal demo, then the dashboard on a generated store with a year of history (Ctrl-C stops it).
demo: $(BASE)
	$(VENV)/bin/leadscore demo --serve --dir leadscore-demo

test: $(FULL) system-deps
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/mypy
	$(VENV)/bin/pytest -q -n 2 --dist loadgroup

test-fast: $(FULL)
	$(VENV)/bin/pytest -q -m "not integration and not slow"

lint: $(FULL)
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/mypy

bench: $(FULL) system-deps
	$(PY) benchmarks/run.py --full

bench-quick: $(FULL) system-deps
	$(PY) benchmarks/run.py --quick

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache
