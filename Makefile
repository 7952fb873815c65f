# One entry point for newcomers and CI: `make demo`, `make test`.
PYTHON ?= python3.12
VENV := .venv
DATASETS_VENV := .venv-datasets
WORKDIR ?= workdir/demo

.PHONY: setup setup-test demo test test-datasets lint

setup: $(VENV)/.installed
setup-test: $(VENV)/.installed-test

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --upgrade pip

# Both distributions, editable: the builders (datasets/, dfer-datasets) and
# audfer-jax, which depends on them.
$(VENV)/.installed: $(VENV)/bin/python pyproject.toml datasets/pyproject.toml
	$(VENV)/bin/pip install -e ./datasets -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/bin/python pyproject.toml datasets/pyproject.toml
	$(VENV)/bin/pip install -e ./datasets -e '.[test]'
	touch $@ $(VENV)/.installed

# The builders as another project installs them: a fresh environment with only
# the datasets distribution and its test extra (not editable, so its data
# files must ship).
$(DATASETS_VENV)/.installed: datasets/pyproject.toml
	rm -rf $(DATASETS_VENV)
	$(PYTHON) -m venv $(DATASETS_VENV)
	$(DATASETS_VENV)/bin/pip install './datasets[test]'
	touch $@

demo: setup
	$(VENV)/bin/python run.py --config configs/demo.py --workdir $(WORKDIR)

lint: setup-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# The builders' own tests (datasets/tests), with no JAX importable.
test-datasets: $(DATASETS_VENV)/.installed
	$(DATASETS_VENV)/bin/pip install --quiet --no-deps --force-reinstall ./datasets
	cd datasets && ../$(DATASETS_VENV)/bin/pytest

test: lint test-datasets
	$(VENV)/bin/python -m pytest -n 2 --dist loadscope --durations=15 tests
