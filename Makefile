# aerie: `make run` serves the demo, `make test` runs the tests, `make mutation` mutation-tests the
# pure core. Each installs what it needs.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
MUTATION_STAMP := $(VENV)/.installed-mutation

.PHONY: run test venv test-deps browser pgbouncer footage bench mutation clean-var stop-db sbom

$(STAMP): requirements.txt requirements-nodeps.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -r requirements-nodeps.txt
	touch $@

$(TEST_STAMP): $(STAMP) requirements-test.txt requirements-test-nodeps.txt
	$(PY) -m pip install --quiet -r requirements-test.txt
	$(PY) -m pip install --quiet --no-deps -r requirements-test-nodeps.txt
	@# a venv made before datumaro went --no-deps may hold opencv-python-headless: it would shadow
	@# the contrib build's cv2 (CSRT, HOG), so it goes and the contrib build is put back whole
	@if $(PY) -m pip show -q opencv-python-headless 2>/dev/null; then \
	  $(PY) -m pip uninstall -q -y opencv-python-headless && \
	  $(PY) -m pip install --quiet --force-reinstall --no-deps -r requirements.txt; fi
	touch $@

$(MUTATION_STAMP): $(TEST_STAMP) requirements-mutation.txt
	$(PY) -m pip install --quiet -r requirements-mutation.txt
	touch $@

venv: $(STAMP)

# Debian's Chromium drives the browser tests (never a downloaded browser build).
browser:
	@test -x /usr/bin/chromium || { \
	  echo "Installing Debian's chromium for the browser tests"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium fonts-dejavu-core >/dev/null; }

# Debian's PgBouncer: the multi-machine test (tests/test_multi_machine.py) puts it in front of PostgreSQL.
pgbouncer:
	@test -x /usr/sbin/pgbouncer || { \
	  echo "Installing Debian's pgbouncer for the multi-machine test"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq pgbouncer >/dev/null; }

footage: $(STAMP)
	$(PY) -m fixtures.footage
	$(PY) -m fixtures.drone

run: $(STAMP) footage
	$(PY) scripts/run.py

# The CycloneDX SBOM of this checkout as it runs (packages of .venv, the git commit, the PostgreSQL
# server), kept and signed by the installation: SBOM_OUT and SBOM_OUT.sig.
SBOM_OUT ?= aerie-sbom.cdx.json
sbom: $(STAMP)
	$(PY) -m config.embedded run -- sh -c '$(PY) manage.py migrate --noinput >/dev/null && $(PY) manage.py sbom --out $(SBOM_OUT)'

# The suite runs on TEST_WORKERS processes (pytest-xdist), each with its own test database and
# Redis database; the wall time of the run is printed at the end. `--dist loadscope` hands each
# worker whole modules: a module fixture (the demo, the permission world, propagation's clip) is
# set up once per run, where `load` split a module over both workers and set it up again each time
# another module's test had run in between. (`loadgroup` would do it per marked module, but
# pytest-xdist 3.8 cannot rename test ids under pytest 9 and ignores its `xdist_group` marks.)
TEST_WORKERS ?= 2
test: $(TEST_STAMP) browser pgbouncer
	$(PY) -m fixtures.footage bikes
	@start=$$(date +%s); \
	$(PY) -m config.embedded run -- $(PY) -m pytest -n $(TEST_WORKERS) --dist loadscope $(PYTEST_ARGS); status=$$?; \
	echo "make test: pytest took $$(( $$(date +%s) - start )) s of wall time on $(TEST_WORKERS) workers"; \
	exit $$status

# Mutation testing of the pure core (agreement, consensus, protection rules and days, reveal
# tokens, sampling strategies, the audit chain's hashing and link check, gold's `due`): mutmut
# mutates the files that pyproject.toml's [tool.mutmut] names and runs the fast tests it lists,
# none of which touches a database (DATABASE_URL points at nothing, so that importing the settings
# starts no embedded server and a test that tried would fail). Every run starts afresh (mutmut
# would keep earlier verdicts for code that did not change, even when the tests did). One thread
# per BLAS/OpenMP pool: mutmut forks a worker per mutant, and a pool the parent started hangs the
# child. Prints `BENCH mutation_score=<percent>` and one `BENCH mutation_score_<module>=` per
# file, where score = killed / all mutants made: survived, untested ("no tests") and timed-out
# mutants all count against it (scripts/mutation_score.py). Fails below MUTATION_MIN percent.
# Not part of `make test`.
MUTATION_MIN ?= 90
MUTATION_JOBS ?= $(shell nproc 2>/dev/null || echo 2)
mutation: $(MUTATION_STAMP)
	rm -rf mutants && mkdir mutants
	@echo "mutmut run (log: mutants/mutmut-run.log)"
	env DATABASE_URL=postgres://nobody@127.0.0.1:1/mutation-tests-use-no-database AERIE_SECRET_KEY=mutation-tests \
	    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 \
	    $(VENV)/bin/mutmut run --max-children $(MUTATION_JOBS) >mutants/mutmut-run.log 2>&1 \
	  || { tail -c 4000 mutants/mutmut-run.log | tr '\r' '\n' | tail -40; exit 1; }
	@tail -c 400 mutants/mutmut-run.log | tr '\r' '\n' | grep -v '^$$' | tail -3
	$(PY) scripts/mutation_score.py --fail-under $(MUTATION_MIN)

bench: $(STAMP) footage
	for b in bench/[!_]*.py; do $(PY) -m config.embedded run -- $(PY) $$b || exit 1; done

stop-db: $(STAMP)
	$(PY) -m config.embedded stop

clean-var: stop-db
	rm -rf var
