# Two commands on a fresh machine: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
MUNTADA := $(BIN)/muntada
export MUNTADA_DATA_DIR ?= $(CURDIR)/data

.PHONY: run test lint install install-test forms-render bench clean docs screenshots

# Two stamps: serving needs the package alone; the test tools (pytest, ruff, Playwright...) come
# with the first `make test` (or lint, bench, screenshots), even after a `make run`.
$(BIN)/pip:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/installed: setup.cfg pyproject.toml | $(BIN)/pip
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/installed-test: setup.cfg pyproject.toml | $(BIN)/pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@ $(VENV)/installed

install: $(VENV)/installed

install-test: $(VENV)/installed-test

run: install
	$(MUNTADA) db upgrade
	$(MUNTADA) forms load-programme
	$(MUNTADA) app-users create officer --if-missing
	@echo
	@echo "Web users: create the first administrator with"
	@echo "  $(MUNTADA) users create admin --role administrator --personal-data"
	@echo "then sign in at http://127.0.0.1:5000/login"
	@echo
	$(MUNTADA) serve --host 127.0.0.1 --port 5000

# Two workers (pytest-xdist), one per core: much of a test's time is spent waiting on a server,
# PostgreSQL or a slowed link; tests/conftest.py keeps each module on one worker.
test: install-test
	$(BIN)/pytest -n 2 --dist loadscope

lint: install-test
	$(BIN)/ruff check forms sync server tests bench

# Re-render the text beside each programme XLSForm after editing the .xlsx in Excel.
forms-render: install
	$(BIN)/python -m forms.rendering --write

bench: install-test
	$(BIN)/python bench/forms.py
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/cases.py
	$(BIN)/python bench/field_office.py
	$(BIN)/python bench/encryption.py

# The README's pictures of the pages, taken by the browser tests (needs /usr/bin/chromium).
screenshots: install-test
	MUNTADA_SCREENSHOTS=docs/screenshots $(BIN)/pytest -q tests/e2e/browser -k sqlite

clean:
	rm -rf $(VENV) build *.egg-info

docs: install
	$(BIN)/python -m server.surfaces.cli.readme
