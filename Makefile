# `make demo` and `make test` each create .venv, install what they need, and run.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench fuzz clean etcd

$(STAMP): setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
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

test: lint etcd
	$(PY) -m pytest

bench: $(STAMP)
	$(PY) bench/inproc.py

# The fuzzing properties of tests/security/test_fuzz.py with 20,000 examples each (minutes;
# make test runs them with 150).
fuzz: $(STAMP)
	HYPOTHESIS_PROFILE=fuzz $(PY) -m pytest -q -p no:cacheprovider tests/security/test_fuzz.py

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache .pytest_cache .hypothesis
