#!/usr/bin/env bash
# What the web console costs the controller: its CPU over WINDOW s with APPS apps running and
# nobody watching (idle), then with the console open on the overview in BROWSERS headless
# chromium browsers (each its own profile, logged in with its own `corral console-url`), then
# again SETTLE s after those browsers are closed. CPU% = (utime + stime) ticks of the controller
# over the window / wall time, from /proc/PID/stat (100% = one core). Target: the open console
# under 1% of a core above idle, and nothing above idle once the browsers are gone.
#
# Usage: bench/console.sh [REPORT.md]   (markdown section to REPORT.md, else to stdout)
# Knobs (environment): BENCH_CONSOLE_APPS (default 20), BENCH_CONSOLE_SECONDS (window, default
# 30; BENCH_QUICK: 3 s and 5 apps), BENCH_CONSOLE_BROWSERS (default 2).
# Builds corral (cargo, release) unless BENCH_PROFILE=debug; needs Debian's chromium.

set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_NAME=console
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

APPS=${BENCH_CONSOLE_APPS:-20}
WINDOW=${BENCH_CONSOLE_SECONDS:-30}
BROWSERS=${BENCH_CONSOLE_BROWSERS:-2}
SETTLE=5   # seconds after the browsers close before the last window
[[ -n ${BENCH_QUICK:-} ]] && APPS=${BENCH_CONSOLE_APPS:-5} WINDOW=${BENCH_CONSOLE_SECONDS:-3} SETTLE=2
OUT=${1:-}
CORRAL=$ROOT/target/${BENCH_PROFILE:-release}/corral
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
private_setup console
BROWSER_PIDS=()

cleanup() {
    close_browsers
    stop_started
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Each browser leads a session of its own (setsid): its whole process group goes at once.
close_browsers() {
    local pid
    for pid in "${BROWSER_PIDS[@]}"; do kill -TERM -- "-$pid" 2>/dev/null; done
    for pid in "${BROWSER_PIDS[@]}"; do
        for ((i = 0; i < 50; i++)); do kill -0 -- "-$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL -- "-$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    BROWSER_PIDS=()
}

# The controller's CPU over WINDOW s, as a percent of one core.
controller_cpu() {
    local t0 t1 w0 u s
    read -r u s <<<"$(cpu_ticks "$CORRAL_PID")"
    t0=$((u + s)) w0=$(now)
    sleep "$WINDOW"
    read -r u s <<<"$(cpu_ticks "$CORRAL_PID")"
    t1=$((u + s))
    awk -v t=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" -v w="$(elapsed "$w0")" \
        'BEGIN { printf "%.2f", 100 * t / hz / w }'
}

# Open connections to the console's port.
console_conns() {
    ss -Htn state established "( sport = :$PORT )" 2>/dev/null | wc -l
}

[[ -x $CHROMIUM ]] || die "$CHROMIUM not found: apt-get install chromium"
build_corral || die "cargo build failed"
mkdir -p "$TMP/manifests"
for ((i = 0; i < APPS; i++)); do
    name=$(printf 'app-%02d' "$i")
    printf 'apiVersion: corral/v1\nkind: App\nmetadata: {name: %s}\nspec: {command: ["sleep", "100000"], instances: 2}\n' \
        "$name" >"$TMP/manifests/$name.yaml"
done
PORT=$(free_port)
"$CORRAL" controller --manifests "$TMP/manifests" --console-addr "127.0.0.1:$PORT" \
    >"$TMP/controller.log" 2>&1 &
CORRAL_PID=$!
deadline=$((SECONDS + 60))
until [[ $("$CORRAL" get -o json 2>/dev/null | grep -oE '"ready": ?2,' | wc -l) -ge $APPS ]]; do
    ((SECONDS < deadline)) || die "$APPS apps did not get ready within 60 s (see $TMP/controller.log)"
    sleep 0.5
done
sleep 1
log "$APPS apps × 2 instances ready; the controller idle for $WINDOW s"
IDLE=$(controller_cpu)

for ((b = 0; b < BROWSERS; b++)); do
    url=$("$CORRAL" console-url) || die "corral console-url failed"
    setsid "$CHROMIUM" --headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage \
        --no-first-run --disable-extensions --disable-background-networking \
        --user-data-dir="$TMP/browser-$b" --window-size=1280,900 "$url" \
        >"$TMP/browser-$b.log" 2>&1 &
    BROWSER_PIDS+=($!)
done
# Each page holds its stream open: wait for those connections, then let the pages settle.
deadline=$((SECONDS + 30))
until (($(console_conns) >= BROWSERS)); do
    ((SECONDS < deadline)) || die "the browsers did not connect to the console within 30 s"
    sleep 0.2
done
sleep 2
log "the console open in $BROWSERS browsers ($(console_conns) connections); measuring $WINDOW s"
BROWSER_TICKS0=$(for pid in "${BROWSER_PIDS[@]}"; do pgrep -g "$pid"; done | xargs)
read -r u s <<<"$(cpu_ticks $BROWSER_TICKS0)"
b0=$((u + s)) bw0=$(now)
OPEN=$(controller_cpu)
read -r u s <<<"$(cpu_ticks $BROWSER_TICKS0)"
BROWSER_CPU=$(awk -v t=$((u + s - b0)) -v hz="$(getconf CLK_TCK)" -v w="$(elapsed "$bw0")" -v n="$BROWSERS" \
    'BEGIN { printf "%.1f", 100 * t / hz / w / n }')

close_browsers
deadline=$((SECONDS + 10))
until (($(console_conns) == 0)); do
    ((SECONDS < deadline)) || die "the console still holds $(console_conns) connections 10 s after the browsers closed"
    sleep 0.2
done
sleep "$SETTLE"
log "browsers closed (no connection left); measuring $WINDOW s"
CLOSED=$(controller_cpu)

above() { awk -v a="$1" -v b="$IDLE" 'BEGIN { printf "%+.2f", a - b }'; }
log "controller CPU: idle $IDLE%, console open $OPEN% ($(above "$OPEN")), closed $CLOSED% ($(above "$CLOSED"))"

report() {
    cat <<EOF
## The web console's cost

$(date -u +%Y-%m-%d), \`bench/console.sh\` at $(git -C "$ROOT" rev-parse --short HEAD): the
controller (the $BENCH_PROFILE build) with $APPS apps × 2 instances and \`--console-addr\`, its
CPU over ${WINDOW} s idle,
then with the console open on the overview in $BROWSERS headless chromium browsers (live from
\`/api/stream\`), then ${SETTLE} s after they closed. CPU = user + system time over wall time,
one core = 100%. Target: under 1% of a core above idle with the console open; nothing once the
browsers are gone.

| the controller | CPU | above idle |
|---|---:|---:|
| idle, nobody watching | $IDLE% | |
| the console open in $BROWSERS browsers | $OPEN% | $(above "$OPEN") |
| ${SETTLE} s after they closed | $CLOSED% | $(above "$CLOSED") |

Each headless browser itself used $BROWSER_CPU% of a core meanwhile.
EOF
}
if [[ -n $OUT ]]; then report >"$OUT"; log "wrote $OUT"; else report; fi
