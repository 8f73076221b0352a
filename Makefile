# The two commands a new user needs: `make demo` and `make test`.
# Everything installs into .venv from the committed lock file (uv.lock).

PYTHON ?= python3
VENV := .venv
UV_VERSION := 0.13.8
UV := $(VENV)/bin/uv
SYNCED := $(VENV)/.synced
REFERENCES_VENV := $(CURDIR)/.venv-references
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: install demo test test-fast lint bench bench-scale evaluate clean deploy destroy costs

install: $(SYNCED)

$(UV):
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(SYNCED): pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --python $(VENV)/bin/python
	@touch $@

demo: install  ## generate sample readings, ingest, build on DuckDB, print the summary
	$(VENV)/bin/energy demo

test: install  ## pytest, which also runs dbt build (models, data tests, unit tests)
	$(VENV)/bin/pytest

test-fast: install  ## the unit tier only (no engine, no server): pytest -m unit
	$(VENV)/bin/pytest -m unit -q

lint: install  ## ruff (the Python: pyproject.toml) and sqlfluff (the dbt project's SQL, compiled by dbt: .sqlfluff)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	# dbt compiles the models against a throwaway DuckDB warehouse, never the workspace's
	lint_home=$$(mktemp -d) && ENERGY_HOME=$$lint_home $(VENV)/bin/sqlfluff lint dbt_project/models dbt_project/tests/singular \
		&& rm -rf $$lint_home

clean:
	rm -rf workspace .pytest_cache

bench: install  ## benchmarks; writes BENCHMARKS.md (BENCH_ROWS, BENCH_RUNS to size them)
	$(VENV)/bin/python -m bench.run

bench-scale: install  ## the DuckDB scaling curve to 105 million readings (about half an hour); writes its section of BENCHMARKS.md
	$(VENV)/bin/python -m bench.scale

evaluate: install  ## anomaly precision/recall and forecast accuracy (UCI household, a Swiss office building); writes EVALUATION.md
	# the evaluation's data package too (the `evaluate` group of pyproject.toml)
	$(UV) sync --frozen --group evaluate --python $(VENV)/bin/python
	# the reference forecasters in their own environment (statsforecast needs pandas < 3);
	# Prophet when it installs cleanly from the lock file, the others without it otherwise
	UV_PROJECT_ENVIRONMENT=$(REFERENCES_VENV) $(UV) sync --frozen --project bench/references --group prophet --python $(PYTHON) \
		|| UV_PROJECT_ENVIRONMENT=$(REFERENCES_VENV) $(UV) sync --frozen --project bench/references --python $(PYTHON)
	$(VENV)/bin/python -m bench.evaluate

deploy: install  ## build and push the Lambda image, deploy the AWS stack, print its outputs (ARGS="--alarm-email you@example.com")
	$(VENV)/bin/python -m infra.deploy deploy $(ARGS)

destroy: install  ## delete the AWS stack; the data buckets stay unless ARGS=--delete-data
	$(VENV)/bin/python -m infra.deploy destroy $(ARGS)

costs: install  ## the monthly AWS cost model (infra/cost_model.py)
	$(VENV)/bin/python -m infra.cost_model
