# corral — the two set-up commands are `make run` and `make test` (see README.md).
CARGO ?= cargo
MANIFESTS ?= manifests

.PHONY: run build test fmt-check clippy unit fuzz-smoke fuzz schema-check clean

## Build, then run the controller in the foreground on the demo manifests (Ctrl-C stops it).
run: build
	./target/release/corral controller --manifests $(MANIFESTS)

build:
	$(CARGO) build --release --locked

## Every check: formatting, lints, all tests (unit, property, integration, schema drift).
test: fmt-check clippy unit fuzz-smoke

fmt-check:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --locked --workspace --all-targets -- -D warnings

unit:
	$(CARGO) test --locked --all-targets

## A short fuzz run: each target FUZZ_SMOKE_SECONDS (10) with the random harness (fuzz/README.md).
FUZZ_SMOKE_SECONDS ?= 10
fuzz-smoke:
	$(CARGO) run --locked -p corral-fuzz --bin random -- all --seconds $(FUZZ_SMOKE_SECONDS)

## Long fuzzing with AFL++ (installs cargo-afl if missing): FUZZ_SECONDS per target (3600).
fuzz:
	fuzz/run.sh

## Regenerate the committed JSON Schema from the Rust types.
schema:
	$(CARGO) run --quiet -- schema > schemas/app.schema.json

clean:
	$(CARGO) clean

.PHONY: bench
## corral vs PM2 on the same Node app (~9 min; installs wrk, nginx, haproxy and a private PM2; not part of `test`).
## Writes docs/benchmarks.md; see bench/run.sh.
bench:
	bench/run.sh
