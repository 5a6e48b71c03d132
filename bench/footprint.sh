#!/usr/bin/env bash
# The controller's own footprint, corral against PM2's daemon (God), on a tiny non-Node process
# (`sleep`, run by PM2 with `interpreter: none`), so only the supervisor's cost is measured:
#
#   startup   corral: a manifest with `instances: N` renamed into the manifests directory of a
#             running controller → `corral get` shows N/N ready (no probe: ready = up for 1 s);
#             PM2: `pm2 start ecosystem.json` (fork mode, N instances, daemon already up) →
#             `pm2 jlist` shows N online (PM2 has no readiness delay: online = spawned).
#   idle CPU  then, with those N running and nothing happening, the CPU (utime + stime from
#             /proc/PID/stat) the controller / the PM2 daemon spends over IDLE_WINDOW seconds,
#             in % of one core; and its RSS (VmRSS) with N instances.
#   RSS       a fresh controller / PM2 daemon with APPS apps of 1 instance each, once all are
#             up and a few samples have passed: VmRSS of the controller / the daemon; for corral
#             also the time from the controller's launch to the last app's `Started` event.
#
# Usage: bench/footprint.sh [REPORT.md] — writes a markdown section there (or to stdout).
# Knobs: BENCH_FOOTPRINT_N (default 1000), BENCH_FOOTPRINT_IDLE (seconds, default 30),
# BENCH_FOOTPRINT_PM2=0 (corral only, for trying changes out), BENCH_CORRAL=PATH (that corral
# binary instead of building one: before/after comparisons). BENCH_QUICK: 50 instances, 3 s.
# Installs a private PM2 (npm, into the temp folder) if needed; builds corral (cargo).
# Everything it starts is stopped on exit. Takes about 3–4 minutes (PM2 starting N dominates).

set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_NAME=footprint
OUT=${1:-}
CORRAL=${BENCH_CORRAL:-$ROOT/target/${BENCH_PROFILE:-release}/corral}
N=${BENCH_FOOTPRINT_N:-1000}
IDLE_WINDOW=${BENCH_FOOTPRINT_IDLE:-30}
SETTLE=5        # seconds between "all up" and a measurement (the first samples, record writes)
APPS=20
START_WAIT=300  # seconds allowed for N instances to come up
WITH_PM2=${BENCH_FOOTPRINT_PM2:-1}
if [[ -n ${BENCH_QUICK:-} ]]; then
    N=50 IDLE_WINDOW=3 SETTLE=1 APPS=5
fi

# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
private_setup footprint

cleanup() {
    stop_started
    log "logs kept in $TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

TCK=$(getconf CLK_TCK)

# utime + stime of PID, in clock ticks.
ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }

# VmRSS of PID in KiB.
rss_kib() { awk '$1 == "VmRSS:" { print $2 }' "/proc/$1/status"; }

# CPU % of one core PID spends over SECONDS.
idle_cpu() {
    local pid=$1 seconds=$2 before after
    before=$(ticks "$pid")
    sleep "$seconds"
    after=$(ticks "$pid")
    awk -v b="$before" -v a="$after" -v t="$TCK" -v s="$seconds" \
        'BEGIN { printf "%.2f", (a - b) / t / s * 100 }'
}

# idle_figures WHO PID: SETTLE s after the start, PID's CPU % over IDLE_WINDOW s and its RSS
# (KiB), printed as "CPU RSS".
idle_figures() {
    local cpu rss
    sleep "$SETTLE"
    cpu=$(idle_cpu "$2" "$IDLE_WINDOW")
    rss=$(rss_kib "$2")
    log "$1: idle CPU $cpu % with $N instances, RSS $rss KiB"
    echo "$cpu $rss"
}

# wait_corral COUNT NAME…: poll `corral get -o json` until every NAME has COUNT of COUNT
# ready; prints the unix ms of the first poll that saw it (exit 1 after START_WAIT s).
wait_corral() {
    node -e '
      const { execFileSync } = require("node:child_process");
      const [corral, count, wait, ...names] = process.argv.slice(1);
      const deadline = Date.now() + Number(wait) * 1000;
      const poll = () => {
        let apps = [], ok = false;
        try { apps = JSON.parse(execFileSync(corral, ["get", "-o", "json"], { stdio: ["ignore", "pipe", "ignore"], maxBuffer: 1 << 30 })).apps; ok = true; } catch {}
        const done = ok && names.every(n => apps.some(a => a.name === n && a.desired === +count && a.ready === +count));
        if (done) { console.log(Date.now()); return; }
        if (Date.now() > deadline) process.exit(1);
        setTimeout(poll, 50);
      };
      poll();' "$CORRAL" "$1" "$START_WAIT" "${@:2}"
}

# wait_pm2 COUNT: poll `pm2 jlist` until COUNT processes are online; prints the unix ms.
wait_pm2() {
    node -e '
      const { execFileSync } = require("node:child_process");
      const [pm2, count, wait] = process.argv.slice(1);
      const deadline = Date.now() + Number(wait) * 1000;
      for (;;) {
        let list = [];
        try { list = JSON.parse(execFileSync(pm2, ["jlist"], { stdio: ["ignore", "pipe", "ignore"], maxBuffer: 1 << 30 })); } catch {}
        if (list.filter(p => p.pm2_env && p.pm2_env.status === "online").length >= +count) { console.log(Date.now()); break; }
        if (Date.now() > deadline) process.exit(1);
      }' "$PM2" "$1" "$START_WAIT"
}

# The latest `Started` event's unix ms over every app `corral get -o json` shows.
last_started() {
    "$CORRAL" get -o json | node -e '
      let s = ""; process.stdin.on("data", d => s += d).on("end", () => {
        const ms = JSON.parse(s).apps.flatMap(a => a.events || []).filter(e => e.reason === "Started").map(e => e.atMs);
        console.log(ms.length ? Math.max(...ms) : 0);
      });'
}

manifest() { # NAME INSTANCES
    printf 'apiVersion: corral/v1\nkind: App\nmetadata: {name: %s}\nspec:\n  command: ["sleep", "1000000"]\n  instances: %s\n' "$1" "$2"
}

ms_now() { local t=$EPOCHREALTIME; echo $((${t/./} / 1000)); }

# The release binary is laid out by link/hot-functions.txt (link/README.md): says how much of
# the list the binary still has (a toolchain or dependency upgrade renames functions).
check_layout() {
    local list=$ROOT/link/hot-functions.txt found total
    [[ $BENCH_PROFILE == release && -f $list ]] && command -v nm >/dev/null || return 0
    total=$(sort -u "$list" | wc -l)
    found=$(nm --defined-only "$CORRAL" | awk '{ print $3 }' | sort -u | comm -12 - <(sort -u "$list") | wc -l)
    log "corral: $found of $total functions of link/hot-functions.txt are in the binary"
    ((found * 10 >= total * 9)) || log "warning: the layout list is stale (RSS will be higher): run link/profile.sh"
}

command -v node >/dev/null || die "Node.js is needed"
((WITH_PM2)) && install_pm2
if [[ -z ${BENCH_CORRAL:-} ]]; then
    log "building corral (cargo build, $BENCH_PROFILE)"
    build_corral --bin corral || die "cargo build failed"
fi
check_layout

# --- corral: N instances from a manifest written into a running controller, then idle -----------
mkdir -p "$TMP/manifests"
"$CORRAL" controller --manifests "$TMP/manifests" >"$TMP/controller.log" 2>&1 &
CORRAL_PID=$!
wait_corral 0 >/dev/null || die "the controller did not answer (see $TMP/controller.log)"
log "corral: a manifest with $N instances"
manifest many "$N" >"$TMP/manifests/.many.tmp"
written=$(ms_now)
mv "$TMP/manifests/.many.tmp" "$TMP/manifests/many.yaml"
ready=$(wait_corral "$N" many) || die "corral: $N instances not ready within $START_WAIT s (see $TMP/controller.log)"
c_start=$((ready - written))
log "corral: $N ready $c_start ms after the manifest was written"
read -r c_cpu c_rss_n <<<"$(idle_figures corral "$CORRAL_PID")"
stop_started

# --- corral: start cost with an identity and limits (issue 14) ----------------------------------
# Manifest written → every instance started (spawned; `started_ms` of the last), for N plain
# instances, N with `user: nobody` + `ulimits`, and 2N with them: the start cost must stay linear.
boxed_manifest() { # NAME INSTANCES BOXED
    manifest "$1" "$2"
    printf '  cwd: /\n'
    ((${3:-0})) && printf '  user: nobody\n  ulimits: {nofile: 4096, core: 0}\n'
}
# wait_started NAME COUNT: the unix ms of the last instance's start once COUNT have a pid.
wait_started() {
    node -e '
      const { execFileSync } = require("node:child_process");
      const [corral, name, count, wait] = process.argv.slice(1);
      const deadline = Date.now() + Number(wait) * 1000;
      for (;;) {
        let app;
        try { app = JSON.parse(execFileSync(corral, ["get", "-o", "json"], { stdio: ["ignore", "pipe", "ignore"], maxBuffer: 1 << 30 })).apps.find(a => a.name === name); } catch {}
        const up = app ? app.instances.filter(i => i.pid && i.startedMs) : [];
        if (up.length >= +count) { console.log(Math.max(...up.map(i => i.startedMs))); break; }
        if (Date.now() > deadline) process.exit(1);
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
      }' "$CORRAL" "$1" "$2" "$START_WAIT"
}
# started_after COUNT BOXED: ms from the manifest written to all COUNT started, on a fresh home.
started_after() {
    rm -rf "$TMP/manifests" "$CORRAL_HOME"
    mkdir -p "$TMP/manifests"
    "$CORRAL" controller --manifests "$TMP/manifests" --max-instances-per-app $((2 * N)) \
        >>"$TMP/controller-boxed.log" 2>&1 &
    CORRAL_PID=$!
    wait_corral 0 >/dev/null || die "the controller did not answer (see $TMP/controller-boxed.log)"
    boxed_manifest boxed "$1" "$2" >"$TMP/manifests/.boxed.tmp"
    local written started
    written=$(ms_now)
    mv "$TMP/manifests/.boxed.tmp" "$TMP/manifests/boxed.yaml"
    if ! started=$(wait_started boxed "$1"); then
        stop_started # this runs in a subshell: the EXIT trap would not stop its controller
        die "corral: $1 instances not started (see $TMP/controller-boxed.log)"
    fi
    stop_started
    echo $((started - written))
}
b_plain=$(started_after "$N" 0)
log "corral: $N plain instances started $b_plain ms after the manifest was written"
# The same without the spawner (the controller forks each instance itself), for the ratio.
b_fork=$(CORRAL_SPAWNER=0 started_after "$N" 0)
log "corral: $N plain instances forked by the controller started $b_fork ms after the manifest was written"
b_boxed=$(started_after "$N" 1)
log "corral: $N instances with user and ulimits started $b_boxed ms after the manifest was written"
b_boxed2=$(started_after $((2 * N)) 1)
log "corral: $((2 * N)) instances with user and ulimits started $b_boxed2 ms after the manifest was written"

# --- corral: APPS apps of 1 instance, from the controller's launch ---------------------------------
rm -rf "$TMP/manifests" "$CORRAL_HOME"
mkdir -p "$TMP/manifests"
names=()
for ((i = 0; i < APPS; i++)); do
    manifest "app-$i" 1 >"$TMP/manifests/app-$i.yaml"
    names+=("app-$i")
done
launched=$(ms_now)
"$CORRAL" controller --manifests "$TMP/manifests" >"$TMP/controller-apps.log" 2>&1 &
CORRAL_PID=$!
wait_corral 1 "${names[@]}" >/dev/null || die "corral: $APPS apps not ready (see $TMP/controller-apps.log)"
c_first=$(($(last_started) - launched))
sleep "$SETTLE"
c_rss=$(rss_kib "$CORRAL_PID")
log "corral: $APPS apps started $c_first ms after launch; RSS $c_rss KiB"
stop_started

# --- PM2: the same -----------------------------------------------------------------------------------
p_start="" p_cpu="" p_rss_n="" p_rss=""
pm2_eco() { # NAME INSTANCES [NAME INSTANCES…]
    local apps=()
    while (($#)); do
        apps+=("{\"name\": \"$1\", \"script\": \"sleep\", \"args\": \"1000000\", \"interpreter\": \"none\",
                 \"exec_mode\": \"fork\", \"instances\": $2, \"autorestart\": true}")
        shift 2
    done
    (IFS=,; echo "{\"apps\": [${apps[*]}]}")
}
if ((WITH_PM2)); then
    PM2_STARTED=1
    "$PM2" ping >>"$TMP/pm2-cli.log" 2>&1 || die "the PM2 daemon did not start"
    god=$(cat "$PM2_HOME/pm2.pid")
    pm2_eco many "$N" >"$TMP/ecosystem-many.json"
    log "PM2: $N instances"
    t=$(ms_now)
    "$PM2" start "$TMP/ecosystem-many.json" >>"$TMP/pm2-cli.log" 2>&1 || die "pm2 start failed (see $TMP/pm2-cli.log)"
    if online=$(wait_pm2 "$N"); then
        p_start=$((online - t))
        log "PM2: $N online $p_start ms after pm2 start"
        read -r p_cpu p_rss_n <<<"$(idle_figures PM2 "$god")"
    else
        log "PM2: $N instances not online within $START_WAIT s"
    fi
    stop_started
    PM2_STARTED=1
    args=()
    for ((i = 0; i < APPS; i++)); do args+=("app-$i" 1); done
    pm2_eco "${args[@]}" >"$TMP/ecosystem-apps.json"
    "$PM2" start "$TMP/ecosystem-apps.json" >>"$TMP/pm2-cli.log" 2>&1 || die "pm2 start failed"
    wait_pm2 "$APPS" >/dev/null || die "PM2: $APPS apps not online"
    sleep "$SETTLE"
    p_rss=$(rss_kib "$(cat "$PM2_HOME/pm2.pid")")
    log "PM2: $APPS apps, RSS $p_rss KiB"
    stop_started
fi

mib() { [[ -n $1 ]] && awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }' || echo "not measured"; }
sec() { [[ -n $1 ]] && awk -v ms="$1" 'BEGIN { printf "%.2f s", ms / 1000 }' || echo "not measured"; }
pct() { [[ -n $1 ]] && echo "$1 %" || echo "not measured"; }
report=$(cat <<EOF
## Footprint: the controller itself

\`bench/footprint.sh\`, $(date -u +%Y-%m-%d), $(nproc) CPUs, corral $(git -C "$ROOT" describe --always --dirty 2>/dev/null) ($BENCH_PROFILE).
Each instance is \`sleep 1000000\` (PM2: \`interpreter: none\`, fork mode), so the figures are the
supervisor's own. corral's startup ends when \`corral get\` shows every instance ready (no probe:
up for 1 s, so 1 s of it is the readiness rule); PM2's when \`pm2 jlist\` shows them online.

| | corral controller | PM2 daemon |
|---|---|---|
| $N instances: manifest written / \`pm2 start\` → all ready / online | $(sec "$c_start") | $(sec "$p_start") |
| idle CPU with $N instances, over $IDLE_WINDOW s (% of one core) | $(pct "$c_cpu") | $(pct "$p_cpu") |
| RSS with $N instances | $(mib "$c_rss_n") | $(mib "$p_rss_n") |
| RSS with $APPS apps of 1 instance | $(mib "$c_rss") | $(mib "$p_rss") |
| $APPS apps: controller launch → last \`Started\` event | ${c_first} ms | - |
| $N instances: manifest written → all started (spawned) | $(sec "$b_plain") | - |
| the same, forked by the controller (\`CORRAL_SPAWNER=0\`) | $(sec "$b_fork") | - |
| $N instances with \`user: nobody\` and \`ulimits\`: manifest written → all started | $(sec "$b_boxed") | - |
| $((2 * N)) instances with \`user\` and \`ulimits\`: manifest written → all started | $(sec "$b_boxed2") | - |

Targets (issue 9): idle CPU with 1 000 instances < 1 %, RSS with 20 apps ≤ 8 MB, 1 000 instances
started ≤ 1 s after the manifest lands (ready follows by the 1 s rule). Issue 14: 1 000 instances
with \`user\` and \`ulimits\` started ≤ 1 s, 2 000 ≤ 1.8 s (start cost linear in the count).
EOF
)
if [[ -n $OUT ]]; then printf '%s\n' "$report" >"$OUT"; log "wrote $OUT"; else printf '%s\n' "$report"; fi
