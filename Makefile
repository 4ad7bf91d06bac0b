# `make demo` and `make test` each create .venv, install the lock (requirements/dev.lock, every
# package pinned with its hashes) and run. docs/development.md says when to run which target.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
STAMP := $(VENV)/.installed
LOCK := requirements/dev.lock
UV_LOCK := requirements/installer.lock
# The lowest Python that setup.cfg's python_requires admits (">= 3.10" gives 3.10): the lock is
# resolved for it and every newer one, and `make floor` installs it there when this machine has it.
FLOOR := $(shell sed -n 's/^python_requires *= *>= *\([0-9.]*\).*/\1/p' setup.cfg)
FLOOR_VENV := .venv-floor
FLOOR_STAMP := $(FLOOR_VENV)/.installed

.PHONY: demo test lint bench fuzz clean etcd browser docs-screenshot lock test-latest test-oldest dist floor test-floor

# Installs the lock with hashes required: first the pinned uv (by the interpreter's own pip, with
# hashes), then every package of the lock (uv pip sync also removes what the lock does not hold),
# then servicewire itself, editable, built by the lock's setuptools (no build isolation: nothing
# unpinned is fetched). The dry run resolves the lock once more without installing anything:
# sync installs without reading the packages' metadata, and the resolution caches it, from
# which tests/test_wheel.py resolves the wheel's dependencies offline. Re-runs whenever the
# lock or the package metadata changes. The servicewire.egg-info that the editable build
# leaves in the checkout goes: on sys.path (the current folder) before the venv, its entry
# points would stand for the venv's and go stale with the next change of setup.cfg.
$(STAMP): $(LOCK) $(UV_LOCK) setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --require-hashes --no-deps -r $(UV_LOCK)
	$(UV) pip sync -q --python $(PY) --require-hashes $(LOCK)
	$(UV) pip install -q --dry-run --reinstall --python $(PY) --require-hashes -r $(LOCK)
	$(UV) pip install -q --python $(PY) --no-deps --no-build-isolation -e .
	rm -rf servicewire.egg-info
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m samples.hello.demo

lint: $(STAMP)
	$(VENV)/bin/ruff check container channels registry samples tests bench
	$(VENV)/bin/mypy

# The etcd registry's tests need a real etcd: install Debian's etcd-server when missing and
# root (CI); elsewhere say how, and those tests skip with the same message.
etcd:
	@command -v etcd >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-server >/dev/null; \
	  else \
	    echo "etcd not found: install it (apt-get install etcd-server) to run the etcd tests"; \
	  fi; }

# The dashboard's browser test needs Debian's chromium (headless, driven over the DevTools
# protocol; no browser download): installed when missing and root (CI); elsewhere say how, and
# that test skips with the same message.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "chromium not found: install it (apt-get install chromium) to run the dashboard's browser test"; \
	  fi; }

# The lock installed for the lowest Python (setup.cfg's floor) into .venv-floor, when
# requirements/floor_python.py finds an interpreter of it; otherwise it says why and goes on
# (tests/test_wheel.py's floor test then skips, saying the same). Besides giving
# `make test-floor` its venv, this fills uv's cache with that Python's wheels, from which the
# wheel test installs offline.
floor: $(STAMP)
	@python="$$($(PY) requirements/floor_python.py)" || exit 0; \
	$(MAKE) --no-print-directory $(FLOOR_STAMP) FLOOR_PYTHON="$$python"

$(FLOOR_STAMP): $(LOCK) $(UV_LOCK) setup.cfg pyproject.toml
	rm -rf $(FLOOR_VENV)
	$(FLOOR_PYTHON) -m venv --without-pip $(FLOOR_VENV)
	$(UV) pip sync -q --python $(FLOOR_VENV)/bin/python --require-hashes $(LOCK)
	$(UV) pip install -q --dry-run --reinstall --python $(FLOOR_VENV)/bin/python --require-hashes -r $(LOCK)
	$(UV) pip install -q --python $(FLOOR_VENV)/bin/python --no-deps --no-build-isolation -e .
	rm -rf servicewire.egg-info
	touch $(FLOOR_STAMP)

test: lint etcd browser floor
	$(PY) -m pytest

# The whole suite on the lowest Python, in .venv-floor (the lock): before a release, after
# using a newer Python's feature. `make test` checks that Python only through the wheel test.
test-floor: floor etcd browser
	@test -f $(FLOOR_STAMP) || { $(PY) requirements/floor_python.py; exit 1; }
	$(FLOOR_VENV)/bin/python -m pytest -p no:cacheprovider

# Refreshes docs/cli.png: the screenshot the dashboard's browser test takes.
docs-screenshot: $(STAMP) browser
	SERVICEWIRE_DASHBOARD_PNG=docs/cli.png $(PY) -m pytest -q -p no:cacheprovider tests/e2e/test_dashboard.py -k chromium

# Refreshes the lock: the newest versions that setup.cfg's ranges and requirements/dev.in allow,
# for every platform and Python that setup.cfg's python_requires admits (--universal); then the
# pinned installer of requirements/installer.lock, held to the uv version of the new lock.
lock: $(STAMP)
	$(UV) pip compile -q --universal --python-version $(FLOOR) --upgrade --generate-hashes --extra test \
	  --format requirements.txt -o $(LOCK) setup.cfg requirements/dev.in
	$(UV) pip compile -q --universal --python-version $(FLOOR) --upgrade --generate-hashes -c $(LOCK) \
	  --format requirements.txt -o $(UV_LOCK) requirements/uv.in

# The whole suite in a fresh venv on the newest (test-latest) or the lowest (test-oldest) versions
# that setup.cfg's ranges allow (lowest-direct: each range's lowest release; what those need, at
# its newest). Resolved afresh from the index; prints which versions differ from the lock. The
# lock's uv goes into that venv too, by its pip with hashes as into .venv: tests/test_wheel.py
# installs the built wheel with it.
define range_test
	rm -rf $(1)
	$(PYTHON) -m venv $(1)
	$(UV) pip compile -q --refresh --resolution $(2) --python $(1)/bin/python --extra test \
	  -o $(1)/requirements.txt setup.cfg
	$(UV) pip install -q --python $(1)/bin/python -r $(1)/requirements.txt
	$(1)/bin/python -m pip install -q --require-hashes --no-deps -r $(UV_LOCK)
	$(UV) pip install -q --python $(1)/bin/python --no-deps --no-build-isolation -e .
	rm -rf servicewire.egg-info
	$(PY) requirements/differ.py $(LOCK) $(1)/requirements.txt
	$(1)/bin/python -m pytest -p no:cacheprovider
endef

test-latest: $(STAMP) etcd
	$(call range_test,.venv-latest,highest)

test-oldest: $(STAMP) etcd
	$(call range_test,.venv-oldest,lowest-direct)

# An sdist, then a wheel built from that sdist (so the sdist is known to be complete), in dist/;
# by the lock's setuptools (no build isolation, no network), both checked by twine.
dist: $(STAMP)
	rm -rf dist
	$(PY) -m build --no-isolation --outdir dist .
	rm -rf servicewire.egg-info
	$(VENV)/bin/twine check --strict dist/*

bench: $(STAMP)
	$(PY) bench/inproc.py

# The fuzzing properties of tests/security/test_fuzz.py with 20,000 examples each (minutes;
# make test runs them with 150).
fuzz: $(STAMP)
	HYPOTHESIS_PROFILE=fuzz $(PY) -m pytest -q -p no:cacheprovider tests/security/test_fuzz.py

clean:
	rm -rf $(VENV) $(FLOOR_VENV) .venv-latest .venv-oldest build dist *.egg-info .mypy_cache .ruff_cache .pytest_cache .hypothesis
