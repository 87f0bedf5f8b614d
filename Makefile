# riskcast: `make demo` runs the platform, `make test` runs the tests. Both set themselves up.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: demo test check bench clean install install-dev

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip wheel

# The stamps re-install when pyproject.toml changes.
# The demo runs every pack and the model registry, so it installs the ml extra too.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[ml]'
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

demo: install  ## run the whole platform on SQLite with simulated sites
	$(BIN)/riskcast serve --simulate --data-dir .riskcast --port $(PORT)

test: install-dev  ## install the dev dependencies and run the tests
	$(BIN)/python -m pytest $(PYTEST_ARGS)

check: install-dev  ## lint and type-check
	$(BIN)/ruff check riskcast tests bench
	$(BIN)/mypy

bench: install-dev  ## run the benchmarks (several minutes; see docs/benchmarks.md)
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/fanout.py
	$(BIN)/python bench/fwi.py

clean:
	rm -rf $(VENV) .riskcast build *.egg-info
