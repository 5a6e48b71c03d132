#!/usr/bin/env bash
# What Prometheus scrapes cost the controller: 1 000 instances of a tiny process (`sleep`), the
# controller's CPU over BENCH_METRICS_DURATION seconds (default 30) left alone and the same
# time scraped once a second on --metrics-addr (as Prometheus would), in alternating rounds,
# from /proc/PID/stat
# (utime + stime). Also the size of a scrape and how long one takes (curl's time_total).
#
# Usage: bench/metrics.sh [REPORT.md] — writes a markdown section there (or to stdout).
# Knobs: BENCH_METRICS_INSTANCES (default 1000), BENCH_METRICS_DURATION (s, default 30);
# BENCH_QUICK=1 (`make test`'s smoke run): 50 instances, 3 s.
# Builds corral (cargo); everything it starts is stopped on exit; 127.0.0.1 only.

set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_NAME=metrics
OUT=${1:-}
CORRAL=$ROOT/target/${BENCH_PROFILE:-release}/corral
INSTANCES=${BENCH_METRICS_INSTANCES:-1000}
DURATION=${BENCH_METRICS_DURATION:-30}
if [[ -n ${BENCH_QUICK:-} ]]; then
    INSTANCES=${BENCH_METRICS_INSTANCES:-50}
    DURATION=${BENCH_METRICS_DURATION:-3}
fi

# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
private_setup metrics

cleanup() {
    stop_started
    log "logs kept in $TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

command -v curl >/dev/null || die "curl is needed"
log "building corral (cargo build, $BENCH_PROFILE)"
build_corral --bin corral || die "cargo build failed"

PORT=$(free_port)
URL=http://127.0.0.1:$PORT/metrics
mkdir -p "$TMP/manifests"
cat >"$TMP/manifests/idle.yaml" <<EOF
apiVersion: corral/v1
kind: App
metadata: {name: idle}
spec:
  command: ["sleep", "100000"]
  instances: $INSTANCES
  stop: {timeout: 2s}
EOF
log "starting corral with $INSTANCES instances, --metrics-addr 127.0.0.1:$PORT"
"$CORRAL" controller --manifests "$TMP/manifests" --metrics-addr "127.0.0.1:$PORT" \
    >"$TMP/controller.log" 2>&1 &
CORRAL_PID=$!

# The value of the sample "NAME{app="idle"}" in a scrape (empty when absent).
idle_value() {
    curl -fsS --max-time 5 "$URL" 2>/dev/null |
        awk -v m="$1{app=\"idle\"}" '$1 == m { print $2; exit }'
}

deadline=$((SECONDS + 300))
until [[ $(idle_value corral_app_ready_instances) == "$INSTANCES" ]]; do
    kill -0 "$CORRAL_PID" 2>/dev/null || die "the controller exited (see $TMP/controller.log)"
    ((SECONDS < deadline)) || die "$INSTANCES instances not ready within 300 s (see $TMP/controller.log)"
    sleep 1
done
log "$INSTANCES instances ready; letting the controller settle"
sleep 3

# Alternating rounds (left alone, then scraped), so that a neighbour's load on a shared machine
# weighs on both alike; each condition gets DURATION seconds in all.
ROUNDS=3
ROUND=$(((DURATION + ROUNDS - 1) / ROUNDS))
IDLE_TICKS=0 SCRAPED_TICKS=0 IDLE_S=0 SCRAPED_S=0
: >"$TMP/scrapes.txt"
# Adds the controller's CPU ticks from $1 to now to the variable named $2.
add_ticks() {
    local -n sum=$2
    local a b
    read -r a b <<<"$(cpu_ticks "$CORRAL_PID")"
    sum=$((sum + a + b - $1))
}
for ((r = 1; r <= ROUNDS; r++)); do
    log "round $r/$ROUNDS: $ROUND s left alone, then $ROUND s scraped once a second"
    read -r u s <<<"$(cpu_ticks "$CORRAL_PID")"
    start=$(now)
    sleep "$ROUND"
    add_ticks $((u + s)) IDLE_TICKS
    IDLE_S=$(awk -v a="$IDLE_S" -v b="$(elapsed "$start")" 'BEGIN { print a + b }')
    read -r u s <<<"$(cpu_ticks "$CORRAL_PID")"
    start=$(now)
    for ((i = 1; i <= ROUND; i++)); do
        curl -fsS --max-time 5 -o "$TMP/scrape.txt" -w '%{time_total} %{size_download}\n' "$URL" \
            >>"$TMP/scrapes.txt" 2>>"$TMP/curl.err" || echo "failed 0" >>"$TMP/scrapes.txt"
        # Sleep to the next whole second since the start (a slow scrape does not add up).
        sleep "$(awk -v s="$start" -v n="$(now)" -v i="$i" 'BEGIN { d = s + i - n; print (d > 0 ? d : 0) }')"
    done
    add_ticks $((u + s)) SCRAPED_TICKS
    SCRAPED_S=$(awk -v a="$SCRAPED_S" -v b="$(elapsed "$start")" 'BEGIN { print a + b }')
done
TCK=$(getconf CLK_TCK)
# CPU percent of one core: TICKS over SECONDS.
cpu_percent() { awk -v n="$1" -v t="$TCK" -v s="$2" 'BEGIN { printf "%.2f", 100 * n / t / s }'; }
IDLE=$(cpu_percent "$IDLE_TICKS" "$IDLE_S")
SCRAPED=$(cpu_percent "$SCRAPED_TICKS" "$SCRAPED_S")
SERIES=$(grep -vc '^#' "$TMP/scrape.txt")
FAILED=$(grep -c '^failed' "$TMP/scrapes.txt")
SIZE=$(awk '$1 != "failed" { size = $2 } END { printf "%.0f", size / 1024 }' "$TMP/scrapes.txt")
read -r OK MEDIAN MAX <<<"$(awk '$1 != "failed" { print $1 * 1000 }' "$TMP/scrapes.txt" | sort -n |
    awk '{ t[++n] = $1 } END {
        median = n ? (n % 2 ? t[(n + 1) / 2] : (t[n / 2] + t[n / 2 + 1]) / 2) : 0
        printf "%d %.1f %.1f\n", n, median, n ? t[n] : 0 }')"
log "controller CPU: idle $IDLE %, scraped $SCRAPED %; $OK scrapes ($FAILED failed) of $SIZE KiB, $SERIES series, median $MEDIAN ms"

report=$(cat <<EOF
## Metrics: the controller scraped every second

The controller with $INSTANCES instances of \`sleep\` (one app), sampling CPU and memory every
second as usual (\`bench/metrics.sh\`, $(date -u +%Y-%m-%d), $(nproc) CPUs). Its CPU (utime +
stime from /proc, percent of one core) over $DURATION s left alone and $DURATION s with
\`curl http://127.0.0.1:PORT/metrics\` once a second, the way Prometheus scrapes \`--metrics-addr\` ($ROUNDS alternating
rounds of each).

| controller | CPU (one core) |
|---|---|
| not scraped | $IDLE % |
| scraped every second | $SCRAPED % |

A scrape: $SIZE KiB, $SERIES series (Prometheus text 0.0.4), answered in $MEDIAN ms (median of
$OK; slowest $MAX ms; $FAILED failed).
EOF
)
if [[ -n $OUT ]]; then printf '%s\n' "$report" >"$OUT"; log "wrote $OUT"; else printf '%s\n' "$report"; fi
