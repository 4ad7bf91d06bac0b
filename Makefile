# `make demo` and `make test` each create .venv, install the lock (requirements/dev.txt, every
# package pinned with its hashes) and run. docs/development.md says when to run which target.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
STAMP := $(VENV)/.installed
LOCK := requirements/dev.txt
UV_LOCK := requirements/uv.txt

.PHONY: demo test lint bench fuzz clean etcd browser docs-screenshot lock test-latest test-oldest dist

# Installs the lock with hashes required: first the pinned uv (by the interpreter's own pip, with
# hashes), then every package of the lock (uv pip sync also removes what the lock does not hold),
# then servicewire itself, editable, built by the lock's setuptools (no build isolation: nothing
# unpinned is fetched). Re-runs whenever the lock or the package metadata changes; a
# servicewire.egg-info that a build left in the checkout goes first: on sys.path before the
# venv, its stale entry points would hide the new ones.
$(STAMP): $(LOCK) $(UV_LOCK) setup.cfg pyproject.toml
	rm -rf servicewire.egg-info
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --require-hashes --no-deps -r $(UV_LOCK)
	$(UV) pip sync -q --python $(PY) --require-hashes $(LOCK)
	$(UV) pip install -q --python $(PY) --no-deps --no-build-isolation -e .
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

test: lint etcd browser
	$(PY) -m pytest

# Refreshes docs/cli.png: the screenshot the dashboard's browser test takes.
docs-screenshot: $(STAMP) browser
	SERVICEWIRE_DASHBOARD_PNG=docs/cli.png $(PY) -m pytest -q -p no:cacheprovider tests/e2e/test_dashboard.py -k chromium

# Refreshes the lock: the newest versions that setup.cfg's ranges and requirements/dev.in allow,
# for every platform and Python that setup.cfg's python_requires admits (--universal); then the
# pinned installer of requirements/uv.txt, held to the uv version of the new lock.
lock: $(STAMP)
	$(UV) pip compile -q --universal --upgrade --generate-hashes --extra test \
	  -o $(LOCK) setup.cfg requirements/dev.in
	$(UV) pip compile -q --universal --upgrade --generate-hashes -c $(LOCK) \
	  -o $(UV_LOCK) requirements/uv.in

# The whole suite in a fresh venv on the newest (test-latest) or the lowest (test-oldest) versions
# that setup.cfg's ranges allow (lowest-direct: each range's lowest release; what those need, at
# its newest). Resolved afresh from the index; prints which versions differ from the lock.
define range_test
	rm -rf $(1)
	$(PYTHON) -m venv $(1)
	$(UV) pip compile -q --refresh --resolution $(2) --python $(1)/bin/python --extra test \
	  -o $(1)/requirements.txt setup.cfg
	$(UV) pip install -q --python $(1)/bin/python -r $(1)/requirements.txt
	$(UV) pip install -q --python $(1)/bin/python --no-deps --no-build-isolation -e .
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
	rm -rf $(VENV) .venv-latest .venv-oldest build dist *.egg-info .mypy_cache .ruff_cache .pytest_cache .hypothesis
