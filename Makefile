# Every target sets itself up: a fresh clone needs nothing but python3 (>= 3.11).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Two stamps: what running needs (`make run`), and the test tools on top of it (`make test`, `make lint`).
RUN_STAMP := $(VENV)/.installed-run
TEST_STAMP := $(VENV)/.installed-test

.PHONY: setup setup-run chromium run test lint unit oracle clean

$(RUN_STAMP): pyproject.toml setup.py dagflow-airflow.pth
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $(RUN_STAMP)

$(TEST_STAMP): $(RUN_STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(TEST_STAMP)

setup-run: $(RUN_STAMP)

setup: $(TEST_STAMP)

EXAMPLES := example_etl example_branching example_dynamic_mapping example_bash_templating example_retries \
	example_task_groups

# The orchestrator on the embedded default (SQLite in $$DAGFLOW_HOME, default ~/dagflow): migrate,
# record the example DAGs, unpause and trigger them, then run scheduler, workers (and web UI).
run: setup-run
	$(BIN)/dagflow db migrate
	$(BIN)/dagflow dags reserialize
	for dag in $(EXAMPLES); do $(BIN)/dagflow dags unpause $$dag && $(BIN)/dagflow dags trigger $$dag; done
	$(BIN)/dagflow standalone

LINTED := dagflow webui tests bench dags scheduler.py setup.py _dagflow_airflow.py

lint: setup
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)
	$(BIN)/mypy
	$(BIN)/lint-imports

# Debian's Chromium for the browser tests (tests/browser), installed only when it is missing: a test
# tool's download of its own browser fails on our machines. The index is refreshed only if it is stale.
CHROMIUM := /usr/bin/chromium
APT_INSTALL := DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null

$(CHROMIUM):
	$(APT_INSTALL) 2>&1 || { apt-get update -qq && $(APT_INSTALL); }

chromium: $(CHROMIUM)

# The suite on several processes (pytest-xdist): most tests wait on worker processes, daemons and
# brokers, so 4 processes keep a 2-core machine busy. PYTEST_WORKERS=0 runs it in one process.
PYTEST_WORKERS ?= 4

# dagflow's bytecode is written once first: the tests start many hundred Python processes, and where
# the environment says not to write bytecode (PYTHONDONTWRITEBYTECODE) each would compile it again.
unit: setup $(CHROMIUM)
	$(BIN)/python -m compileall -q -j 0 dagflow webui dags scheduler.py
	$(BIN)/pytest -q -n $(PYTEST_WORKERS)

test: lint unit

oracle: setup
	../shared/oracle/check

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
