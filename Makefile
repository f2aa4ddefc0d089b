# CryptoViz: the two commands users need are `make demo` and `make test`.
# Both set everything up from nothing: uv (from PyPI) into var/tools, the locked
# environment into .venv with the machine's python3 (3.11), and the pinned JVM parts
# (Apache Kafka, Spark's Kafka connector) with Maven into var/jars.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := var/tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
JARS := var/jars
MVN := mvn --batch-mode --quiet -Dmaven.repo.local=$(CURDIR)/var/maven

export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)
export DO_NOT_TRACK := 1

.PHONY: setup jars demo demo-once test lint format stop clean docs browser

$(UV):
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --target $(TOOLS) uv==$(UV_VERSION)

# One bundle of jars per jvm/<name>/pom.xml, fetched once (then offline) into var/jars/<name>.
$(JARS)/%/.fetched: jvm/%/pom.xml
	rm -rf $(JARS)/$*
	$(MVN) -f $< dependency:copy-dependencies -DincludeScope=runtime \
		-DoutputDirectory=$(CURDIR)/$(JARS)/$*
	touch $@

## jars: Apache Kafka, Spark's Kafka connector and Delta Lake from Maven Central (Java 17 + Maven)
jars: $(JARS)/kafka/.fetched $(JARS)/spark-kafka/.fetched $(JARS)/delta/.fetched

## setup: create .venv from uv.lock and fetch the jars (idempotent, fast when nothing changed)
setup: $(UV) jars
	$(UV) sync --frozen --python $(PYTHON)
	$(BIN)/python -m cryptoviz_assets.analytics.dbt  # the dbt manifest Dagster loads (dbt parse, offline)

## demo: start the broker, run the offline demo pipeline, start dagster dev on :3000
demo: setup
	$(BIN)/cryptoviz demo

## demo-once: the same pipeline, run to completion without the UI
demo-once: setup
	$(BIN)/cryptoviz demo --no-ui

## browser: headless Chromium from Debian's packages for the browser tests (no browser download)
browser:
	command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)

## test: lint and type-check, then the whole test suite
test: setup lint browser
	$(BIN)/pytest

## lint: ruff (lint + format check), mypy, and sqlfluff on the dbt models (compiled in memory)
lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	CRYPTOVIZ_DBT_DUCKDB_PATH=:memory: $(BIN)/sqlfluff lint dbt_project

## format: apply ruff's fixes and formatting
format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## docs: generate the dbt docs offline and serve them on http://127.0.0.1:8080
docs: setup
	$(BIN)/cryptoviz docs --port $${DOCS_PORT:-8080}

## stop: stop every process the project started (by PID file)
stop:
	@if [ -x $(BIN)/cryptoviz ]; then $(BIN)/cryptoviz stop; else echo "nothing to stop (no .venv)"; fi

## clean: stop everything and delete local state (broker data, lake, warehouse, Dagster home)
clean: stop
	rm -rf var/broker var/lake var/warehouse var/dagster var/checkpoints var/state var/run
