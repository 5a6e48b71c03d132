#!/usr/bin/env bash
# `make fuzz`: each fuzz target under AFL++ (cargo-afl) for FUZZ_SECONDS (default 3600), then a
# line per target with its executions, coverage, crashes and hangs. See fuzz/README.md.
#   FUZZ_TARGETS   which targets (default: manifest api proxy h1 log_lines)
#   FUZZ_PARALLEL  1: run the targets at the same time (one core each) instead of in turn
#   FUZZ_OUT       where corpora and findings go (default target/fuzz/afl)
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${FUZZ_SECONDS:-3600}
targets=${FUZZ_TARGETS:-manifest api proxy h1 log_lines}
out=${FUZZ_OUT:-target/fuzz/afl}

# cargo-afl builds AFL++ from the sources in its crate: no nightly, no prebuilt binary.
if ! cargo afl --version >/dev/null 2>&1; then
    cargo install --locked cargo-afl
fi
cargo afl config --build >/dev/null 2>&1 || true # already built for this rustc: fine
CARGO_TARGET_DIR=target/afl cargo afl build --release --locked -p corral-fuzz --features afl --bins
cargo build --locked -p corral-fuzz --bin random

# The core pattern and CPU governor are the machine's; findings are read from AFL++'s folders.
export AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_AFFINITY=1

run() {
    local t=$1 dirs
    rm -rf "$out/$t" && mkdir -p "$out/$t/in"
    dirs=$(cargo run --quiet --locked -p corral-fuzz --bin random -- --seeds "$t")
    for d in $dirs; do find "$d" -maxdepth 1 -type f -size -64k -exec cp {} "$out/$t/in/" \; ; done
    [ -n "$(ls -A "$out/$t/in")" ] || printf '\n' >"$out/$t/in/empty"
    cargo run --quiet --locked -p corral-fuzz --bin random -- --dict "$t" >"$out/$t/dict"
    cargo afl fuzz -V "$seconds" -t 10000 -i "$out/$t/in" -o "$out/$t/out" -x "$out/$t/dict" \
        "target/afl/release/afl_$t" >"$out/$t/afl.log" 2>&1 || echo "$t: afl-fuzz failed, see $out/$t/afl.log"
}

for t in $targets; do
    if [ "${FUZZ_PARALLEL:-0}" = 1 ]; then run "$t" & else run "$t"; fi
done
wait

status=0
for t in $targets; do
    stats="$out/$t/out/default/fuzzer_stats"
    if [ ! -f "$stats" ]; then echo "$t: no statistics (see $out/$t/afl.log)"; status=1; continue; fi
    get() { awk -F' *: ' -v k="$1" '$1 == k { print $2 }' "$stats"; }
    echo "$t: $(get execs_done) execs in $(get run_time)s ($(get execs_per_sec)/s), edges $(get edges_found)/$(get total_edges) (map $(get bitmap_cvg)), stability $(get stability), corpus $(get corpus_count), crashes $(get saved_crashes), hangs $(get saved_hangs)"
    [ "$(get saved_crashes)" = 0 ] && [ "$(get saved_hangs)" = 0 ] || status=1
done
[ $status = 0 ] || echo "findings are under $out/TARGET/out/default/{crashes,hangs}"
exit $status
