#!/usr/bin/env bash
# `make bench`: corral and PM2 side by side, in one run, on the same Node app (bench/app.js).
#
#   throughput  wrk -t2 -c50 against: the bare app (node alone), PM2 fork ×1, PM2 cluster ×1 and
#               ×2, corral inherit/tcp/http ×1 and ×2; once with keep-alive (wrk's default) and
#               once with a connection per request (`Connection: close`).
#   reload      12 s of the same load while the app is reloaded 3 times (`pm2 reload` for PM2
#               fork ×1 and cluster ×2, `corral reload` for each corral mode ×2), counting
#               requests and failed requests (wrk's socket errors + non-2xx/3xx responses).
#
# Results go to docs/benchmarks.md (bench/report.js renders them), raw data to $TMP/results.jsonl.
# Installs what it lacks: wrk (apt), PM2 (npm, into the temp folder only), corral (cargo build).
# Everything it starts is stopped on exit; traffic goes to 127.0.0.1 only.
# Knobs (environment): BENCH_DURATION (s per throughput run, default 10), BENCH_OUT (report path),
# BENCH_SETUPS (run only these setups, e.g. "bare pm2_cluster"; for trying the script out).

set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DURATION=${BENCH_DURATION:-10}  # seconds of measured load per throughput run
WARMUP=2                        # seconds of unmeasured load before each throughput run (JIT, pools)
RELOAD_DURATION=12              # seconds of load per reload run
RELOADS=3                       # reloads per reload run
WRK_ARGS=(-t2 -c50)
OUT=${BENCH_OUT:-$ROOT/docs/benchmarks.md}
SETUPS=${BENCH_SETUPS:-bare pm2_fork pm2_cluster corral_inherit corral_tcp corral_http}
CORRAL=$ROOT/target/release/corral
APP=$ROOT/bench/app.js

TMP=$(mktemp -d /tmp/corral-bench.XXXXXX)
export PM2_HOME=$TMP/pm2-home   # a private PM2 daemon, never the user's
export CORRAL_HOME              # set per corral setup, see corral_start
RESULTS=$TMP/results.jsonl
PM2=$TMP/pm2/node_modules/.bin/pm2

# Processes this script started; cleanup stops them (and only them).
BARE_PID=""
CORRAL_PID=""
WRK_PID=""
WRK_RESULT=""
PM2_STARTED=""

log() { printf '[bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "error: $*"; exit 1; }

cleanup() {
    [[ -n $WRK_PID ]] && kill "$WRK_PID" 2>/dev/null
    [[ -n $BARE_PID ]] && stop_pid "$BARE_PID"
    [[ -n $CORRAL_PID ]] && stop_pid "$CORRAL_PID"
    [[ -n $PM2_STARTED ]] && "$PM2" kill >/dev/null 2>&1
    log "raw results and logs kept in $TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# SIGTERM a process, wait up to 15 s for it to exit, then SIGKILL it.
stop_pid() {
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 150; i++)); do
        kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
        sleep 0.1
    done
    log "pid $pid ignored SIGTERM for 15 s, killing it"
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
}

# A TCP port on 127.0.0.1 that nothing listens on right now (the kernel picks it).
free_port() {
    node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}

# Wait up to $2 seconds (default 30) until GET $1 answers 2xx.
wait_http() {
    local url=$1 deadline=$((SECONDS + ${2:-30}))
    while ((SECONDS < deadline)); do
        curl -fsS -o /dev/null --max-time 1 "$url" 2>/dev/null && return 0
        sleep 0.2
    done
    log "$url did not answer 2xx within ${2:-30} s"
    return 1
}

now() { echo "$EPOCHREALTIME"; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

# ---------------------------------------------------------------------------------------------
# Tools

install_tools() {
    if ! command -v wrk >/dev/null; then
        log "installing wrk (apt)"
        { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; } || die "could not install wrk"
    fi
    command -v node >/dev/null || die "Node.js is needed (node not found in PATH)"
    command -v curl >/dev/null || die "curl is needed"
    log "installing PM2 into $TMP/pm2 (npm, not global)"
    npm install --prefix "$TMP/pm2" --no-audit --no-fund --loglevel=error pm2@latest >/dev/null ||
        die "npm install pm2 failed"
    log "building corral (cargo build --release)"
    (cd "$ROOT" && cargo build --release --locked --quiet) || die "cargo build failed"
}

# ---------------------------------------------------------------------------------------------
# The setups under test. Each *_start takes INSTANCES and PORT and returns once the app answers
# on 127.0.0.1:PORT; setup_stop stops whatever is running.

bare_start() {
    PORT=$2 node "$APP" >"$TMP/bare.log" 2>&1 &
    BARE_PID=$!
    wait_http "http://127.0.0.1:$2/healthz"
}

# PM2 from an ecosystem file; exec_mode fork or cluster (PM2's own defaults otherwise).
pm2_start() {
    local exec_mode=$1 instances=$2 port=$3
    cat >"$TMP/ecosystem.json" <<EOF
{"apps": [{"name": "web", "script": "$APP", "exec_mode": "$exec_mode",
           "instances": $instances, "env": {"PORT": "$port"}}]}
EOF
    PM2_STARTED=1
    "$PM2" start "$TMP/ecosystem.json" >>"$TMP/pm2.log" 2>&1 || return 1
    wait_http "http://127.0.0.1:$port/healthz"
}
pm2_fork_start() { pm2_start fork "$@"; }
pm2_cluster_start() { pm2_start cluster "$@"; }

# A corral controller of its own (fresh CORRAL_HOME) over a directory holding one App manifest.
corral_start() {
    local mode=$1 instances=$2 port=$3 dir
    dir=$TMP/corral-$mode-$instances
    mkdir -p "$dir/manifests"
    CORRAL_HOME=$dir/home
    cat >"$dir/manifests/web.yaml" <<EOF
apiVersion: corral/v1
kind: App
metadata: {name: web}
spec:
  command: ["node", "$APP"]
  instances: $instances
  listen: [{port: $port, host: 127.0.0.1, mode: $mode}]
  readiness: {http: {path: /healthz}, periodSeconds: 1}
  stop: {signal: SIGTERM, timeout: 5s}
EOF
    "$CORRAL" controller --manifests "$dir/manifests" >"$dir/controller.log" 2>&1 &
    CORRAL_PID=$!
    corral_wait_ready "$instances" && wait_http "http://127.0.0.1:$port/healthz"
}
corral_inherit_start() { corral_start inherit "$@"; }
corral_tcp_start() { corral_start tcp "$@"; }
corral_http_start() { corral_start http "$@"; }

# Wait up to 30 s until app `web` has $1 ready instances (corral get -o json).
corral_wait_ready() {
    local want=$1 deadline=$((SECONDS + 30)) ready
    while ((SECONDS < deadline)); do
        kill -0 "$CORRAL_PID" 2>/dev/null || { log "the corral controller exited"; return 1; }
        ready=$("$CORRAL" get -o json 2>/dev/null | node -e '
            let s = ""; process.stdin.on("data", d => s += d).on("end", () => {
              try { const a = JSON.parse(s).apps.find(a => a.name === "web"); console.log(a ? a.ready : 0); }
              catch { console.log(0); } });')
        [[ $ready == "$want" ]] && return 0
        sleep 0.3
    done
    log "corral: app web not $want/$want ready within 30 s"
    return 1
}

# One line on why a setup did not come up, for the report (corral's own account, if it runs).
why_not_started() {
    [[ $1 == corral_* && -n $CORRAL_PID ]] || { echo "did not start"; return; }
    # shellcheck disable=SC2016 # the ${…} below are JavaScript's
    "$CORRAL" get -o json 2>/dev/null | node -e '
        let s = ""; process.stdin.on("data", d => s += d).on("end", () => {
          let a; try { a = JSON.parse(s).apps.find(a => a.name === "web"); } catch {}
          if (!a) return console.log("did not start (corral get: no app web)");
          const ev = (a.events || []).slice(-2).map(e => e.reason + ": " + e.message).join("; ");
          console.log(`did not start: corral get says ${a.ready}/${a.desired} ready, status ${a.status}` +
                      (a.error ? `, error ${a.error}` : "") + (ev ? `; last events: ${ev}` : ""));
        });'
}

setup_stop() {
    if [[ -n $BARE_PID ]]; then stop_pid "$BARE_PID"; BARE_PID=""; fi
    if [[ -n $CORRAL_PID ]]; then stop_pid "$CORRAL_PID"; CORRAL_PID=""; fi
    if [[ -n $PM2_STARTED ]]; then "$PM2" delete all >>"$TMP/pm2.log" 2>&1; fi
}

# Reload app `web` once, the setup's own way; returns when the reload is complete.
pm2_fork_reload() { timeout 60 "$PM2" reload web >>"$TMP/pm2.log" 2>&1; }
pm2_cluster_reload() { pm2_fork_reload; }
corral_reload() {
    "$CORRAL" reload web >/dev/null && timeout 60 "$CORRAL" rollout status web -w >/dev/null
}
corral_inherit_reload() { corral_reload; }
corral_tcp_reload() { corral_reload; }
corral_http_reload() { corral_reload; }

# ---------------------------------------------------------------------------------------------
# Measuring

# wrk_start SECONDS SHAPE PORT: start the load in the background.
# SHAPE keepalive is wrk's default; close sends `Connection: close` (a connection per request).
wrk_start() {
    local seconds=$1 shape=$2 port=$3 header=()
    [[ $shape == close ]] && header=(-H "Connection: close")
    wrk "${WRK_ARGS[@]}" -d"${seconds}s" --timeout 5s -s "$ROOT/bench/result.lua" "${header[@]}" \
        "http://127.0.0.1:$port/" >"$TMP/wrk.out" 2>&1 &
    WRK_PID=$!
}

# wrk_finish: wait for the load to end; WRK_RESULT = wrk's RESULT JSON (empty if wrk failed).
# (Not a $(…) function: only this shell, wrk's parent, can wait for it.)
wrk_finish() {
    wait "$WRK_PID"
    WRK_PID=""
    cat "$TMP/wrk.out" >>"$TMP/wrk.log"
    WRK_RESULT=$(sed -n 's/^RESULT //p' "$TMP/wrk.out")
}

# record SCENARIO SETUP INSTANCES SHAPE WRK_JSON [RELOAD_SECONDS_JSON] [ERROR]
record() {
    local wrk=${5:-null} reloads=${6:-[]} error=${7:-}
    [[ -z $wrk ]] && wrk=null
    printf '{"scenario":"%s","setup":"%s","instances":%s,"shape":"%s","wrk":%s,"reloads":%s,"error":%s}\n' \
        "$1" "$2" "$3" "$4" "$wrk" "$reloads" "$(node -p 'JSON.stringify(process.argv[1])' "$error")" \
        >>"$RESULTS"
}

# throughput SETUP INSTANCES: both load shapes against one running setup.
throughput() {
    local setup=$1 instances=$2 port shape result why
    port=$(free_port)
    log "throughput: $setup ×$instances on :$port"
    if ! "${setup}_start" "$instances" "$port"; then
        why=$(why_not_started "$setup")
        for shape in keepalive close; do record throughput "$setup" "$instances" "$shape" "" "[]" "$why"; done
        setup_stop
        return
    fi
    for shape in keepalive close; do
        wrk_start "$WARMUP" "$shape" "$port"
        wrk_finish
        wrk_start "$DURATION" "$shape" "$port"
        wrk_finish
        result=$WRK_RESULT
        record throughput "$setup" "$instances" "$shape" "$result" "[]" "$([[ -z $result ]] && echo "wrk failed")"
    done
    setup_stop
}

# reload SETUP INSTANCES: per load shape, RELOAD_DURATION s of load with RELOADS reloads inside.
reload() {
    local setup=$1 instances=$2 port shape start i t times result error why
    port=$(free_port)
    log "reload: $setup ×$instances on :$port"
    if ! "${setup}_start" "$instances" "$port"; then
        why=$(why_not_started "$setup")
        for shape in keepalive close; do record reload "$setup" "$instances" "$shape" "" "[]" "$why"; done
        setup_stop
        return
    fi
    for shape in keepalive close; do
        wrk_start "$RELOAD_DURATION" "$shape" "$port"
        start=$(now)
        times=() error=""
        sleep 1  # steady load first
        for ((i = 0; i < RELOADS; i++)); do
            ((i > 0)) && sleep 0.5
            t=$(now)
            if ! "${setup}_reload"; then error="reload $((i + 1)) failed"; break; fi
            times+=("$(elapsed "$t")")
        done
        # A reload that ends after the load does is outside the measurement: say so.
        t=$(elapsed "$start")
        if [[ -z $error ]] && awk -v t="$t" -v d="$RELOAD_DURATION" 'BEGIN { exit !(t > d) }'; then
            error="the reloads took $t s, longer than the $RELOAD_DURATION s of load"
        fi
        wrk_finish
        result=$WRK_RESULT
        [[ -z $result ]] && error="${error:+$error; }wrk failed"
        record reload "$setup" "$instances" "$shape" "$result" \
            "[$(IFS=,; echo "${times[*]}")]" "$error"
        wait_http "http://127.0.0.1:$port/healthz" 10 || true
    done
    setup_stop
}

# ---------------------------------------------------------------------------------------------

main() {
    local bench_start=$SECONDS load_before
    load_before=$(cut -d' ' -f1-3 /proc/loadavg)
    install_tools
    : >"$RESULTS"

    # Single-process setups run with 1 instance; the balanced ones with 1 and with 2 (one per CPU
    # on the 2-core machine this was written for). Reloads use the production shape: PM2 fork ×1,
    # everything else ×2.
    for setup in $SETUPS; do throughput "$setup" 1; done
    for setup in $SETUPS; do [[ $setup == pm2_cluster || $setup == corral_* ]] && throughput "$setup" 2; done
    for setup in $SETUPS; do
        case $setup in
            pm2_fork) reload "$setup" 1 ;;
            pm2_cluster | corral_*) reload "$setup" 2 ;;
        esac
    done

    # The machine and versions, for the report.
    cat >"$TMP/machine.json" <<EOF
{"date": "$(date -u '+%Y-%m-%d %H:%M UTC')",
 "nproc": "$(nproc)",
 "cpu": "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)",
 "kernel": "$(uname -sr)",
 "node": "$(node --version)",
 "pm2": "$(node -p "require('$TMP/pm2/node_modules/pm2/package.json').version")",
 "wrk": "$(wrk -v 2>&1 | head -1 | sed "s/ Copyright.*//")",
 "corral": "$(git -C "$ROOT" describe --always --dirty 2>/dev/null)",
 "duration": $DURATION, "warmup": $WARMUP, "reloadDuration": $RELOAD_DURATION, "reloads": $RELOADS,
 "load": "$load_before at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end",
 "wrkArgs": "${WRK_ARGS[*]}", "seconds": $((SECONDS - bench_start))}
EOF
    mkdir -p "$(dirname "$OUT")"
    node "$ROOT/bench/report.js" "$RESULTS" "$TMP/machine.json" >"$OUT" || die "report failed"
    log "wrote $OUT in $((SECONDS - bench_start)) s"
}

main "$@"
