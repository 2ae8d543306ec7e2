# The processor's commands. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
STACK := deploy/local/stack.sh

.PHONY: help lock compose-env image image-test config-reference setup stack-up stack-down stack-status stack-reset cluster-up cluster-down cluster-status cluster-reset scale-test topics demo test test-unit test-integration chaos bench eval lint alerts-check format clean

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2}'

# the locked versions (requirements/dev.lock, hashes checked), then the package itself, editable
$(STAMP): pyproject.toml requirements/dev.lock
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet --require-hashes -r requirements/dev.lock
	$(VENV)/bin/pip install --quiet --no-deps -e .
	touch $(STAMP)

UV_COMPILE := $(VENV)/bin/uv pip compile pyproject.toml --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
	--generate-hashes --upgrade --quiet --custom-compile-command 'make lock'

lock: $(STAMP) ## refresh requirements/*.lock from pyproject.toml (newest allowed versions, with hashes)
	$(UV_COMPILE) --no-emit-package scipy --no-emit-package narwhals -o requirements/runtime.lock
	$(UV_COMPILE) --extra train -o requirements/train.lock
	$(UV_COMPILE) --extra dev -o requirements/dev.lock
	$(PY) -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['build-system']['requires']))" \
		| $(subst pyproject.toml,-,$(UV_COMPILE)) -o requirements/build.lock

compose-env: ## write .env for docker compose: random Redis and Grafana passwords (kept if .env exists)
	@if [ -e .env ]; then echo ".env exists: kept"; else \
		umask 077; printf 'REDIS_PASSWORD=%s\nGRAFANA_ADMIN_PASSWORD=%s\n' "$$(openssl rand -hex 24)" "$$(openssl rand -hex 24)" > .env; \
		echo "wrote .env (REDIS_PASSWORD, GRAFANA_ADMIN_PASSWORD)"; fi

IMAGE ?= processor:local
TRAIN_IMAGE ?= processor:train

image: ## build the runtime image ($(IMAGE)) and the training image ($(TRAIN_IMAGE)): docker, else buildah
	bash deploy/image/build.sh "$(IMAGE)" "$(TRAIN_IMAGE)"

image-test: setup stack-up ## build the images, then topics create, simulate, run, audit from them against the local stack
	bash deploy/image/test.sh "$(IMAGE)" "$(TRAIN_IMAGE)"

K8S_VALIDATE := deploy/k8s/validate
K8S_VALIDATE_STAMP := $(K8S_VALIDATE)/node_modules/.installed

# the CRD validator of deploy/k8s (tests/unit/deploy): node from Debian when the machine has none
$(K8S_VALIDATE_STAMP): $(K8S_VALIDATE)/package-lock.json
	command -v npm >/dev/null || (apt-get update -qq && apt-get install -y -qq nodejs npm)
	npm ci --prefix $(K8S_VALIDATE) --no-audit --no-fund --loglevel=error
	touch $(K8S_VALIDATE_STAMP)

setup: $(STAMP) $(K8S_VALIDATE_STAMP) ## create the virtualenv and install the package with dev tools

stack-up: ## start the local Kafka broker, Redis and schema registry (idempotent; returns when all answer)
	bash $(STACK) up

stack-down: ## stop the local Kafka broker, Redis and schema registry
	bash $(STACK) down

stack-status: ## say whether the local Kafka, Redis and schema registry answer
	bash $(STACK) status

stack-reset: ## stop the stack and delete its data
	bash $(STACK) reset

CLUSTER := deploy/local/cluster.sh

cluster-up: ## start a 3-node Kafka (KRaft, RF 3, min ISR 2) and a 6-node Redis Cluster beside the stack
	bash $(CLUSTER) up

cluster-down: ## stop the Kafka and Redis clusters
	bash $(CLUSTER) down

cluster-status: ## say whether every Kafka node and Redis Cluster node answers
	bash $(CLUSTER) status

cluster-reset: ## stop the clusters and delete their data
	bash $(CLUSTER) reset

scale-test: setup cluster-up ## failover under load on the clusters: broker kill -9, Redis master kill -9, rebalance; prints figures
	PYTHONPATH=tests $(PY) -m scale.run

topics: setup stack-up ## create the topics
	$(VENV)/bin/processor topics create

demo: setup stack-up ## run the whole loop on the local stack: train, simulate 20k faulty events, process, audit
	$(VENV)/bin/processor demo

test: setup stack-up ## unit and integration tests (starts the stack when it is not running)
	$(PY) -m pytest tests

test-unit: setup ## unit tests only (nothing running needed)
	$(PY) -m pytest tests/unit

test-integration: setup stack-up ## integration tests on the real broker and Redis
	$(PY) -m pytest tests/integration

chaos: setup stack-up ## the full chaos suite: 3 processors, 100k events, kill -9s, Redis and broker restarts
	PYTHONPATH=tests $(PY) -m chaos.run

bench: setup stack-up ## throughput of the processor beside a transactional passthrough (the limit), table + bench/results.json
	$(PY) -m bench.run

eval: setup ## the jira urgency models on the real Hadoop tickets: rolling time folds, the winner, one untouched final slice; docs/results/jira_eval.json
	$(PY) -m processor.devtools.jira_eval

config-reference: setup ## regenerate docs/configuration.md from the settings model
	$(VENV)/bin/processor config reference --write

lint: setup alerts-check ## ruff (lint and format check), mypy, the import layers (docs/design.md), promtool on the alert rules
	$(VENV)/bin/ruff check processor tests bench tools
	$(VENV)/bin/ruff format --check processor tests bench tools
	$(VENV)/bin/mypy
	$(VENV)/bin/mypy tools/check_layers.py
	$(PY) tools/check_layers.py

alerts-check: ## promtool check + unit-test the alert rules (installs Debian's prometheus package when missing)
	bash deploy/local/ensure-prometheus.sh
	promtool check rules deploy/prometheus/alerts.yml
	promtool test rules deploy/prometheus/alerts.test.yml

format: setup ## apply ruff's fixes and formatting
	$(VENV)/bin/ruff check --fix processor tests bench tools
	$(VENV)/bin/ruff format processor tests bench tools

clean: ## remove the virtualenv and caches (not the stack's data)
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
