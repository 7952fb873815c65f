# One entry point for newcomers and CI: `make demo`, `make test`.
PYTHON ?= python3.12
VENV := .venv
WORKDIR ?= workdir/demo

.PHONY: setup setup-test demo test lint

setup: $(VENV)/.installed
setup-test: $(VENV)/.installed-test

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --upgrade pip

$(VENV)/.installed: $(VENV)/bin/python pyproject.toml
	$(VENV)/bin/pip install -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/bin/python pyproject.toml
	$(VENV)/bin/pip install -e '.[test]'
	touch $@ $(VENV)/.installed

demo: setup
	$(VENV)/bin/python run.py --config configs/demo.py --workdir $(WORKDIR)

lint: setup-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: lint
	$(VENV)/bin/python -m pytest -n 2 --durations=15 tests
