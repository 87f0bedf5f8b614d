# riskcast: `make demo` runs the platform, `make test` runs the tests. Both set themselves up.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: demo test check bench clean install install-dev browser

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

# The demo's admin key is made once and kept in .riskcast/demo-key; the link signs the browser in.
demo: install  ## run the whole platform on SQLite with simulated sites
	@mkdir -p .riskcast && test -s .riskcast/demo-key || (umask 077 && $(BIN)/python -c \
	  "from riskcast.security.keys import new_key; print(new_key('demo').plaintext)" > .riskcast/demo-key)
	@echo "dashboard, signed in: http://127.0.0.1:$(PORT)/?key=$$(cat .riskcast/demo-key)"
	RISKCAST_ADMIN_KEY=$$(cat .riskcast/demo-key) $(BIN)/riskcast serve --simulate --data-dir .riskcast --port $(PORT)

# The dashboard tests drive Debian's chromium through Playwright (never `playwright install`,
# which downloads a browser this offline machine cannot fetch).
browser:
	@command -v chromium >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get install -y -q chromium >/dev/null 2>&1 || \
	  { $$SUDO apt-get update -q >/dev/null && $$SUDO apt-get install -y -q chromium >/dev/null; }; }

test: install-dev browser  ## install the dev dependencies and chromium, then run the tests
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
