#!/usr/bin/env bash
# `make bench`: corral and PM2 side by side, in one run, on the same Node app (manifests/apps/web.js, the demo).
#
#   throughput  wrk -t2 -c50 against: the bare app (node alone), PM2 fork ×1, PM2 cluster ×1 and
#               ×2, corral inherit/tcp/http ×1 and ×2, and as yardsticks for `http` mode three
#               reverse proxies in front of the bare app: nginx and HAProxy (one worker each,
#               keep-alive to the app) and bench/hyper_floor.rs (the least a proxy built on hyper
#               does); once with keep-alive (wrk's default) and once with a connection per
#               request (`Connection: close`).
#   reload      12 s of the same load while the app is reloaded 3 times (`pm2 reload` for PM2
#               fork ×1 and cluster ×2, `corral reload` for each corral mode ×2), counting
#               requests and failed requests (wrk's socket errors + non-2xx/3xx responses).
#
# Every setup runs at once on its own port (idle ones cost next to nothing), and throughput is
# measured in ROUNDS short rounds that visit every setup in turn: a neighbour's load on a shared
# machine then weighs on all setups alike instead of on whichever ran at that minute.
#
# Results go to docs/benchmarks.md (bench/report.js renders them), raw data to $TMP/results.jsonl.
# Installs what it lacks: wrk, nginx, haproxy (apt), PM2 (npm, into the temp folder only), corral (cargo build).
# Everything it starts is stopped on exit; traffic goes to 127.0.0.1 only.
# Knobs (environment): BENCH_ROUND (s per throughput round, default 4), BENCH_ROUNDS (default 3),
# BENCH_OUT (report path), BENCH_SETUPS (only these, e.g. "bare:1 pm2_cluster:2"; for trying out),
# BENCH_PARTS (the sections after throughput and reloads, default "memory watch logs footprint
# top metrics upgrade canary deps console": each is bench/PART.sh, run with the same PM2 install),
# BENCH_JOBS (how many sections run at once: default 1, all with BENCH_QUICK), BENCH_QUICK=1
# (`make test`'s smoke run: a few setups, 1 s rounds, short parts, every section at once; it
# checks that every part still runs and reports, the figures mean nothing).

set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROUND=${BENCH_ROUND:-4}         # seconds of measured load per setup, shape and round
ROUNDS=${BENCH_ROUNDS:-3}       # throughput rounds
WARMUP=2                        # seconds of unmeasured load per setup and shape (JIT, pools)
RELOAD_DURATION=12              # seconds of load per reload run
RELOADS=3                       # reloads per reload run
# shellcheck disable=SC2206 # split on purpose
PARTS=(${BENCH_PARTS:-memory watch logs footprint top metrics upgrade canary deps console})
JOBS=${BENCH_JOBS:-1}           # sections at once (see run_sections)
if [[ -n ${BENCH_QUICK:-} ]]; then
    JOBS=${BENCH_JOBS:-$((${#PARTS[@]} + 1))}
    export BENCH_PROFILE=debug
    ROUND=1 ROUNDS=1 WARMUP=0 RELOAD_DURATION=4 RELOADS=1
    BENCH_SETUPS=${BENCH_SETUPS:-bare:1 pm2_cluster:2 corral_http:2}
    export BENCH_QUICK BENCH_WATCH_DURATION=6 BENCH_LOG_LINES=20000 BENCH_LOG_ROUNDS=1
fi
WRK_ARGS=(-t2 -c50)
OUT=${BENCH_OUT:-$ROOT/docs/benchmarks.md}
# SETUP:INSTANCES. Single-process setups run ×1; the balanced ones ×1 and ×2 (one per CPU on the
# 2-core machine this was written for).
# shellcheck disable=SC2206 # split on purpose
SETUPS=(${BENCH_SETUPS:-bare:1 pm2_fork:1 pm2_cluster:1 corral_inherit:1 corral_tcp:1 corral_http:1
        nginx:1 haproxy:1 hyper:1 pm2_cluster:2 corral_inherit:2 corral_tcp:2 corral_http:2 nginx:2})
# Reloads use the production shapes: PM2 fork ×1, everything else ×2.
RELOADED=(pm2_fork:1 pm2_cluster:2 corral_inherit:2 corral_tcp:2 corral_http:2)
CORRAL=$ROOT/target/${BENCH_PROFILE:-release}/corral
APP=$ROOT/manifests/apps/web.js

TMP=$(mktemp -d /tmp/corral-bench.XXXXXX)
export PM2_HOME=$TMP/pm2-home           # a private PM2 daemon, never the user's
export CORRAL_HOME=$TMP/corral-home     # a private corral controller
RESULTS=$TMP/results.jsonl
export BENCH_PM2_PREFIX=$TMP/pm2       # one PM2 install for every part
PM2=$TMP/pm2/node_modules/.bin/pm2

declare -A PORT    # SETUP:INSTANCES -> its public port on 127.0.0.1
declare -A BROKEN  # SETUP:INSTANCES -> why it did not come up
declare -A PROXY_PID  # nginx:N, haproxy:1, hyper:1 -> the yardstick proxy's pid (stopped on exit)

# Processes this script started; cleanup stops them (and only them).
BARE_PID=""
BARE2_PID=""          # the second bare app, behind nginx ×2
BARE2_PORT=""
CORRAL_PID=""
WRK_PID=""
WRK_RESULT=""
PM2_STARTED=""

# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

# Stops every setup this script started (and only those); safe to call twice.
cleanup_setups() {
    [[ -n $WRK_PID ]] && kill "$WRK_PID" 2>/dev/null
    [[ -n $BARE_PID ]] && stop_pid "$BARE_PID"
    [[ -n $BARE2_PID ]] && stop_pid "$BARE2_PID"
    for pid in "${PROXY_PID[@]}"; do stop_pid "$pid"; done
    [[ -n $CORRAL_PID ]] && stop_pid "$CORRAL_PID"
    [[ -n $PM2_STARTED ]] && "$PM2" kill >/dev/null 2>&1
    WRK_PID="" BARE_PID="" BARE2_PID="" CORRAL_PID="" PM2_STARTED="" PROXY_PID=()
}

cleanup() {
    stop_sections
    cleanup_setups
    log "raw results and logs kept in $TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The name a setup's app has under PM2 or corral: pm2_cluster:2 -> cluster-2.
app_name() { local s=${1%%:*}; echo "${s#*_}-${1##*:}"; }

# ---------------------------------------------------------------------------------------------
# Tools

install_tools() {
    if ! command -v wrk >/dev/null; then
        log "installing wrk (apt)"
        { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; } || die "could not install wrk"
    fi
    local tool missing=()
    for tool in nginx haproxy; do
        [[ " ${SETUPS[*]} " == *" $tool:"* ]] && ! command -v "$tool" >/dev/null && missing+=("$tool")
    done
    if ((${#missing[@]})); then
        log "installing ${missing[*]} (apt), the reference proxies"
        { apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null; } ||
            log "could not install ${missing[*]}: those setups will be reported as not measured"
    fi
    command -v node >/dev/null || die "Node.js is needed (node not found in PATH)"
    command -v curl >/dev/null || die "curl is needed"
    install_pm2
    log "building corral and bench/hyper_floor.rs (cargo build, $BENCH_PROFILE)"
    build_corral --bin corral --example hyper_floor ||
        die "cargo build failed"
}

# ---------------------------------------------------------------------------------------------
# Starting every setup: the bare app, one PM2 daemon with an app per PM2 setup, one corral
# controller with an app per corral setup. A setup that does not come up is marked BROKEN.

start_all() {
    local key pm2_apps=() corral_apps=()
    for key in "${SETUPS[@]}"; do
        PORT[$key]=$(free_port)
        case $key in
            bare:* | nginx:* | haproxy:* | hyper:*) ;;
            pm2_*) pm2_apps+=("$key") ;;
            corral_*) corral_apps+=("$key") ;;
            *) die "unknown setup $key" ;;
        esac
    done
    # The reference proxies forward to the bare app: it runs whenever one of them does.
    [[ -n ${PORT[bare:1]:-}${PORT[nginx:1]:-}${PORT[nginx:2]:-}${PORT[haproxy:1]:-}${PORT[hyper:1]:-} ]] &&
        start_bare
    [[ -n ${PORT[nginx:1]:-}${PORT[nginx:2]:-} ]] && start_nginx
    [[ -n ${PORT[haproxy:1]:-} ]] && start_haproxy
    [[ -n ${PORT[hyper:1]:-} ]] && start_hyper
    ((${#pm2_apps[@]})) && start_pm2 "${pm2_apps[@]}"
    ((${#corral_apps[@]})) && start_corral "${corral_apps[@]}"
    for key in "${SETUPS[@]}"; do
        [[ -n ${BROKEN[$key]:-} ]] && continue
        wait_http "http://127.0.0.1:${PORT[$key]}/healthz" 10 ||
            BROKEN[$key]="did not answer GET /healthz on its port"
    done
}

start_bare() {
    # A proxy-only run (BENCH_SETUPS without bare:1) still needs the app behind the proxies.
    [[ -n ${PORT[bare:1]:-} ]] || PORT[bare:1]=$(free_port)
    PORT=${PORT[bare:1]} node "$APP" >"$TMP/bare.log" 2>&1 &
    BARE_PID=$!
    if [[ -n ${PORT[nginx:2]:-} ]]; then
        BARE2_PORT=$(free_port)
        PORT=$BARE2_PORT node "$APP" >"$TMP/bare2.log" 2>&1 &
        BARE2_PID=$!
    fi
}

# nginx as a reverse proxy to the bare app (nginx:1) and balancing over two bare apps (nginx:2),
# keep-alive upstreams as its docs describe; one worker process (two do worse here: they compete
# with wrk and the apps for 2 CPUs).
start_nginx() {
    local key servers=""
    if ! command -v nginx >/dev/null; then
        for key in nginx:1 nginx:2; do BROKEN[$key]="nginx is not installed"; done
        return
    fi
    mkdir -p "$TMP/nginx/logs"
    for key in nginx:1 nginx:2; do
        [[ -n ${PORT[$key]:-} ]] || continue
        servers+="
    server {
        listen 127.0.0.1:${PORT[$key]};
        location / {
            proxy_pass http://app${key#nginx:};
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
        }
    }"
    done
    cat >"$TMP/nginx/nginx.conf" <<EOF
worker_processes 1;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/logs/error.log;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $TMP/nginx/body;
    proxy_temp_path $TMP/nginx/proxy;
    fastcgi_temp_path $TMP/nginx/fastcgi;
    uwsgi_temp_path $TMP/nginx/uwsgi;
    scgi_temp_path $TMP/nginx/scgi;
    upstream app1 { server 127.0.0.1:${PORT[bare:1]}; keepalive 64; }
    upstream app2 { server 127.0.0.1:${PORT[bare:1]}; server 127.0.0.1:${BARE2_PORT:-${PORT[bare:1]}}; keepalive 64; }
$servers
}
EOF
    nginx -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" -g 'daemon off;' >"$TMP/nginx/logs/stderr.log" 2>&1 &
    PROXY_PID[nginx:1]=$!
    PROXY_PID[nginx:2]=$!
}

# HAProxy in http mode reusing its connections to the bare app; one thread, like nginx.
start_haproxy() {
    command -v haproxy >/dev/null || { BROKEN[haproxy:1]="haproxy is not installed"; return; }
    cat >"$TMP/haproxy.cfg" <<EOF
global
    nbthread 1
    maxconn 4000
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
    http-reuse always
frontend public
    bind 127.0.0.1:${PORT[haproxy:1]}
    default_backend app
backend app
    server app 127.0.0.1:${PORT[bare:1]}
EOF
    haproxy -f "$TMP/haproxy.cfg" >"$TMP/haproxy.log" 2>&1 &
    PROXY_PID[haproxy:1]=$!
}

# bench/hyper_floor.rs: the plainest proxy built on hyper, for hyper's own cost.
start_hyper() {
    "$ROOT/target/$BENCH_PROFILE/examples/hyper_floor" "${PORT[hyper:1]}" "${PORT[bare:1]}" \
        >"$TMP/hyper_floor.log" 2>&1 &
    PROXY_PID[hyper:1]=$!
}

# PM2 from an ecosystem file, with its defaults for everything but mode, instances and PORT.
start_pm2() {
    local key apps=() mode
    for key in "$@"; do
        mode=fork
        [[ $key == pm2_cluster:* ]] && mode=cluster
        apps+=("{\"name\": \"$(app_name "$key")\", \"script\": \"$APP\", \"exec_mode\": \"$mode\",
                 \"instances\": ${key##*:}, \"env\": {\"PORT\": \"${PORT[$key]}\"}}")
    done
    (IFS=,; echo "{\"apps\": [${apps[*]}]}") >"$TMP/ecosystem.json"
    log "starting PM2: $*"
    PM2_STARTED=1
    "$PM2" start "$TMP/ecosystem.json" >>"$TMP/pm2.log" 2>&1 ||
        for key in "$@"; do BROKEN[$key]="pm2 start failed (see $TMP/pm2.log)"; done
}

# One App manifest per corral setup: the readiness probe and stop timeout a user would write.
start_corral() {
    local key
    mkdir -p "$TMP/manifests"
    for key in "$@"; do
        cat >"$TMP/manifests/$(app_name "$key").yaml" <<EOF
apiVersion: corral/v1
kind: App
metadata: {name: $(app_name "$key")}
spec:
  command: ["node", "$APP"]
  instances: ${key##*:}
  listen: [{port: ${PORT[$key]}, host: 127.0.0.1, mode: $(app_name "$key" | cut -d- -f1)}]
  readiness: {http: {path: /healthz}, periodSeconds: 1}
  stop: {signal: SIGTERM, timeout: 5s}
EOF
    done
    log "starting corral: $*"
    "$CORRAL" controller --manifests "$TMP/manifests" >"$TMP/controller.log" 2>&1 &
    CORRAL_PID=$!
    corral_wait_ready "$@"
}

# Wait up to 30 s until every corral app is fully ready; mark the others BROKEN with corral's
# own account of them (status, last events).
corral_wait_ready() {
    local deadline=$((SECONDS + 30)) key line names=()
    local -A why=()
    for key in "$@"; do names+=("$(app_name "$key")"); done
    while ((SECONDS < deadline)); do
        kill -0 "$CORRAL_PID" 2>/dev/null || break
        why=()
        # shellcheck disable=SC2016 # the ${…} below are JavaScript's
        while IFS=$'\t' read -r key line; do why[$key]=$line; done < <(
            "$CORRAL" get -o json 2>/dev/null | node -e '
            let s = ""; process.stdin.on("data", d => s += d).on("end", () => {
              let apps = []; try { apps = JSON.parse(s).apps; } catch {}
              for (const name of process.argv.slice(1)) {
                const a = apps.find(a => a.name === name);
                if (!a) { console.log(`${name}\tnot known to the controller`); continue; }
                if (a.desired > 0 && a.ready === a.desired) continue;
                const ev = (a.events || []).slice(-2).map(e => e.reason + ": " + e.message).join("; ");
                console.log(`${name}\t${a.ready}/${a.desired} ready, status ${a.status}` +
                            (a.error ? `, error ${a.error}` : "") + (ev ? `; last events: ${ev}` : ""));
              } });' "${names[@]}")
        ((${#why[@]} == 0)) && return 0
        sleep 0.5
    done
    kill -0 "$CORRAL_PID" 2>/dev/null || why=([all]="the controller exited (see $TMP/controller.log)")
    for key in "$@"; do
        line=${why[$(app_name "$key")]:-${why[all]:-}}
        [[ -n $line ]] && BROKEN[$key]="not ready within 30 s: $line" && log "$key: ${BROKEN[$key]}"
    done
}

# Reload a setup's app once, its own way; returns when the reload is complete.
reload_app() {
    local key=$1 name
    name=$(app_name "$key")
    case $key in
        pm2_*) timeout 60 "$PM2" reload "$name" >>"$TMP/pm2.log" 2>&1 ;;
        corral_*)
            "$CORRAL" reload "$name" >/dev/null &&
                timeout 60 "$CORRAL" rollout status "$name" -w >/dev/null ;;
    esac
}

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

# record SCENARIO SETUP:INSTANCES SHAPE WRK_JSON RELOAD_SECONDS_JSON ERROR [PROXY_CPU_JSON]
record() {
    local wrk=${4:-null}
    printf '{"scenario":"%s","setup":"%s","instances":%s,"shape":"%s","wrk":%s,"reloads":%s,"error":%s,"proxyCpu":%s}\n' \
        "$1" "${2%%:*}" "${2##*:}" "$3" "$wrk" "$5" "$(node -p 'JSON.stringify(process.argv[1])' "$6")" \
        "${7:-null}" >>"$RESULTS"
}

# The processes whose CPU is a setup's proxy: corral's controller (its tcp/http proxies; the
# instances are other processes) and the yardstick proxies (nginx: master and worker).
proxy_pids() {
    case $1 in
        corral_tcp:* | corral_http:*) echo "$CORRAL_PID" ;;
        nginx:* | haproxy:* | hyper:*)
            local pid=${PROXY_PID[$1]:-}
            [[ -n $pid ]] && echo "$pid" $(pgrep -P "$pid") ;;
    esac
}

# One throughput measurement: SETUP:INSTANCES SHAPE SECONDS; for a proxy setup also the CPU
# seconds (user, system) its proxy process spent meanwhile.
measure() {
    local key=$1 shape=$2 seconds=$3 pids before after cpu=null tck
    # shellcheck disable=SC2207 # pids are words
    pids=($(proxy_pids "$key"))
    ((${#pids[@]})) && before=$(cpu_ticks "${pids[@]}")
    wrk_start "$seconds" "$shape" "${PORT[$key]}"
    wrk_finish
    if ((${#pids[@]})); then
        after=$(cpu_ticks "${pids[@]}")
        tck=$(getconf CLK_TCK)
        cpu=$(awk -v b="$before" -v a="$after" -v t="$tck" 'BEGIN {
            split(b, x, " "); split(a, y, " ");
            printf "{\"user\":%.2f,\"sys\":%.2f}", (y[1] - x[1]) / t, (y[2] - x[2]) / t }')
    fi
    record throughput "$key" "$shape" "$WRK_RESULT" "[]" "$([[ -z $WRK_RESULT ]] && echo "wrk failed")" "$cpu"
}

throughput() {
    local key shape round
    for key in "${SETUPS[@]}"; do
        [[ -n ${BROKEN[$key]:-} ]] && continue
        log "warming up $key"
        for shape in keepalive close; do
            wrk_start "$WARMUP" "$shape" "${PORT[$key]}"
            wrk_finish
        done
    done
    for ((round = 1; round <= ROUNDS; round++)); do
        log "throughput round $round of $ROUNDS"
        for shape in keepalive close; do
            for key in "${SETUPS[@]}"; do
                [[ -n ${BROKEN[$key]:-} ]] || measure "$key" "$shape" "$ROUND"
            done
        done
    done
}

# reload SETUP:INSTANCES: per load shape, RELOAD_DURATION s of load with RELOADS reloads inside.
reload() {
    local key=$1 shape start i t times result error
    log "reload: $key"
    for shape in keepalive close; do
        wrk_start "$RELOAD_DURATION" "$shape" "${PORT[$key]}"
        start=$(now)
        times=() error=""
        sleep 1  # steady load first
        for ((i = 0; i < RELOADS; i++)); do
            ((i > 0)) && sleep 0.5
            t=$(now)
            if ! reload_app "$key"; then error="reload $((i + 1)) failed"; break; fi
            times+=("$(elapsed "$t")")
        done
        # A reload that ends after the load does is partly outside the measurement: say so.
        t=$(elapsed "$start")
        if [[ -z $error ]] && awk -v t="$t" -v d="$RELOAD_DURATION" 'BEGIN { exit !(t > d) }'; then
            error="the reloads took $t s, longer than the $RELOAD_DURATION s of load"
        fi
        wrk_finish
        result=$WRK_RESULT
        [[ -z $result ]] && error="${error:+$error; }wrk failed"
        record reload "$key" "$shape" "$result" "[$(IFS=,; echo "${times[*]}")]" "$error"
        wait_http "http://127.0.0.1:${PORT[$key]}/healthz" 10 || true
    done
}

# ---------------------------------------------------------------------------------------------

# This script's own section, throughput and reloads: its report in $1.
throughput_and_reloads() {
    local start=$SECONDS load_before key shape
    load_before=$(cut -d' ' -f1-3 /proc/loadavg)
    : >"$RESULTS"
    start_all
    for key in "${SETUPS[@]}"; do
        [[ -n ${BROKEN[$key]:-} ]] || continue
        for shape in keepalive close; do record throughput "$key" "$shape" "" "[]" "${BROKEN[$key]}"; done
    done
    throughput
    for key in "${RELOADED[@]}"; do
        [[ -n ${PORT[$key]:-} ]] || continue  # not among BENCH_SETUPS
        if [[ -n ${BROKEN[$key]:-} ]]; then
            for shape in keepalive close; do record reload "$key" "$shape" "" "[]" "${BROKEN[$key]}"; done
        else
            reload "$key"
        fi
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
 "nginx": "$(nginx -v 2>&1 | sed 's/^nginx version: //')",
 "haproxy": "$(haproxy -v 2>/dev/null | head -1 | cut -d' ' -f3)",
 "corral": "$(git -C "$ROOT" describe --always --dirty 2>/dev/null)",
 "round": $ROUND, "rounds": $ROUNDS, "warmup": $WARMUP,
 "reloadDuration": $RELOAD_DURATION, "reloads": $RELOADS,
 "load": "$load_before at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end",
 "wrkArgs": "${WRK_ARGS[*]}", "seconds": $((SECONDS - start))}
EOF
    node "$ROOT/bench/report.js" "$RESULTS" "$TMP/machine.json" >"$1" || die "report failed"
    cleanup_setups
}

# The sections: throughput and reloads, then each part (bench/PART.sh, its report in
# $TMP/PART.md), at most JOBS at once. `make bench` runs one at a time (they measure, and a
# section beside another would weigh on its figures); the smoke run checks only that each runs
# and reports, so it runs them side by side (each part has its own PM2 daemon, controller, homes
# and ports), in about the time of the longest instead of the sum.
declare -A SECTION=()  # pid -> the section it runs
FAILED=()           # the sections that failed

run_sections() {
    local name
    for name in throughput "${PARTS[@]}"; do
        while ((${#SECTION[@]} >= JOBS)); do reap_section; done
        if [[ $name == throughput ]]; then
            # A subshell that stops its own setups on exit (traps are not inherited).
            (
                trap cleanup_setups EXIT
                trap 'exit 130' INT TERM
                throughput_and_reloads "$TMP/throughput.md"
            ) &
        else
            log "part: bench/$name.sh"
            BENCH_NAME=$name "$ROOT/bench/$name.sh" "$TMP/$name.md" &
        fi
        SECTION[$!]=$name
    done
    while ((${#SECTION[@]})); do reap_section; done
}

# Waits for the next section to end; one that failed or wrote no report goes to FAILED. The
# status is taken when the section ends: a pid waited for later may be another child's by then
# (a whole bench forks tens of thousands of processes), and `wait` would answer 127.
reap_section() {
    local pid="" status=0 name
    wait -n -p pid "${!SECTION[@]}" || status=$?
    if [[ -z $pid ]]; then
        # No section left to wait for (cannot happen): none is counted as passed.
        for name in "${SECTION[@]}"; do FAILED+=("$name"); done
        SECTION=()
        return
    fi
    name=${SECTION[$pid]}
    unset "SECTION[$pid]"
    ((status == 0)) && [[ -s $TMP/$name.md ]] || FAILED+=("$name")
}

# On an early exit: stops the sections still running (each stops what it started).
stop_sections() {
    local pid
    for pid in "${!SECTION[@]}"; do kill -TERM "$pid" 2>/dev/null; done
    for pid in "${!SECTION[@]}"; do wait "$pid" 2>/dev/null; done
    SECTION=()
}

main() {
    local start=$SECONDS name
    install_tools
    run_sections
    mkdir -p "$(dirname "$OUT")"
    for name in throughput "${PARTS[@]}"; do
        [[ $name == throughput ]] || echo
        if [[ " ${FAILED[*]} " == *" $name "* ]]; then
            printf '## %s\n\n%s failed in this run (its log: %s).\n' "$name" \
                "$([[ $name == throughput ]] && echo bench/run.sh || echo "bench/$name.sh")" "$TMP"
        else
            cat "$TMP/$name.md"
        fi
    done >"$OUT.tmp"
    mv "$OUT.tmp" "$OUT"
    log "wrote $OUT in $((SECONDS - start)) s"
    ((${#FAILED[@]} == 0)) || die "these sections failed: ${FAILED[*]}"
}

main "$@"
