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

# The library, its command line and the extras the README's tour uses after `make demo` (batch, predictive,
# postgres, server); Spark and the test tools come with `make test`.
$(BASE): pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet -e '.[all]'
	@touch $(BASE)

# Plus every extra (batch, predictive, postgres, server, spark) and what the tests and benchmarks use:
# pytest, hypothesis, linters, import-linter.
$(FULL): $(BASE)
	$(PY) -m pip install --quiet -e '.[all,spark,dev]'
	@touch $(FULL)

install: $(BASE)

# PostgreSQL server binaries and a Java runtime (for the Spark tests), from Debian when missing.
system-deps:
	@bash scripts/system-deps.sh

# The terminal demo, then the dashboard on a generated store with a year of history (Ctrl-C stops it).
demo: $(BASE)
	$(VENV)/bin/leadscore demo --serve --dir leadscore-demo

# Everything: lint, types, the import contracts of docs/architecture.md, every test (CI=true: derandomised).
test: $(FULL) system-deps
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports
	$(VENV)/bin/pytest -q -n 2 --dist loadgroup --durations=15

# The quick loop (under a minute on two cores): unit tests and small property tests, no servers.
test-fast: $(FULL)
	HYPOTHESIS_PROFILE=fast $(VENV)/bin/pytest -q -n 2 --dist loadgroup -m "not integration and not slow"

lint: $(FULL)
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

bench: $(FULL) system-deps
	$(PY) benchmarks/run.py --full

bench-quick: $(FULL) system-deps
	$(PY) benchmarks/run.py --quick

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache
