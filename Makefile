# c360 — two commands on a fresh machine:  make run  (the demo on the embedded defaults)  and  make test.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
C360 := $(VENV)/bin/c360
DEMO ?= demo
DEMO_CUSTOMERS ?= 20000
DEMO_SEED ?= 42
PYTEST_ARGS ?= -q
AZURITE_PORT ?= 10000
APT_PACKAGES := unixodbc libsqliteodbc shellcheck chromium

.PHONY: help venv run demo test unit azurite-start azurite-stop system-deps lint typecheck bench func \
        local-settings clean schema

help:
	@echo "make run    - create the environment, generate the demo, run it end to end (DuckDB views)"
	@echo "make test   - create the environment, start Azurite, run the whole test suite, stop Azurite"
	@echo "make bench  - benchmarks against the peers (see bench/README.md)"
	@echo "make func   - run with Azure Functions Core Tools + Azurite, when Core Tools is installed"

$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

venv: $(VENV)/.installed

$(DEMO)/c360.yaml: | $(VENV)/.installed
	$(C360) demo --out $(DEMO) --customers $(DEMO_CUSTOMERS) --seed $(DEMO_SEED)

demo: $(VENV)/.installed
	$(C360) demo --out $(DEMO) --customers $(DEMO_CUSTOMERS) --seed $(DEMO_SEED)

run: $(VENV)/.installed $(DEMO)/c360.yaml
	$(C360) run --lake $(DEMO)/lake --config $(DEMO)/c360.yaml --landing $(DEMO)/landing
	$(C360) sql --lake $(DEMO)/lake "SELECT count(*) AS customers FROM c360.Customer"

node_modules/.package-lock.json: package.json
	npm install --no-audit --no-fund --loglevel=error
	touch $@

system-deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get install -y --no-install-recommends $$missing >/dev/null || \
	    { apt-get update >/dev/null && apt-get install -y --no-install-recommends $$missing >/dev/null; }; \
	  elif command -v sudo >/dev/null; then sudo apt-get install -y --no-install-recommends $$missing; \
	  else echo "missing system packages:$$missing (install them with apt-get)"; exit 1; fi; \
	fi

azurite-start: node_modules/.package-lock.json
	@if (echo > /dev/tcp/127.0.0.1/$(AZURITE_PORT)) 2>/dev/null; then \
	  echo "Azurite (or something) already listens on $(AZURITE_PORT); using it"; \
	else \
	  node_modules/.bin/azurite-blob --silent --inMemoryPersistence --skipApiVersionCheck --loose \
	    --disableTelemetry --blobHost 127.0.0.1 --blobPort $(AZURITE_PORT) > .azurite.log 2>&1 & echo $$! > .azurite.pid; \
	  for i in $$(seq 150); do (echo > /dev/tcp/127.0.0.1/$(AZURITE_PORT)) 2>/dev/null && break; sleep 0.2; done; \
	  (echo > /dev/tcp/127.0.0.1/$(AZURITE_PORT)) 2>/dev/null || { cat .azurite.log; exit 1; }; \
	  echo "Azurite started (pid $$(cat .azurite.pid))"; \
	fi

azurite-stop:
	@if [ -f .azurite.pid ]; then kill $$(cat .azurite.pid) 2>/dev/null || true; rm -f .azurite.pid; \
	  echo "Azurite stopped"; fi

test: system-deps $(VENV)/.installed node_modules/.package-lock.json
	@$(MAKE) --no-print-directory lint typecheck
	@$(MAKE) --no-print-directory azurite-start
	@set +e; C360_TEST_AZURITE=1 $(PY) -m pytest $(PYTEST_ARGS); rc=$$?; \
	  $(MAKE) --no-print-directory azurite-stop; exit $$rc

unit: $(VENV)/.installed
	$(PY) -m pytest -q -m "not azurite and not slow"

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .

typecheck: $(VENV)/.installed
	$(VENV)/bin/mypy shared activities orchestrators local_host c360_cli function_app.py

schema: $(VENV)/.installed
	$(C360) schema --out schemas/c360.schema.json

bench: $(VENV)/.installed
	$(MAKE) -C bench all

local-settings:
	@test -f local.settings.json || cp local.settings.example.json local.settings.json
	@echo "local.settings.json ready"

func: local-settings node_modules/.package-lock.json $(VENV)/.installed
	@if ! command -v func >/dev/null; then \
	  echo "Azure Functions Core Tools (func) is not installed."; \
	  echo "Install it: https://learn.microsoft.com/azure/azure-functions/functions-run-local#install-the-azure-functions-core-tools"; \
	  echo "  e.g. npm install -g azure-functions-core-tools@4 --unsafe-perm true  (Node 20: it installs 4.x)"; \
	  echo "Without it, 'make run' runs the same function app through the local host."; exit 1; fi
	node_modules/.bin/azurite --silent --location .azurite --skipApiVersionCheck --loose --disableTelemetry \
	  > .azurite.log 2>&1 & echo $$! > .azurite.pid; \
	  trap 'kill $$(cat .azurite.pid); rm -f .azurite.pid' EXIT; \
	  . $(VENV)/bin/activate && func start

clean:
	rm -rf $(DEMO) .pytest_cache .azurite .azurite.log
