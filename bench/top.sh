#!/usr/bin/env bash
# What `corral top` costs: its own CPU (and the controller's) while it watches a controller of
# APPS apps × 2 instances, in an 80×24 pseudo-terminal, refreshing every second, for DURATION s.
# The first app (selected, so its logs stream in the panel) prints a line every 100 ms; the
# others sleep. CPU% = (utime + stime) ticks of the process over the period / wall time, from
# /proc/PID/stat (100% = one core). Target: a few % at most.
#
# Usage: bench/top.sh [REPORT.md]   (markdown section to REPORT.md, else to stdout)
# Knobs (environment): BENCH_TOP_APPS (default 20), BENCH_TOP_SECONDS (default 30).
# Builds corral (cargo, release) unless BENCH_PROFILE=debug; needs python3 (for the pty).

set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_NAME=top
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

APPS=${BENCH_TOP_APPS:-20}
DURATION=${BENCH_TOP_SECONDS:-30}
[[ -n ${BENCH_QUICK:-} ]] && DURATION=${BENCH_TOP_SECONDS:-3}
OUT=${1:-}
CORRAL=$ROOT/target/${BENCH_PROFILE:-release}/corral
private_setup top

cleanup() {
    stop_started
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

build_corral || die "cargo build failed"
mkdir -p "$TMP/manifests"
for ((i = 0; i < APPS; i++)); do
    name=$(printf 'app-%02d' "$i")
    if ((i == 0)); then
        cmd='["sh", "-c", "i=0; while :; do echo line $i; i=$((i+1)); sleep 0.1; done"]'
    else
        cmd='["sleep", "100000"]'
    fi
    printf 'apiVersion: corral/v1\nkind: App\nmetadata: {name: %s}\nspec: {command: %s, instances: 2}\n' \
        "$name" "$cmd" >"$TMP/manifests/$name.yaml"
done
"$CORRAL" controller --manifests "$TMP/manifests" >"$TMP/controller.log" 2>&1 &
CORRAL_PID=$!
deadline=$((SECONDS + 60))
until [[ $("$CORRAL" get -o json 2>/dev/null | grep -oE '"ready": ?2,' | wc -l) -ge $APPS ]]; do
    ((SECONDS < deadline)) || die "$APPS apps did not get ready within 60 s (see $TMP/controller.log)"
    sleep 0.5
done
log "$APPS apps × 2 instances ready; measuring corral top for $DURATION s"

# Runs `corral top` in an 80×24 pty, reading (and discarding) what it draws; after 2 s of
# warm-up, prints "TOP_TICKS CONTROLLER_TICKS SECONDS BYTES" for the next DURATION s; then q.
RESULT=$(python3 - "$CORRAL" "$CORRAL_PID" "$DURATION" <<'EOF'
import fcntl, os, pty, select, struct, sys, termios, time
corral, controller, duration = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
def ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime
pid, fd = pty.fork()
if pid == 0:
    os.execv(corral, [corral, "top"])
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
def drain(seconds):
    n, end = 0, time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        if select.select([fd], [], [], left)[0]:
            try:
                n += len(os.read(fd, 65536))
            except OSError:
                break
    return n
drain(2)
t0, c0, w0 = ticks(pid), ticks(controller), time.monotonic()
drawn = drain(duration)
t1, c1, w1 = ticks(pid), ticks(controller), time.monotonic()
os.write(fd, b"q")
drain(1)
_, status = os.waitpid(pid, 0)
if status != 0:
    sys.exit(f"corral top exited with status {status}")
print(t1 - t0, c1 - c0, round(w1 - w0, 2), drawn)
EOF
) || die "corral top did not run (see above)"
read -r TOP_TICKS CTL_TICKS WALL BYTES <<<"$RESULT"
HZ=$(getconf CLK_TCK)
pct() { awk -v t="$1" -v hz="$HZ" -v w="$WALL" 'BEGIN { printf "%.1f", 100 * t / hz / w }'; }
TOP_PCT=$(pct "$TOP_TICKS")
CTL_PCT=$(pct "$CTL_TICKS")
log "corral top: $TOP_PCT% CPU; controller: $CTL_PCT%; $BYTES bytes drawn in $WALL s"

report() {
    cat <<EOF
## \`corral top\`'s cost

$(date -u +%Y-%m-%d), \`bench/top.sh\` at $(git -C "$ROOT" rev-parse --short HEAD): \`corral top\`
(refreshing every 1s) in an 80×24 pseudo-terminal for $WALL s, watching $APPS apps × 2 instances,
the selected one logging 10 lines a second. CPU = user + system time over wall time, one core =
100%. Target: a few % at most.

| process | CPU | terminal output |
|---|---:|---:|
| corral top | $TOP_PCT% | $((BYTES / ${WALL%.*})) bytes/s |
| the controller meanwhile | $CTL_PCT% | |
EOF
}
if [[ -n $OUT ]]; then report >"$OUT"; log "wrote $OUT"; else report; fi
