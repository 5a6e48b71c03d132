# corral — the two set-up commands are `make run` and `make test` (see README.md).
CARGO ?= cargo
MANIFESTS ?= manifests

.PHONY: run build deb deb-stage test test-vm fmt-check clippy lint unit smoke fuzz-smoke fuzz schema-check clean layout

## Build, then run the controller in the foreground on the demo manifests (Ctrl-C stops it).
run: build
	./target/release/corral controller --manifests $(MANIFESTS)

build:
	$(CARGO) build --release --locked

## The Debian package, for a server without a Rust toolchain: target/debian/corral_VERSION-1_ARCH.deb
## (release build; cargo-deb is installed from crates.io when missing). packaging/README.md.
TARGET_DIR ?= $(or $(CARGO_TARGET_DIR),target)
deb:
	command -v cargo-deb >/dev/null || $(CARGO) install --locked cargo-deb
	$(CARGO) build --release --locked
	$(TARGET_DIR)/release/corral dist target/dist
	$(CARGO) deb --no-build --locked
	@ls $(TARGET_DIR)/debian/*.deb

## The same package from any corral binary (DEB_BIN, default the debug build) without cargo-deb:
## the tree cargo-deb would lay out from Cargo.toml, built with dpkg-deb into DEB_OUT (tests/deb.rs).
DEB_BIN ?= target/debug/corral
DEB_OUT ?= target/deb-stage
DEB_COMPRESS ?= -Zgzip -z1
deb-stage:
	rm -rf $(DEB_OUT) && mkdir -p $(DEB_OUT)
	$(DEB_BIN) dist $(DEB_OUT)/dist
	packaging/stage.py $(DEB_BIN) $(DEB_OUT)/dist $(DEB_OUT)/tree
	dpkg-deb --root-owner-group $(DEB_COMPRESS) --build $(DEB_OUT)/tree $(DEB_OUT)/corral.deb

## Every check: formatting, lints, all tests (unit, property, integration, schema drift), and
## short runs of the fuzz targets and of the benchmark so that they cannot rot. The workspace is
## compiled once (`lint`), and everything after it runs what that build made.
test: fmt-check lint unit smoke

fmt-check:
	$(CARGO) fmt --all -- --check

## The lints alone (`cargo check` through clippy: a build of its own of every dependency).
clippy:
	$(CARGO) clippy --locked --workspace --all-targets -- -D warnings

## Clippy's lints in the build the tests run, so that every dependency is compiled once (`make
## clippy` builds a check copy of each of its own). `cargo clippy` is `cargo check` with
## clippy-driver (rustc with clippy's lints) as cargo's workspace wrapper and the lint flags in
## CLIPPY_ARGS; on `cargo build` the same two compile the workspace's crates through clippy-driver
## (the dependencies through plain rustc), and a warning of rustc or clippy in any target
## (library, binary, unit and integration tests, example, fuzz harness) fails it. `make test`
## keeps both variables for every cargo command under it (nextest, the smoke runs, the bench
## scripts), so they find this build up to date. Cargo puts the wrapper in the hash of the
## workspace crates' files: a plain `cargo build` or `cargo test` keeps its own copies of those
## and shares the dependencies. clippy-driver compiles with MIR optimisation off and without the
## debug checks of raw pointer reads (our unsafe code is libc calls); releases are not built so.
CLIPPY_DRIVER = $(shell rustc --print sysroot)/bin/clippy-driver
test lint: export RUSTC_WORKSPACE_WRAPPER = $(CLIPPY_DRIVER)
test lint: export CLIPPY_ARGS = -D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__
lint:
	$(CARGO) build --locked --workspace --all-targets

## Unit, property and integration tests with cargo-nextest (on every machine of this kind;
## installed when missing): every test binary's tests in one pool, four at a time, the slowest
## first (most wait on real processes; .config/nextest.toml), each test's time in the log. The
## whole workspace in one resolution, so the fuzz harness shares every dependency built for the
## tests (built alone, without the tests' dev-dependencies, it rebuilt ~100 crates). `--tests`:
## targets with tests only (no test harness for the binary, the example or the fuzz crate).
unit:
	command -v cargo-nextest >/dev/null || $(CARGO) install --locked cargo-nextest
	$(CARGO) nextest run --locked --workspace --tests

## The cgroup v2 scenarios in a throwaway QEMU VM with a real kernel (tests/vm_cgroup.rs), alone
## and with the VM's console shown; fails instead of skipping when QEMU or apt are missing.
## `make test` runs the same test (one boot, about a minute under TCG) within `unit`.
## VM_SCENARIOS=cpu-max,pids-max runs only those; CORRAL_VM_ACCEL=kvm where KVM works.
VM_SCENARIOS ?=
test-vm:
	CORRAL_VM_REQUIRED=1 CORRAL_VM_SCENARIOS=$(VM_SCENARIOS) $(CARGO) test --locked --test vm_cgroup -- --nocapture

## The fuzz and bench smoke runs side by side: the fuzz harness keeps one core busy, the bench
## mostly waits on its apps (each line of their output says whose it is).
smoke:
	$(MAKE) --no-print-directory -j2 fuzz-smoke bench-smoke

## A short fuzz run: each target FUZZ_SMOKE_SECONDS (10) with the random harness (fuzz/README.md),
## built as `lint` builds it (nothing to do after `lint`).
FUZZ_SMOKE_SECONDS ?= 10
fuzz-smoke:
	$(CARGO) build --locked --workspace --bins --tests
	$(TARGET_DIR)/debug/random all --seconds $(FUZZ_SMOKE_SECONDS)

## Long fuzzing with AFL++ (installs cargo-afl if missing): FUZZ_SECONDS per target (3600).
fuzz:
	fuzz/run.sh

## Regenerate link/hot-functions.txt, the release binary's layout (link/README.md): after a
## toolchain or dependency upgrade, or when bench/footprint.sh says the list is stale.
layout:
	link/profile.sh

## Regenerate the committed JSON Schema from the Rust types.
schema:
	$(CARGO) run --quiet -- schema > schemas/app.schema.json

clean:
	$(CARGO) clean

.PHONY: bench
## corral vs PM2 on the same Node apps (~20 min; installs wrk, nginx, haproxy and a private PM2; not part of `test`):
## throughput and reloads, memory-limit reaction, watch reloads under load, log throughput, the
## controller's CPU with 1 000 instances scraped every second, a bad revision rolled out by a
## rolling update and by a canary.
## Writes docs/benchmarks.md; see bench/run.sh.
bench:
	bench/run.sh

.PHONY: bench-smoke
## `make bench` in miniature (a few setups, 1 s rounds, every part, all at once: BENCH_JOBS in
## bench/run.sh): that it runs, not what it measures.
bench-smoke:
	BENCH_QUICK=1 BENCH_OUT=$$(mktemp /tmp/corral-bench-smoke.XXXXXX.md) bench/run.sh

.PHONY: soak
## Days of uptime in minutes (not part of `test`): 10 000 restarts (crash loop, reloads under
## load, log spam) with the controller's RSS and fd figures, then 500 random controller SIGKILLs.
soak:
	$(CARGO) test --locked --test it soak:: -- --ignored --nocapture
	CORRAL_KILLS=$${CORRAL_KILLS:-500} $(CARGO) test --locked --test it crash_random:: -- --nocapture
