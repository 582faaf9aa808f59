# Two commands matter: `make demo` (set up + run the whole pipeline on demo data) and
# `make test` (set up + run every test). Everything else is a convenience.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
# What `make setup` installs: the embedded default only (DuckDB, dbt-duckdb, Dagster, GX); `make test`
# and `make bench` add the test tools, `make test` the Spark, Celery and BI-app paths whose tests it runs,
# and `make bi` the BI app (Streamlit).
comma := ,
EXTRAS ?= $(if $(filter test,$(MAKECMDGOALS)),test$(comma)spark$(comma)celery$(comma)bi,$(if $(filter bench,$(MAKECMDGOALS)),test,$(if $(filter bi,$(MAKECMDGOALS)),bi)))
STAMP := $(VENV)/.installed$(if $(EXTRAS),-$(subst $(comma),-,$(EXTRAS)))
PORT ?= 3000
BI_PORT ?= 8501

# Run history of `make dev` / `make demo`; a test may point it elsewhere.
DAGSTER_HOME ?= $(CURDIR)/.dagster
export DAGSTER_HOME
export PATH := $(BIN):$(PATH)
# The build machines set PYTHONDONTWRITEBYTECODE=1: compile at install or imports are twice as slow.
export UV_COMPILE_BYTECODE := 1
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
# Great Expectations imports PySpark when it is installed (the Spark target); PySpark 4.2 then warns about
# pandas 3 on every start, though nothing of the demo, the UI or the docs runs on Spark.
demo dev docs: export PYTHONWARNINGS := ignore:PySpark does not yet fully support pandas:FutureWarning

.PHONY: setup demo test dev docs bi contracts browser redis clean bench

setup: $(STAMP) $(DAGSTER_HOME)/dagster.yaml

# uv installs the pinned set in seconds; it is bootstrapped with pip when missing.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m uv --version >/dev/null 2>&1 || $(BIN)/python -m pip install -qq uv
	$(BIN)/python -m uv pip install --python $(BIN)/python --quiet -e '.$(if $(EXTRAS),[$(EXTRAS)])'
	@touch $@ $(VENV)/.installed  # an install with extras holds the base install too: `make dev` after `make test` installs nothing

$(DAGSTER_HOME)/dagster.yaml: config/dagster.yaml
	@mkdir -p $(DAGSTER_HOME)
	cp config/dagster.yaml $@

# `make demo FAULTS=1`: demo exports with SOP breaches (docs/faults.md): failing gates, blocked marts.
demo: setup
	$(BIN)/kpi demo$(if $(FAULTS), --faults$(if $(filter 1 yes true,$(FAULTS)),, $(FAULTS)))

# `make bench SCALE=5 DAYS=365`: pipeline vs DuckDB alone vs pandas, reports/bench/bench_<scale>.md (README: Benchmark).
bench: setup
	$(BIN)/kpi bench --scale $(or $(SCALE),1) --days $(or $(DAYS),90) $(if $(INCREMENTAL_CMD),--incremental-cmd "$(INCREMENTAL_CMD)")

# The test files run side by side, one pytest-xdist worker per core (a file's tests stay on one worker, so a
# module's shared world is built once), handed out longest first in the order tests/conftest.py sorts them
# (--no-loadscope-reorder: not by test count); TEST_WORKERS=0 runs them in this process. The 30 slowest are listed.
TEST_WORKERS ?= $(shell nproc 2>/dev/null || echo 2)
# The tests' worlds have fixed dates (2026): the partitions must not start on the first day of a demo
# left in data/landing (pipelines/partitions.py). The browser test's `make dev` drops this setting.
test: setup browser redis
	KPI_PARTITIONS_START=2024-01-01 $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder --durations=30

# SIGTERM or Ctrl-C: dagster dev gets an interrupt and DEV_GRACE seconds to stop; what is left of its
# process group (a webserver waiting on an open browser tab, code servers) is then killed. `set -m`:
# the server in a process group of its own, and not started with SIGINT ignored as a background job.
DEV_GRACE ?= 10
dev: setup
	@set -m; trap 'kill -INT $$dev 2>/dev/null; for _ in $$(seq $$(( $(DEV_GRACE) * 4 ))); do kill -0 $$dev 2>/dev/null || break; sleep 0.25; done; \
	       kill -KILL -- -$$dev 2>/dev/null; exit 0' TERM INT; \
	$(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p $(PORT) & dev=$$!; wait $$dev

docs: setup
	$(BIN)/kpi docs --port $(or $(DOCS_PORT),8080)

# The browser tests drive Debian's chromium (a registry package; no browser download).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then echo "installing Debian's chromium for the browser tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium is not installed: the browser tests will be skipped (sudo apt-get install chromium)"; fi; }

# The Celery executor test starts Debian's redis-server as its broker (a registry package). Installed with
# apt it is not started as a service where policy-rc.d forbids it (containers); the test runs its own anyway.
redis:
	@command -v redis-server >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then echo "installing Debian's redis-server for the Celery executor test"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server >/dev/null; \
	  else echo "redis-server is not installed: the Celery executor test will be skipped (sudo apt-get install redis-server)"; fi; }

# The BI app on loopback (pipelines/bi/, docs/bi_connection_guide.md): reads the serving snapshot
# read-only; its settings (no usage statistics, nothing fetched) in pipelines/bi/.streamlit/config.toml.
bi: setup
	$(BIN)/streamlit run pipelines/bi/app.py --server.port $(BI_PORT)

contracts: setup
	$(BIN)/kpi contracts

clean:
	rm -rf data .dagster dbt_project/target dbt_project/logs
