#!/usr/bin/env bash
# The controller's own lifecycle under load (DESIGN §12), for each listen mode (http, tcp,
# inherit; the demo app ×2) and each client shape (wrk keep-alive, and a connection per
# request):
#
#   upgrade   `corral upgrade` DURATION/3 s into DURATION s of wrk -t2 -c20: failed requests
#             (wrk's socket errors + non-2xx/3xx; target 0), instances restarted (pids and
#             RESTARTS before and after; target 0), the longest gap between two answers of
#             `corral get` run in a loop, and the time from the command to the new controller
#             ready (its own figure, and the command's wall time).
#   sigkill   the same load, the controller SIGKILLed and started again at once by a stand-in
#             service manager that keeps its sockets in an fd store as systemd does (FDSTORE=1,
#             then LISTEN_FDS): refused connections (wrk's connect errors; target 0), failed
#             requests (the in-flight requests of the killed proxy die with it), restarts, and
#             the time from the kill to the new controller's READY=1.
#   pm2       `pm2 update` (PM2's way to move to a new PM2) on PM2 cluster ×2 under the same
#             load: its failed requests and restarted apps, side by side.
#
# Usage: bench/upgrade.sh [REPORT.md]   (markdown section to REPORT.md, else to stdout)
# Knobs (environment): BENCH_UPGRADE_SECONDS (load per run, default 9), BENCH_UPGRADE_MODES
# (default "http tcp inherit"; BENCH_QUICK: http only, 3 s runs, pm2 update with keep-alive
# clients only). Builds corral (cargo,
# release) unless BENCH_PROFILE=debug; needs wrk, node, python3, and PM2 (installs it with npm
# into the temp folder unless bench/run.sh shares its install).

set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_NAME=upgrade
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

DURATION=${BENCH_UPGRADE_SECONDS:-9}
# shellcheck disable=SC2206 # split on purpose
MODES=(${BENCH_UPGRADE_MODES:-http tcp inherit})
PM2_SHAPES=(keepalive close)
if [[ -n ${BENCH_QUICK:-} ]]; then
    DURATION=${BENCH_UPGRADE_SECONDS:-3}
    # shellcheck disable=SC2206 # split on purpose
    MODES=(${BENCH_UPGRADE_MODES:-http})
    PM2_SHAPES=(keepalive)
fi
OUT=${1:-}
CORRAL=$ROOT/target/${BENCH_PROFILE:-release}/corral
APP=$ROOT/manifests/apps/web.js
private_setup upgrade
MANAGER_PID=""

cleanup() {
    [[ -n $MANAGER_PID ]] && "$CORRAL" shutdown >/dev/null 2>&1
    [[ -n $MANAGER_PID ]] && stop_pid "$MANAGER_PID"
    stop_started
    [[ -n ${BENCH_KEEP:-} ]] || rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

command -v wrk >/dev/null || die "wrk is needed (apt-get install wrk; bench/run.sh installs it)"
build_corral || die "cargo build failed"
# The controller must be started from a path an upgrade can run again: a copy of its own.
mkdir -p "$TMP/bin" "$TMP/manifests"
cp "$CORRAL" "$TMP/bin/corral"
CORRAL=$TMP/bin/corral

declare -A PORT
for mode in "${MODES[@]}"; do
    PORT[$mode]=$(free_port)
    cat >"$TMP/manifests/up-$mode.yaml" <<EOF
apiVersion: corral/v1
kind: App
metadata: {name: up-$mode}
spec:
  command: ["node", "$APP"]
  instances: 2
  listen: [{port: ${PORT[$mode]}, host: 127.0.0.1, mode: $mode}]
  readiness: {http: {path: /healthz}, periodSeconds: 1}
EOF
done

# The stand-in service manager: NOTIFY_SOCKET, the fd store (FDSTORE=1 + SCM_RIGHTS, one copy
# per socket, FDSTOREREMOVE=1), MAINPID=, and on SIGUSR1 a SIGKILL of the main process and a
# new one started at once with the stored fds from 3 (LISTEN_FDS, LISTEN_FDNAMES, LISTEN_PID).
# Writes "STARTED pid t", "READY pid t", "KILLED pid t" lines to $TMP/manager.log.
cat >"$TMP/manager.py" <<'EOF'
import fcntl, os, signal, socket, subprocess, sys, time
path, corral, manifests, log = sys.argv[1:5]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
s.settimeout(0.05)
store, main, restart = [], None, False
def note(what):
    with open(log, "a") as f:
        f.write(f"{what} {time.time():.4f}\n")
def start():
    global main
    fds = [fd for _, fd in store]
    env = dict(os.environ, NOTIFY_SOCKET=path)
    if fds:
        env.update(LISTEN_FDS=str(len(fds)), LISTEN_FDNAMES=":".join(n for n, _ in store))
    def place():
        high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 3 + len(fds)) for fd in fds]
        for i, h in enumerate(high):
            os.dup2(h, 3 + i)
    argv = ["sh", "-c", 'export LISTEN_PID=$$; exec "$0" "$@"', corral, "controller",
            "--manifests", manifests, "--live-restore"]
    main = subprocess.Popen(argv, env=env, preexec_fn=place, pass_fds=range(3, 3 + len(fds)),
                            stdout=open(log + ".controller", "a"), stderr=subprocess.STDOUT)
    note(f"STARTED {main.pid}")
    return main.pid
def on_usr1(*_):
    global restart
    restart = True
signal.signal(signal.SIGUSR1, on_usr1)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
main_pid = start()
while True:
    if restart:
        restart = False
        os.kill(main_pid, signal.SIGKILL)
        note(f"KILLED {main_pid}")
        try:
            os.waitpid(main_pid, 0)
        except ChildProcessError:
            pass
        main_pid = start()
    try:
        data, anc, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(64 * 4))
    except (socket.timeout, InterruptedError):
        continue
    fds = []
    for level, kind, raw in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds += list(memoryview(raw).cast("i")[: len(raw) // 4])
    fields = dict(l.split("=", 1) for l in data.decode().splitlines() if "=" in l)
    if "MAINPID" in fields:
        main_pid = int(fields["MAINPID"])
    if fields.get("READY") == "1":
        note(f"READY {main_pid}")
    name = fields.get("FDNAME", "stored")
    if fields.get("FDSTOREREMOVE") == "1":
        store = [(n, fd) for n, fd in store if n != name]
    for fd in fds:
        st = os.fstat(fd)
        if fields.get("FDSTORE") == "1" and not any(
                (os.fstat(f).st_dev, os.fstat(f).st_ino) == (st.st_dev, st.st_ino) for _, f in store):
            store.append((name, fd))
        else:
            os.close(fd)
EOF
python3 "$TMP/manager.py" "$TMP/notify.sock" "$CORRAL" "$TMP/manifests" "$TMP/manager.log" &
MANAGER_PID=$!
deadline=$((SECONDS + 60))
until [[ $("$CORRAL" get -o json 2>/dev/null | grep -oE '"ready": ?2,' | wc -l) -ge ${#MODES[@]} ]]; do
    ((SECONDS < deadline)) || die "the apps did not get ready within 60 s (see $TMP/manager.log.controller)"
    sleep 0.5
done
log "${#MODES[@]} app(s) × 2 instances ready under the stand-in service manager"

# "pid pid … restarts" of an app, from `corral get -o json`.
pids() {
    "$CORRAL" get "$1" -o json 2>/dev/null | node -e '
      let s = ""; process.stdin.on("data", d => s += d).on("end", () => {
        const a = JSON.parse(s);
        console.log(a.instances.map(i => i.pid).sort().join(" ") + " restarts=" + a.restarts);
      });'
}

# `corral get` every 20 ms into $TMP/gets (one timestamp per answer) until $TMP/gets.stop.
poll_get() {
    : >"$TMP/gets"
    rm -f "$TMP/gets.stop"
    while [[ ! -e $TMP/gets.stop ]]; do
        "$CORRAL" get >/dev/null 2>&1 && now >>"$TMP/gets"
        sleep 0.02
    done
}
longest_gap() {
    awk 'NR > 1 { g = $1 - p; if (g > m) m = g } { p = $1 } END { printf "%.0f ms", m * 1000 }' "$TMP/gets"
}

# wrk for DURATION s in SHAPE (keepalive | close) against PORT; WRK_RESULT afterwards.
wrk_run_start() {
    local shape=$1 port=$2 header=()
    [[ $shape == close ]] && header=(-H "Connection: close")
    wrk -t2 -c20 -d"${DURATION}s" --timeout 5s -s "$ROOT/bench/result.lua" "${header[@]}" \
        "http://127.0.0.1:$port/" >"$TMP/wrk.out" 2>&1 &
    WRK_PID=$!
}
wrk_run_finish() {
    wait "$WRK_PID"
    WRK_PID=""
    WRK_RESULT=$(sed -n 's/^RESULT //p' "$TMP/wrk.out")
}
# "requests failed refused" from WRK_RESULT.
wrk_counts() {
    node -e 'const r = JSON.parse(process.argv[1] || "{}");
      console.log(r.requests ?? 0, (r.connect ?? 0) + (r.read ?? 0) + (r.write ?? 0) + (r.timeout ?? 0) + (r.status ?? 0), r.connect ?? 0)' \
        "$WRK_RESULT"
}
restarted() { [[ $1 == "$2" ]] && echo 0 || echo "pids/RESTARTS changed: $1 → $2"; }

UPGRADE_ROWS="" KILL_ROWS=""
for mode in "${MODES[@]}"; do
    for shape in keepalive close; do
        clients="keep-alive"
        [[ $shape == close ]] && clients="connection per request"
        # corral upgrade
        before=$(pids "up-$mode")
        wrk_run_start "$shape" "${PORT[$mode]}"
        poll_get &
        POLL=$!
        sleep "$(awk -v d="$DURATION" 'BEGIN { print d / 3 }')"
        t=$(now)
        said=$("$CORRAL" upgrade 2>&1) || log "corral upgrade failed: $said"
        wall=$(elapsed "$t")
        ready=$(sed -n 's/.*ready in \([0-9]*\) ms.*/\1 ms/p' <<<"$said")
        wrk_run_finish
        touch "$TMP/gets.stop"
        wait "$POLL"
        read -r requests failed _ <<<"$(wrk_counts)"
        after=$(pids "up-$mode")
        UPGRADE_ROWS+="| $mode | $clients | $requests | $failed | $(restarted "$before" "$after") | $(longest_gap) | ${ready:-failed} (command: ${wall} s) |"$'\n'
        log "upgrade $mode $shape: $requests requests, $failed failed, ready ${ready:-?}, gap $(longest_gap)"
        # SIGKILL, then a restart with the fd store
        before=$after
        wrk_run_start "$shape" "${PORT[$mode]}"
        sleep "$(awk -v d="$DURATION" 'BEGIN { print d / 3 }')"
        started=""
        kills=$(grep -c '^KILLED' "$TMP/manager.log")
        starts=$(grep -c '^STARTED' "$TMP/manager.log")
        kill -USR1 "$MANAGER_PID"
        deadline=$((SECONDS + 30))
        # This kill's line, then the READY=1 of the controller started after it.
        until (($(grep -c '^KILLED' "$TMP/manager.log") > kills)) &&
            (($(grep -c '^STARTED' "$TMP/manager.log") > starts)) &&
            started=$(sed -n 's/^STARTED \([0-9]*\) .*/\1/p' "$TMP/manager.log" | tail -1) &&
            grep -q "^READY $started " "$TMP/manager.log"; do
            ((SECONDS < deadline)) || break
            sleep 0.05
        done
        killed=$(sed -n 's/^KILLED [0-9]* //p' "$TMP/manager.log" | tail -1)
        readied=$(sed -n "s/^READY $started //p" "$TMP/manager.log" | tail -1)
        to_ready=$(awk -v a="$killed" -v b="$readied" 'BEGIN { printf "%.0f ms", (b - a) * 1000 }')
        wrk_run_finish
        read -r requests failed refused <<<"$(wrk_counts)"
        after=$(pids "up-$mode")
        KILL_ROWS+="| $mode | $clients | $requests | $refused | $failed | $(restarted "$before" "$after") | $to_ready |"$'\n'
        log "sigkill $mode $shape: $requests requests, $refused refused, $failed failed, ready after $to_ready"
    done
done

# PM2 side by side: `pm2 update` on cluster ×2 under the same load.
PM2_ROWS=""
install_pm2
PM2=$(pm2_prefix)/node_modules/.bin/pm2
pm2_port=$(free_port)
cat >"$TMP/ecosystem.json" <<EOF
{"apps": [{"name": "up", "script": "$APP", "exec_mode": "cluster", "instances": 2,
           "env": {"PORT": "$pm2_port"}}]}
EOF
PM2_STARTED=1
if "$PM2" start "$TMP/ecosystem.json" >>"$TMP/pm2.log" 2>&1 && wait_http "http://127.0.0.1:$pm2_port/healthz" 30; then
    for shape in "${PM2_SHAPES[@]}"; do
        clients="keep-alive"
        [[ $shape == close ]] && clients="connection per request"
        before=$("$PM2" jlist 2>/dev/null | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).map(p=>p.pid).sort().join(" ")))')
        wrk_run_start "$shape" "$pm2_port"
        sleep "$(awk -v d="$DURATION" 'BEGIN { print d / 3 }')"
        t=$(now)
        timeout 120 "$PM2" update >>"$TMP/pm2.log" 2>&1 || log "pm2 update failed (see $TMP/pm2.log)"
        wall=$(elapsed "$t")
        wrk_run_finish
        read -r requests failed refused <<<"$(wrk_counts)"
        after=$("$PM2" jlist 2>/dev/null | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).map(p=>p.pid).sort().join(" ")))')
        changed=0
        [[ $before != "$after" ]] && changed="all (pids $before → $after)"
        # A command that ends after the load did was partly outside the measurement: say so.
        note=""
        awk -v w="$wall" -v d="$DURATION" 'BEGIN { exit !(w > d * 2 / 3) }' &&
            note=" (outlasted the load: partly unmeasured)"
        PM2_ROWS+="| PM2 cluster ×2 | $clients | $requests | $refused | $failed | $changed | $wall s$note |"$'\n'
        log "pm2 update $shape: $requests requests, $failed failed"
        wait_http "http://127.0.0.1:$pm2_port/healthz" 30 || true
    done
else
    PM2_ROWS="| PM2 cluster ×2 | – | – | – | – | pm2 start failed (see the log) | – |"$'\n'
fi

report() {
    cat <<EOF
## Upgrading and restarting the controller under load

$(date -u +%Y-%m-%d), \`bench/upgrade.sh\` at $(git -C "$ROOT" rev-parse --short HEAD): the demo
app ×2 in each listen mode, wrk -t2 -c20 for $DURATION s per row; the event a third of the way
in. Failed = wrk's socket errors + non-2xx/3xx responses. Targets: 0 failed, 0 restarted.

\`corral upgrade\` (the same binary, as after installing a new one):

| mode | clients | requests | failed | instances restarted | longest \`corral get\` gap | command → new controller ready |
|---|---|---:|---:|---|---:|---|
$UPGRADE_ROWS
SIGKILL of the controller, started again at once by a stand-in service manager with its fd
store (as systemd's \`Restart=\` does, without the unit's \`RestartSec=2s\`); the
keep-alive connections of the killed \`tcp\`/\`http\` proxy die with it:

| mode | clients | requests | refused connections | failed | instances restarted | kill → READY=1 |
|---|---|---:|---:|---:|---|---:|
$KILL_ROWS
PM2's \`pm2 update\` (PM2's upgrade: it saves, kills the daemon and restarts every app):

| setup | clients | requests | refused connections | failed | apps restarted | command |
|---|---|---:|---:|---:|---|---:|
$PM2_ROWS
EOF
}
if [[ -n $OUT ]]; then report >"$OUT"; log "wrote $OUT"; else report; fi
