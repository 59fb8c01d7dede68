# fairtask: the only interface. `make run` and `make test` each install what they need.
SHELL := /bin/bash
.DEFAULT_GOAL := help
export PATH := $(HOME)/.local/bin:$(PATH)
export UV_LINK_MODE := copy

DURATION ?=
REPORT ?=
DASHBOARD ?=
SCENARIO ?= sim/scenarios/follow-the-sun.yaml
POLICY ?= fair
JSON ?=
SEED ?=
QUICK ?=
STACK_DIR ?= .stack
PYTEST_ARGS ?=
UV := uv run --frozen

.PHONY: help setup proto proto-check lint audit deploy-check test test-unit up down run chaos sim sim-compare bench

help:
	@echo "make run [DURATION=60] [REPORT=out.json] [DASHBOARD=out.png]   stack + services + Prometheus + demo load + report"
	@echo "make test                                  lint, contracts, unit and integration tests"
	@echo "make up / make down                        start / stop Kafka, Redis and PostgreSQL"
	@echo "make chaos [DURATION=180] [JSON=out.json] [SEED=7]   demo load with faults injected, audited"
	@echo "make sim SCENARIO=f.yaml POLICY=fair|fcfs|poll JSON=out.json   the discrete-event simulator"
	@echo "make sim-compare JSON=out.json             every shipped scenario under every policy"
	@echo "make bench JSON=out.json [QUICK=1]         the dispatcher on the real stack, with baselines"
	@echo "make proto / proto-check                   regenerate / verify the protobuf code"
	@echo "make audit                                 known vulnerabilities in the locked packages"
	@echo "make deploy-check                          render deploy/k8s and validate it offline"

setup:
	@bash scripts/setup.sh

proto: setup
	@bash scripts/gen_proto.sh

proto-check: setup
	@bash scripts/proto_check.sh

audit: setup
	@bash scripts/audit.sh

# kustomize build of every overlay, validated by kubeconform against deploy/schemas only.
deploy-check: setup
	@bash scripts/deploy_check.sh

lint: setup
	$(UV) ruff format --check .
	$(UV) ruff check .
	$(UV) mypy
	$(UV) lint-imports

test: lint proto-check audit deploy-check
	$(UV) pytest -q $(PYTEST_ARGS)

test-unit: setup
	$(UV) pytest -q -m "not integration" $(PYTEST_ARGS)

up: setup
	$(UV) python -m fairtask_localstack up --dir $(STACK_DIR)

down:
	@if [ -d .venv ]; then $(UV) python -m fairtask_localstack down --dir $(STACK_DIR); fi

run: setup
	$(UV) python -m fairtask_demo run --stack-dir $(STACK_DIR) \
	  $(if $(DURATION),--duration $(DURATION)) $(if $(REPORT),--report $(REPORT)) \
	  $(if $(DASHBOARD),--dashboard $(DASHBOARD))

chaos: setup
	$(UV) python -m fairtask_demo chaos --stack-dir .stack-chaos \
	  $(if $(DURATION),--duration $(DURATION)) $(if $(JSON),--json $(JSON)) $(if $(SEED),--seed $(SEED))

sim: setup
	$(UV) python -m fairtask_sim --scenario $(SCENARIO) --policy $(POLICY) $(if $(JSON),--json $(JSON))

sim-compare: setup
	$(UV) python -m fairtask_sim compare --scenarios sim/scenarios/*.yaml \
	  $(if $(JSON),--json $(JSON)) --markdown docs/fairness-table.md

bench: setup
	$(UV) python -m fairtask_bench --stack-dir $(STACK_DIR) $(if $(JSON),--json $(JSON)) \
	  $(if $(QUICK),--quick)
