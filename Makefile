# dagbench — the one entry point for people and CI.
#
#   make test    everything CI checks: formatting, clippy (-D warnings), rustdoc,
#                the core's purity, and every test
#   make bench   the benchmarks, with their baselines and ratios
#
# Later issues add the source document's targets (bootstrap synth deploy run
# destroy deploy-ecs scale-up scale-down ecs-status run-ecs) as thin wrappers
# over `dagbench` subcommands.

CARGO ?= cargo

.PHONY: test toolchain build fmt lint bench clean

test: toolchain
	$(CARGO) xtask ci

toolchain:
	@./scripts/ensure-toolchain.sh

build: toolchain
	$(CARGO) build --release

fmt: toolchain
	$(CARGO) fmt --all

lint: toolchain
	$(CARGO) clippy --workspace --all-targets -- -D warnings

bench: toolchain
	$(CARGO) run --release -- bench scheduler

clean:
	$(CARGO) clean
