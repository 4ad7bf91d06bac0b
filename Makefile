# `make demo` and `make test` each create .venv, install what they need, and run.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean

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

test: lint
	$(PY) -m pytest

bench: $(STAMP)
	$(PY) bench/inproc.py

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache .pytest_cache
