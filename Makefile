# Parlance: `make run` serves the app, `make test` runs the tests.
# `make install` installs exactly the versions (and hashes) in requirements.lock;
# `make lock` refreshes that file from the ranges in pyproject.toml.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=
LOCK := requirements.lock

.PHONY: install lock run test test-js migrate seed check clean

$(STAMP): $(LOCK)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --require-hashes --no-deps -r $(LOCK)
	$(PY) -m pip check
	@touch $(STAMP)

install: $(STAMP)

# Run after changing a range in pyproject.toml, or to take upstream releases on purpose.
lock: install
	$(VENV)/bin/uv pip compile pyproject.toml --extra dev --generate-hashes \
		--python-version 3.11 --universal --upgrade --quiet -o $(LOCK)

migrate: install
	$(PY) manage.py migrate --noinput

seed: migrate
	$(PY) manage.py seed_demo

run: seed
	@echo ""
	@echo "  Parlance is running at http://$(HOST):$(PORT)/  (Ctrl-C to stop)"
	@echo ""
	$(PY) -m daphne -b $(HOST) -p $(PORT) config.asgi:application

# The JavaScript unit tests first (a second or so), then pytest.
# pytest exits 5 when it collects nothing: say so, but don't call it a failure.
test: install test-js
	@$(VENV)/bin/pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; exit 0; fi; exit $$rc

# The page's pure modules, with node's built-in test runner (no bundler, no install).
test-js:
	@command -v node >/dev/null || { echo "node is needed for the JavaScript unit tests"; exit 1; }
	node --test tests/js/

check: install
	$(PY) manage.py check
	$(PY) manage.py makemigrations --check --dry-run

clean:
	rm -rf $(VENV) db.sqlite3 test-db.sqlite3 staticfiles .pytest_cache
