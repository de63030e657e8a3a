# aerie: `make run` serves the demo, `make test` runs the tests. Each installs what it needs.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

.PHONY: run test venv test-deps browser footage bench clean-var stop-db

$(STAMP): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(TEST_STAMP): $(STAMP) requirements-test.txt requirements-test-nodeps.txt
	$(PY) -m pip install --quiet -r requirements-test.txt
	$(PY) -m pip install --quiet --no-deps -r requirements-test-nodeps.txt
	touch $@

venv: $(STAMP)

# Debian's Chromium drives the browser tests (never a downloaded browser build).
browser:
	@test -x /usr/bin/chromium || { \
	  echo "Installing Debian's chromium for the browser tests"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium fonts-dejavu-core >/dev/null; }

footage: $(STAMP)
	$(PY) -m fixtures.footage

run: $(STAMP) footage
	$(PY) scripts/run.py

# The suite runs on TEST_WORKERS processes (pytest-xdist), each with its own test database and
# Redis database; the wall time of the run is printed at the end.
TEST_WORKERS ?= 2
test: $(TEST_STAMP) browser
	$(PY) -m fixtures.footage bikes
	@start=$$(date +%s); \
	$(PY) -m config.embedded run -- $(PY) -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS); status=$$?; \
	echo "make test: pytest took $$(( $$(date +%s) - start )) s of wall time on $(TEST_WORKERS) workers"; \
	exit $$status

bench: $(STAMP) footage
	for b in bench/[!_]*.py; do $(PY) -m config.embedded run -- $(PY) $$b || exit 1; done

stop-db: $(STAMP)
	$(PY) -m config.embedded stop

clean-var: stop-db
	rm -rf var
