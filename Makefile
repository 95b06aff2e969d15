# dagbench — the one entry point for people and CI. `make help` lists the
# targets. The main job is `cargo run --release -- run`; `make test` is
# everything CI checks. The AWS targets are thin calls of `dagbench`,
# configured by dagbench.toml and these variables:
#
#   ENV=dev              environment: part of every stack and resource name
#   TEST_RUN_ID=…        the PerfTestRun cost tag (also read from the environment)
#   MESSAGES=1000        jobs of a `make run` / `make run-ecs`
#   DESIRED_COUNT=1      tasks of `make scale-up`
#   YES=1                destroy without asking

CARGO ?= cargo
PYTHON ?= python3
VENV := .venv
# The tests that read our files back with pyarrow, and the benchmarks'
# Python baselines, use this interpreter.
export DAGBENCH_PYTHON := $(CURDIR)/$(VENV)/bin/python

ENV ?= dev
MESSAGES ?= 1000
DESIRED_COUNT ?= 1
# How the AWS targets call dagbench (a release build, made on first use).
DAGBENCH ?= $(CARGO) run --release --quiet --bin dagbench --
SYNTH_DIR ?= synth
LAMBDA_ZIP ?= $(or $(CARGO_TARGET_DIR),target)/lambda/bootstrap/bootstrap.zip
STACK_FLAGS = --env $(ENV) $(if $(TEST_RUN_ID),--test-run-id $(TEST_RUN_ID))
YES_FLAG = $(if $(YES),--yes)

.PHONY: help test toolchain venv venv-checkov browser tools build fmt lint bench lambda clean \
	bootstrap synth deploy run destroy deploy-ecs destroy-ecs scale-up scale-down ecs-status run-ecs \
	deploy-sfn run-sfn destroy-sfn

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

test: toolchain venv venv-checkov browser tools ## Everything CI checks: fmt, unused deps, clippy, rustdoc, purity, every test
	$(CARGO) xtask ci

# Cargo tools CI runs, pinned, built once into the target directory (which
# CI keeps between clones: see .ci/run).
TOOLS_DIR ?= $(or $(CARGO_TARGET_DIR),$(CURDIR)/target)/tools
MACHETE_VERSION := 0.9.2
export DAGBENCH_MACHETE := $(TOOLS_DIR)/bin/cargo-machete
tools: $(TOOLS_DIR)/.machete-$(MACHETE_VERSION)

$(TOOLS_DIR)/.machete-$(MACHETE_VERSION):
	$(CARGO) install --locked --quiet --root $(TOOLS_DIR) cargo-machete@$(MACHETE_VERSION)
	touch $@

# Headless Chromium (Debian's package) renders report.html in the tests.
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
# Elsewhere, install Chromium or Chrome yourself (or point DAGBENCH_CHROMIUM
# at it).
browser:
	@if [ -n "$$DAGBENCH_CHROMIUM" ] || command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 \
	  || command -v google-chrome >/dev/null 2>&1 || command -v google-chrome-stable >/dev/null 2>&1; then :; \
	elif command -v apt-get >/dev/null 2>&1; then \
	  echo "installing chromium (Debian package) for the report tests"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends chromium; \
	else echo "no Chromium found and no apt-get: install Chromium or Chrome, or set DAGBENCH_CHROMIUM" >&2; exit 1; fi

# The Python test tools, pinned in requirements-test.txt, in a git-ignored venv.
venv: $(VENV)/.installed

$(VENV)/.installed: requirements-test.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-test.txt
	touch $@

# checkov, pinned in requirements-checkov.txt, in a venv of its own (it pins
# boto3 far below what moto uses).
CHECKOV_VENV := .venv-checkov
venv-checkov: $(CHECKOV_VENV)/.installed

$(CHECKOV_VENV)/.installed: requirements-checkov.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-checkov.txt
	touch $@

toolchain:
	@./scripts/ensure-toolchain.sh

build: toolchain ## Release build of dagbench
	$(CARGO) build --locked --release

fmt: toolchain ## Format the code
	$(CARGO) fmt --all

lint: toolchain ## Clippy with warnings denied
	$(CARGO) clippy --locked --workspace --all-targets -- -D warnings

bench: toolchain venv ## The benchmarks, with their baselines and ratios
	$(CARGO) run --release -- bench scheduler
	$(CARGO) run --release -- bench kernel
	$(CARGO) run --release -- bench local
	$(CARGO) run --release -- bench efficiency
	$(CARGO) run --release -- bench scale

# Scenario 1's deployment package: the release `bootstrap` for
# provided.al2023 (x86_64), zipped, at $(LAMBDA_ZIP)
# (target/lambda/bootstrap/bootstrap.zip, or under CARGO_TARGET_DIR).
LAMBDA_VENV := .venv-lambda
lambda: toolchain ## Build Scenario 1's package (bootstrap.zip for provided.al2023)
	test -x $(LAMBDA_VENV)/bin/cargo-lambda || ($(PYTHON) -m venv $(LAMBDA_VENV) && $(LAMBDA_VENV)/bin/pip install --quiet -r requirements-lambda.txt)
	PATH="$(CURDIR)/$(LAMBDA_VENV)/bin:$$PATH" $(LAMBDA_VENV)/bin/cargo-lambda lambda build --profile lambda --locked --package dagbench-lambda --bin bootstrap --output-format zip
	@ls -l $(LAMBDA_ZIP)

clean: ## Remove build output and the Python venvs
	$(CARGO) clean
	rm -rf $(VENV) $(LAMBDA_VENV) $(CHECKOV_VENV)

# --- AWS: the source document's targets ------------------------------------

bootstrap: ## Deploy the bootstrap stack (assets bucket, worker image repository)
	$(DAGBENCH) bootstrap $(STACK_FLAGS)

synth: ## Write every CloudFormation template to synth/ (SYNTH_DIR)
	$(DAGBENCH) synth $(STACK_FLAGS) --out $(SYNTH_DIR)

deploy: lambda ## Scenario 1 (SQS -> Lambda -> S3): build the zip, deploy scenario-1-{ENV}
	$(DAGBENCH) deploy --scenario 1 $(STACK_FLAGS) --lambda-zip $(LAMBDA_ZIP)

run: ## Run MESSAGES jobs through scenario-1-{ENV}
	$(DAGBENCH) run --scenario 1 --env $(ENV) --messages $(MESSAGES) $(if $(TEST_RUN_ID),--test-run-id $(TEST_RUN_ID))

destroy: ## Empty and delete scenario-1-{ENV}
	$(DAGBENCH) destroy --scenario 1 $(STACK_FLAGS) $(YES_FLAG)

deploy-ecs: ## Scenario 2 (SQS -> ECS Fargate -> S3): deploy perf-shared-{ENV} and scenario-2-{ENV}
	$(DAGBENCH) deploy --scenario shared $(STACK_FLAGS)
	$(DAGBENCH) deploy --scenario 2 $(STACK_FLAGS)

destroy-ecs: ## Empty and delete scenario-2-{ENV}, then perf-shared-{ENV}
	$(DAGBENCH) destroy --scenario 2 $(STACK_FLAGS) $(YES_FLAG)
	$(DAGBENCH) destroy --scenario shared $(STACK_FLAGS) $(YES_FLAG)

scale-up: ## Run DESIRED_COUNT Fargate tasks
	$(DAGBENCH) scale --desired $(DESIRED_COUNT) --env $(ENV)

scale-down: ## Stop every Fargate task
	$(DAGBENCH) scale --desired 0 --env $(ENV)

ecs-status: ## Desired/running/pending tasks, deployments, last events
	$(DAGBENCH) status --env $(ENV)

deploy-sfn: lambda ## Scenario 3 (Step Functions): build the zip, deploy scenario-3-{ENV}
	$(DAGBENCH) deploy --scenario 3 $(STACK_FLAGS) --lambda-zip $(LAMBDA_ZIP)

run-sfn: ## Run MESSAGES jobs through scenario-3-{ENV}'s state machine
	$(DAGBENCH) run --scenario 3 --env $(ENV) --messages $(MESSAGES) $(if $(TEST_RUN_ID),--test-run-id $(TEST_RUN_ID))

destroy-sfn: ## Empty and delete scenario-3-{ENV}
	$(DAGBENCH) destroy --scenario 3 $(STACK_FLAGS) $(YES_FLAG)

run-ecs: ## Run MESSAGES jobs through scenario-2-{ENV}
	$(DAGBENCH) run --scenario 2 --env $(ENV) --messages $(MESSAGES) $(if $(TEST_RUN_ID),--test-run-id $(TEST_RUN_ID))
