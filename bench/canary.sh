#!/usr/bin/env bash
# Progressive delivery under load (DESIGN §13, issue 16): the demo app (manifests/apps/web.js)
# ×4 in `mode: http` under wrk -t2 -c50 (keep-alive), rolled out to a bad revision
#
#   errors    the new revision answers 500 to 20% of GET / (FAIL_PERCENT=20)
#   latency   the new revision answers DELAY_MS later, DELAY_MS = 2 × the stable revision's p95
#             under the same load, measured first (so about 3× its latency)
#
# each with (a) `strategy: RollingUpdate` (maxSurge 1, maxUnavailable 0) and (b) a Canary
# (setWeight 10, pause 60s, setWeight 50, pause 60s, setWeight 100; analysis every 5s over at
# least 100 canary requests, maxLatencyRatio 2): LEAD s of load, the change (`corral apply`),
# WINDOW s more load, alike for both strategies. Per run: failed requests seen by clients (wrk's
# socket errors + non-2xx), how many the bad revision answered (web.js puts its MARKER in the
# body; bench/canary.lua counts it), and the time from the first bad response (the first 500;
# the first answer of the slow revision) to the `RolloutAborted` event. Then a good revision
# promoted through every step (5 s pauses) under the same load: its failed requests (target 0)
# and the time to complete.
#
# Usage: bench/canary.sh [REPORT.md]   (markdown section to REPORT.md, else to stdout)
# Knobs (environment): BENCH_CANARY_WINDOW (s of load after the change, default 60),
# BENCH_CANARY_RUNS (only these runs, e.g. "errors:rolling good:canary");
# BENCH_QUICK=1 (`make test`'s smoke run, under a minute: 2 instances, a canary's 10 s window
# ended 1 s after its abort, the rolling update's 4 s, analysis every 2 s over 20 requests, 1 s
# pauses, no rolling run in the latency round).
# Builds corral (cargo, release unless BENCH_PROFILE=debug); needs wrk (bench/run.sh installs
# it) and node. Everything it starts is stopped on exit; 127.0.0.1 only.

set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_NAME=canary
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

OUT=${1:-}
CORRAL=$ROOT/target/${BENCH_PROFILE:-release}/corral
APP=$ROOT/manifests/apps/web.js
INSTANCES=4
WRK_ARGS=(-t2 -c50)
LEAD=3                               # s of load before the change
WINDOW=${BENCH_CANARY_WINDOW:-60}    # s of load after it, the same for every bad-revision run
CALIBRATE=5                          # s of load measuring the stable revision's latency
PAUSE=60s INTERVAL=5s MIN_REQUESTS=100
GOOD_PAUSE=5s GOOD_MAX=150           # the good revision's pauses; its load stops at most then
GOOD_TAIL_MS=2000                    # and this long after it completed
RUNS=("errors rolling" "errors canary" "latency rolling" "latency canary" "good canary")
QUICK=""
if [[ -n ${BENCH_QUICK:-} ]]; then
    QUICK=1 INSTANCES=2 LEAD=1 WINDOW=${BENCH_CANARY_WINDOW:-10} CALIBRATE=1
    PAUSE=30s INTERVAL=2s MIN_REQUESTS=20 GOOD_PAUSE=1s GOOD_MAX=25 GOOD_TAIL_MS=1000
    RUNS=("errors rolling" "errors canary" "latency canary" "good canary")
fi
# BENCH_CANARY_RUNS: only these runs, e.g. "errors:rolling good:canary" (for trying out).
if [[ -n ${BENCH_CANARY_RUNS:-} ]]; then
    RUNS=()
    for entry in $BENCH_CANARY_RUNS; do RUNS+=("${entry/:/ }"); done
fi
private_setup canary
RESULTS=$TMP/runs.jsonl

cleanup() {
    stop_started
    log "logs kept in $TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

command -v wrk >/dev/null || die "wrk is needed (apt-get install wrk; bench/run.sh installs it)"
command -v node >/dev/null || die "Node.js is needed (node not found in PATH)"
log "building corral (cargo build, $BENCH_PROFILE)"
build_corral --bin corral || die "cargo build failed"

# manifest NAME STRATEGY MARKER [ENV…]: the app's manifest on stdout. STRATEGY rolling | canary
# (good: the canary with GOOD_PAUSE pauses); ENV entries are `KEY: "value"`.
manifest() {
    local name=$1 strategy=$2 marker=$3 pause=$PAUSE env
    shift 3
    env=$(IFS=,; echo "MARKER: \"$marker\"${*:+, $*}")
    cat <<EOF
apiVersion: corral/v1
kind: App
metadata: {name: $name}
spec:
  command: ["node", "$APP"]
  instances: $INSTANCES
  env: {$env}
  listen: [{port: ${PORT[$name]}, host: 127.0.0.1, mode: http}]
  readiness: {http: {path: /healthz}, periodSeconds: 1}
  stop: {signal: SIGTERM, timeout: 5s}
EOF
    [[ $name == good-* ]] && pause=$GOOD_PAUSE
    case $strategy in
        rolling) echo "  strategy: {type: RollingUpdate, maxSurge: 1, maxUnavailable: 0}" ;;
        canary) cat <<EOF
  strategy:
    type: Canary
    maxSurge: 1
    maxUnavailable: 0
    steps:
      - setWeight: 10
      - pause: {duration: $pause}
      - setWeight: 50
      - pause: {duration: $pause}
      - setWeight: 100
    analysis: {interval: $INTERVAL, minRequests: $MIN_REQUESTS, maxLatencyRatio: 2}
EOF
            ;;
    esac
}

# Every app of the runs starts at once (one per run: a run never inherits another's state),
# revision v1 with the run's strategy.
declare -A PORT
mkdir -p "$TMP/manifests" "$TMP/next"
names=()
for entry in "${RUNS[@]}"; do
    read -r round strategy <<<"$entry"
    name=$round-$strategy
    names+=("$name")
    PORT[$name]=$(free_port)
    manifest "$name" "$strategy" v1 >"$TMP/manifests/$name.yaml"
done
log "starting corral: ${#names[@]} apps × $INSTANCES instances (${names[*]})"
"$CORRAL" controller --manifests "$TMP/manifests" >"$TMP/controller.log" 2>&1 &
CORRAL_PID=$!

# The state of app $1 from `corral get -o json`, as "READY DONE_MS ABORT_MS\tABORT_MESSAGE":
# READY 1 when every instance runs revision $2 (empty: any one revision) and all are ready;
# DONE_MS the time of the RolloutComplete event of a revision other than $2 since unix ms $3,
# unless a RolloutAborted came (0: none); ABORT_MS that RolloutAborted event's time (0: none).
state() {
    # shellcheck disable=SC2016 # the ${…} below are JavaScript's
    "$CORRAL" get "$1" -o json 2>/dev/null | node -e '
      let s = ""; process.stdin.on("data", d => s += d).on("end", () => {
        let a; try { a = JSON.parse(s); } catch { console.log("0 0 0\t"); return; }
        const from = process.argv[1], n = Number(process.argv[2]), since = Number(process.argv[3]);
        const ins = a.instances || [];
        const revs = new Set(ins.map(i => i.revision));
        const ready = ins.length === n && ins.every(i => i.ready && i.phase === "Running") &&
          revs.size === 1 && (!from || revs.has(from));
        const events = (a.events || []).filter(e => e.atMs >= since);
        const abort = events.filter(e => e.reason === "RolloutAborted").pop();
        const done = events.find(e => e.reason === "RolloutComplete" && from && !e.message.includes(from));
        console.log(`${ready ? 1 : 0} ${done && !abort ? done.atMs : 0} ${abort ? abort.atMs : 0}\t${abort ? abort.message : ""}`);
      });' "${2:-}" "$INSTANCES" "${3:-0}"
}
# The revision app $1 runs now.
revision() { "$CORRAL" get "$1" -o json 2>/dev/null | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{console.log(JSON.parse(s).revision)}catch{console.log("")}})'; }

deadline=$((SECONDS + 60))
for name in "${names[@]}"; do
    until [[ $(state "$name") == 1\ * ]]; do
        kill -0 "$CORRAL_PID" 2>/dev/null || die "the controller exited (see $TMP/controller.log)"
        ((SECONDS < deadline)) || die "$name: not $INSTANCES ready within 60 s: $("$CORRAL" get "$name" 2>&1 | tail -1)
$(grep -F "$name" "$TMP/controller.log" | tail -3)"
        sleep 0.5
    done
done
log "${#names[@]} apps ready"

now_ms() { local t=$EPOCHREALTIME; echo $((${t/./} / 1000)); }

# wrk_start SECONDS PORT MARKER OUTFILE: the load, in the background (WRK_PID).
wrk_start() {
    wrk "${WRK_ARGS[@]}" -d"${1}s" --timeout 5s -s "$ROOT/bench/canary.lua" \
        "http://127.0.0.1:$2/" -- "$3" >"$4" 2>&1 &
    WRK_PID=$!
}
# wrk_finish OUTFILE: wait for wrk; WRK_RESULT = its RESULT JSON (empty if it failed).
wrk_finish() {
    wait "$WRK_PID"
    WRK_PID=""
    WRK_RESULT=$(sed -n 's/^RESULT //p' "$1")
}

# The stable revision's latency under the load, for the latency round's DELAY_MS.
calibrate() {
    local name=$1
    log "measuring the stable revision's latency on $name ($CALIBRATE s)"
    wrk_start "$CALIBRATE" "${PORT[$name]}" none "$TMP/calibrate.wrk"
    wrk_finish "$TMP/calibrate.wrk"
    [[ -n $WRK_RESULT ]] || die "wrk failed (see $TMP/calibrate.wrk)"
    BASE_P50_US=$(node -p 'JSON.parse(process.argv[1]).p50_us' "$WRK_RESULT")
    BASE_P95_US=$(node -p 'JSON.parse(process.argv[1]).p95_us' "$WRK_RESULT")
    DELAY_MS=$(((2 * BASE_P95_US + 999) / 1000))
    log "stable p50 $((BASE_P50_US / 1000)) ms, p95 $((BASE_P95_US / 1000)) ms: DELAY_MS=$DELAY_MS"
}

# run ROUND STRATEGY: one rollout under load, from v1 to the round's revision; one JSON line
# to $RESULTS.
run() {
    local round=$1 strategy=$2 name=$1-$2 marker=bad env=() seconds from change t
    local ready said at done_ms=0 abort_ms=0 message="" error="" stop_at=0
    case $round in
        errors) env=('FAIL_PERCENT: "20"') ;;
        latency) env=("DELAY_MS: \"$DELAY_MS\"") ;;
        good) marker=v2 ;;
    esac
    seconds=$((LEAD + WINDOW))
    [[ -n $QUICK && $strategy == rolling ]] && seconds=$((LEAD + 4))
    [[ $round == good ]] && seconds=$GOOD_MAX
    manifest "$name" "$strategy" "$marker" "${env[@]}" >"$TMP/next/$name.yaml"
    from=$(revision "$name")
    log "$name: $seconds s of load, the change to $marker after $LEAD s"
    wrk_start "$seconds" "${PORT[$name]}" "$marker" "$TMP/$name.wrk"
    sleep "$LEAD"
    change=$(now_ms)
    "$CORRAL" apply -f "$TMP/next/$name.yaml" >>"$TMP/apply.log" 2>&1 ||
        error="corral apply failed (see apply.log)"
    while kill -0 "$WRK_PID" 2>/dev/null; do
        IFS=$'\t' read -r ready said <<<"$(state "$name" "$from" "$change")"
        read -r _ t at <<<"$ready"
        ((done_ms == 0 && t > 0)) && done_ms=$t
        # The first RolloutAborted seen is kept: `get` shows a bounded list of recent events.
        ((abort_ms == 0 && at > 0)) && abort_ms=$at message=$said
        # The good revision's load ends GOOD_TAIL_MS after it completed (or aborted); in the quick run
        # every canary's load ends 1 s after its end.
        if ((stop_at == 0)) && ((done_ms > 0 || abort_ms > 0)); then
            [[ $round == good ]] && stop_at=$(($(now_ms) + GOOD_TAIL_MS))
            [[ -n $QUICK && $strategy == canary && $round != good ]] && stop_at=$(($(now_ms) + 1000))
        fi
        ((stop_at > 0 && $(now_ms) >= stop_at)) && kill -INT "$WRK_PID" 2>/dev/null
        sleep 0.5
    done
    wrk_finish "$TMP/$name.wrk"
    [[ -z $WRK_RESULT ]] && error="${error:+$error; }wrk failed (see $name.wrk)"
    [[ $round == good && $done_ms == 0 && $abort_ms == 0 ]] &&
        error="${error:+$error; }not promoted within $GOOD_MAX s: $("$CORRAL" get "$name" 2>&1 | tail -1)"
    "$CORRAL" events "$name" -o json >"$TMP/$name.events" 2>&1
    log "$name: $(sed -n 's/^RESULT //p' "$TMP/$name.wrk"), aborted at ${abort_ms:-0}${error:+; $error}"
    # The rollout's own events since the change (the whole list: `get`'s is bounded).
    node -e 'const fs = require("fs");
      const [round, strategy, wrk, change, done, abort, message, error, events] = process.argv.slice(1);
      const steps = fs.readFileSync(events, "utf8").split("\n").filter(l => l.startsWith("{"))
        .map(l => JSON.parse(l)).filter(e => e.atMs >= +change && /^(Canary|Rollout)/.test(e.reason))
        .map(e => ({reason: e.reason, atMs: e.atMs, message: e.message}));
      const aborted = steps.find(e => e.reason === "RolloutAborted");
      console.log(JSON.stringify({round, strategy, wrk: wrk ? JSON.parse(wrk) : null, changeMs: +change,
        doneMs: +done, abortMs: aborted ? aborted.atMs : +abort,
        abortMessage: aborted ? aborted.message : message, error, steps}))' \
        "$round" "$strategy" "$WRK_RESULT" "$change" "$done_ms" "${abort_ms:-0}" "$message" "$error" \
        "$TMP/$name.events" >>"$RESULTS"
    # Its instances stop now: idle, they would still take memory and probes from the next runs.
    "$CORRAL" delete "$name" >>"$TMP/apply.log" 2>&1 || log "$name: corral delete failed"
}

: >"$RESULTS"
DELAY_MS=0 BASE_P50_US=0 BASE_P95_US=0
for entry in "${RUNS[@]}"; do
    read -r round strategy <<<"$entry"
    [[ $round == latency && $DELAY_MS == 0 ]] && calibrate "$round-$strategy"
    run "$round" "$strategy"
done

report() {
    node "$ROOT/bench/canary_report.js" "$RESULTS" <<EOF
{"date": "$(date -u +%Y-%m-%d)", "commit": "$(git -C "$ROOT" rev-parse --short HEAD)",
 "instances": $INSTANCES, "wrkArgs": "${WRK_ARGS[*]}", "lead": $LEAD, "window": $WINDOW,
 "pause": "$PAUSE", "interval": "$INTERVAL", "minRequests": $MIN_REQUESTS,
 "goodPause": "$GOOD_PAUSE", "baseP50Us": $BASE_P50_US, "baseP95Us": $BASE_P95_US,
 "delayMs": $DELAY_MS, "quick": ${QUICK:-0}, "profile": "$BENCH_PROFILE"}
EOF
}
if [[ -n $OUT ]]; then report >"$OUT" || die "report failed"; log "wrote $OUT"; else report || die "report failed"; fi
