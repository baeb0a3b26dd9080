# Every target sets itself up: a fresh clone needs nothing but python3 (>= 3.11).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup run test lint unit oracle clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

setup: $(STAMP)

run: setup
	$(BIN)/dagflow dags test example_etl

lint: setup
	$(BIN)/ruff check dagflow webui tests bench dags scheduler.py
	$(BIN)/mypy

unit: setup
	$(BIN)/pytest -q

test: lint unit

oracle: setup
	../shared/oracle/check

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
