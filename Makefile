# dagbench — the one entry point for people and CI.
#
#   make test    everything CI checks: formatting, clippy (-D warnings), rustdoc,
#                the core's purity, and every test
#   make bench   the benchmarks, with their baselines and ratios
#   (the main job is `cargo run --release -- run`)
#
# Later issues add the source document's targets (bootstrap synth deploy run
# destroy deploy-ecs scale-up scale-down ecs-status run-ecs) as thin wrappers
# over `dagbench` subcommands.

CARGO ?= cargo
PYTHON ?= python3
VENV := .venv
# The tests that read our files back with pyarrow, and the benchmarks'
# Python baselines, use this interpreter.
export DAGBENCH_PYTHON := $(CURDIR)/$(VENV)/bin/python

.PHONY: test toolchain venv build fmt lint bench lambda clean

test: toolchain venv
	$(CARGO) xtask ci

# The Python test tools, pinned in requirements-test.txt, in a git-ignored venv.
venv: $(VENV)/.installed

$(VENV)/.installed: requirements-test.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-test.txt
	touch $@

toolchain:
	@./scripts/ensure-toolchain.sh

build: toolchain
	$(CARGO) build --release

fmt: toolchain
	$(CARGO) fmt --all

lint: toolchain
	$(CARGO) clippy --workspace --all-targets -- -D warnings

bench: toolchain venv
	$(CARGO) run --release -- bench scheduler
	$(CARGO) run --release -- bench kernel
	$(CARGO) run --release -- bench local
	$(CARGO) run --release -- bench efficiency
	$(CARGO) run --release -- bench scale

# Scenario 1's deployment package: the release `bootstrap` for
# provided.al2023 (x86_64), zipped, at target/lambda/bootstrap/bootstrap.zip.
LAMBDA_VENV := .venv-lambda
lambda: toolchain
	test -x $(LAMBDA_VENV)/bin/cargo-lambda || ($(PYTHON) -m venv $(LAMBDA_VENV) && $(LAMBDA_VENV)/bin/pip install --quiet -r requirements-lambda.txt)
	PATH="$(CURDIR)/$(LAMBDA_VENV)/bin:$$PATH" $(LAMBDA_VENV)/bin/cargo-lambda lambda build --release --package dagbench-lambda --bin bootstrap --output-format zip
	@ls -l target/lambda/bootstrap/bootstrap.zip

clean:
	$(CARGO) clean
	rm -rf $(VENV) $(LAMBDA_VENV)
