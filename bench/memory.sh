#!/usr/bin/env bash
# Memory-limit reaction, corral against PM2 in one run, on the same leaking Node HTTP app.
#
#   PM2     cluster mode ×2, `max_memory_restart: 100M` (PM2 checks memory every 30 s).
#   corral  `mode: http` ×2, `memory.limit: 100Mi`, the controller's default 1 s sample interval,
#           an http readiness probe on /healthz.
#
# Instance 0 of each app leaks once (the first process only, a flag file per app): when told to
# (a "go" file appears), it allocates and touches 8 MiB every 100 ms until its RSS is over the
# limit, logs the moment (`crossed MS PID`, unix ms, from the app's own clock), and keeps the
# memory. Every process logs `listening MS PID INSTANCE` once it serves. Under wrk load
# (-t1 -c10, 127.0.0.1 only), the script measures:
#   reaction  crossing → the replacement of instance 0 ready: for corral the `Ready` event of the
#             new instance (its probe passed: it takes traffic from then on); for PM2 the new
#             worker's `listening` (PM2 sends it traffic as soon as it listens);
#   failed    requests wrk saw fail (socket errors + non-2xx/3xx) from the go to 2 s after
#             the replacement was ready.
#
# Usage: bench/memory.sh [REPORT.md] — writes a markdown section there (or to stdout).
# Installs a private PM2 (npm, into the temp folder) if needed; builds corral (cargo, release).
# Everything it starts is stopped on exit. Takes about 1–2 minutes (PM2's 30 s check dominates).

set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_NAME=memory
OUT=${1:-}
CORRAL=$ROOT/target/${BENCH_PROFILE:-release}/corral
LIMIT_MIB=100
PM2_WAIT=70     # seconds to wait for PM2 to react (its check runs every 30 s)
if [[ -n ${BENCH_QUICK:-} ]]; then
    # `make test`'s smoke run: PM2 checks every second, so the script runs in seconds (the
    # figures then say nothing about PM2's real 30 s check).
    export PM2_WORKER_INTERVAL=1000
    PM2_WAIT=20
fi
CORRAL_WAIT=20  # seconds to wait for corral to react

# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
private_setup memory

cleanup() {
    stop_started
    log "logs kept in $TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The leaking app. Env: LOG (event log), FLAG (leak-once file), GO (start leaking), LIMIT_BYTES.
cat >"$TMP/leak.js" <<'EOF'
"use strict";
const fs = require("node:fs");
const http = require("node:http");
const e = process.env;
const instance = e.CORRAL_INSTANCE ?? e.NODE_APP_INSTANCE ?? "0";
const note = (line) => fs.appendFileSync(e.LOG, line + "\n");
const server = http.createServer((req, res) => {
  res.writeHead(200, { "content-type": "text/plain" });
  res.end(req.url === "/healthz" ? "ok\n" : `hello from instance ${instance} (pid ${process.pid})\n`);
});
server.listen(Number(e.PORT), "127.0.0.1", () => note(`listening ${Date.now()} ${process.pid} ${instance}`));
let mine = false;
if (instance === "0") {
  try { fs.closeSync(fs.openSync(e.FLAG, "wx")); mine = true; } catch (_) {}
}
if (mine) {
  const hog = [];
  const tick = setInterval(() => {
    if (!fs.existsSync(e.GO)) return;
    hog.push(Buffer.alloc(8 << 20, 1));
    if (process.memoryUsage().rss > Number(e.LIMIT_BYTES)) {
      note(`crossed ${Date.now()} ${process.pid}`);
      clearInterval(tick);
      setInterval(() => hog.length, 1000);
    }
  }, 100);
}
for (const sig of ["SIGTERM", "SIGINT"]) {
  process.on(sig, () => {
    server.close(() => process.exit(0));
    server.closeIdleConnections?.();
  });
}
EOF

# wrk in the background against PORT for at most SECONDS; stopped early with SIGINT.
wrk_start() {
    wrk -t1 -c10 -d"$2s" --timeout 5s -s "$ROOT/bench/result.lua" "http://127.0.0.1:$1/" \
        >"$TMP/wrk-$3.out" 2>&1 &
    WRK_PID=$!
}

# Stop wrk, print "requests failed" from its RESULT line.
wrk_stop() {
    kill -INT "$WRK_PID" 2>/dev/null
    wait "$WRK_PID" 2>/dev/null
    WRK_PID=""
    node -e '
      const line = require("fs").readFileSync(process.argv[1], "utf8").split("\n").find(l => l.startsWith("RESULT "));
      if (!line) { console.log("0 -1"); process.exit(0); }
      const r = JSON.parse(line.slice(7));
      console.log(r.requests, r.connect + r.read + r.write + r.timeout + r.status);' "$TMP/wrk-$1.out"
}

# The crossing line of LOG: "MS PID", empty until it crossed.
crossed() { awk '$1 == "crossed" { print $2, $3; exit }' "$1" 2>/dev/null; }

# Wait up to $2 s for the file $1 to have a crossing; prints "MS PID".
wait_crossed() {
    local deadline=$((SECONDS + $2)) c
    while ((SECONDS < deadline)); do
        c=$(crossed "$1")
        [[ -n $c ]] && { echo "$c"; return 0; }
        sleep 0.1
    done
    return 1
}

# measure NAME PORT WAIT READY_FN: load, go, crossing, replacement ready; prints a result line
# "NAME reaction_ms requests failed" (reaction -1 when it never happened).
measure() {
    local name=$1 port=$2 wait=$3 ready_fn=$4 log=$TMP/$1.log c at pid ready="" deadline
    wrk_start "$port" $((wait + 30)) "$name"
    sleep 2
    touch "$TMP/$name.go"
    c=$(wait_crossed "$log" 20) || { log "$name: the leak never crossed ${LIMIT_MIB}Mi"; }
    read -r at pid <<<"${c:-0 0}"
    deadline=$((SECONDS + wait))
    while [[ -n $c ]] && ((SECONDS < deadline)); do
        ready=$("$ready_fn" "$name" "$pid")
        [[ -n $ready ]] && break
        sleep 0.1
    done
    sleep 2
    local requests failed
    read -r requests failed <<<"$(wrk_stop "$name")"
    if [[ -n $ready ]]; then
        log "$name: crossed at $at (pid $pid), replacement ready $((ready - at)) ms later; $failed of $requests requests failed"
        echo "$name $((ready - at)) $requests $failed"
    else
        log "$name: no replacement within $wait s; $failed of $requests requests failed"
        echo "$name -1 $requests $failed"
    fi
}

# PM2: the first `listening` of a new instance-0 worker after the crossing.
pm2_ready() {
    awk -v old="$2" '$1 == "listening" && $4 == "0" && $3 != old { print $2; exit }' "$TMP/$1.log"
}

# corral: the `Ready` event of a new instance 0 of app `leak` (not the leaking pid).
corral_ready() {
    "$CORRAL" get leak -o json 2>/dev/null | node -e '
      let s = ""; process.stdin.on("data", d => s += d).on("end", () => {
        let a; try { a = JSON.parse(s); a = a.apps ? a.apps[0] : a; } catch { return; }
        const old = process.argv[1];
        const starts = (a.events || []).filter(e => e.reason === "Started" && /^instance 0 /.test(e.message) && !e.message.includes(`pid ${old},`));
        if (!starts.length) return;
        const after = starts[starts.length - 1].atMs;
        const ready = (a.events || []).find(e => e.reason === "Ready" && /^instance 0 /.test(e.message) && e.atMs >= after);
        if (ready) console.log(ready.atMs);
      });' "$2"
}

command -v wrk >/dev/null || die "wrk is needed (apt-get install wrk)"
command -v node >/dev/null || die "Node.js is needed"
install_pm2
log "building corral (cargo build, $BENCH_PROFILE)"
build_corral --bin corral || die "cargo build failed"

PM2_PORT=$(free_port)
CORRAL_PORT=$(free_port)
LIMIT_BYTES=$((LIMIT_MIB << 20))

log "starting PM2 (cluster ×2, max_memory_restart ${LIMIT_MIB}M)"
cat >"$TMP/ecosystem.json" <<EOF
{"apps": [{"name": "leak", "script": "$TMP/leak.js", "exec_mode": "cluster", "instances": 2,
  "max_memory_restart": "${LIMIT_MIB}M",
  "env": {"PORT": "$PM2_PORT", "LOG": "$TMP/pm2.log", "FLAG": "$TMP/pm2.flag",
          "GO": "$TMP/pm2.go", "LIMIT_BYTES": "$LIMIT_BYTES"}}]}
EOF
PM2_STARTED=1
"$PM2" start "$TMP/ecosystem.json" >>"$TMP/pm2-cli.log" 2>&1 || die "pm2 start failed (see $TMP/pm2-cli.log)"
wait_http "http://127.0.0.1:$PM2_PORT/healthz" 30 || die "PM2's app did not come up"

log "starting corral (http ×2, memory.limit ${LIMIT_MIB}Mi)"
mkdir -p "$TMP/manifests"
cat >"$TMP/manifests/leak.yaml" <<EOF
apiVersion: corral/v1
kind: App
metadata: {name: leak}
spec:
  command: ["node", "$TMP/leak.js"]
  instances: 2
  env: {LOG: "$TMP/corral.log", FLAG: "$TMP/corral.flag", GO: "$TMP/corral.go", LIMIT_BYTES: "$LIMIT_BYTES"}
  listen: [{port: $CORRAL_PORT, host: 127.0.0.1, mode: http}]
  readiness: {http: {path: /healthz}, periodSeconds: 1}
  memory: {limit: ${LIMIT_MIB}Mi}
  stop: {signal: SIGTERM, timeout: 5s}
EOF
"$CORRAL" controller --manifests "$TMP/manifests" >"$TMP/controller.log" 2>&1 &
CORRAL_PID=$!
wait_http "http://127.0.0.1:$CORRAL_PORT/healthz" 30 || die "corral's app did not come up"
deadline=$((SECONDS + 30))
until "$CORRAL" get leak -o json 2>/dev/null | grep -q '"status": *"Running"'; do
    ((SECONDS < deadline)) || die "corral's app is not Running (see $TMP/controller.log)"
    sleep 0.2
done

log "corral: leaking instance 0 under load"
CORRAL_RESULT=$(measure corral "$CORRAL_PORT" "$CORRAL_WAIT" corral_ready)
log "PM2: leaking instance 0 under load (PM2 checks every 30 s)"
PM2_RESULT=$(measure pm2 "$PM2_PORT" "$PM2_WAIT" pm2_ready)

read -r _ c_ms c_req c_fail <<<"$CORRAL_RESULT"
read -r _ p_ms p_req p_fail <<<"$PM2_RESULT"
fmt_s() { if ((${1} < 0)); then echo "no reaction"; else awk -v ms="$1" 'BEGIN { printf "%.2f s", ms / 1000 }'; fi; }
ratio=$(awk -v c="$c_ms" -v p="$p_ms" 'BEGIN { if (c > 0 && p > 0) printf "%.1f× faster", p / c; else print "-" }')
report=$(cat <<EOF
## Memory limits: reaction to a leak

A Node HTTP app ×2 whose instance 0 leaks 8 MiB every 100 ms past a ${LIMIT_MIB} MiB limit, under
\`wrk -t1 -c10\` on 127.0.0.1 (\`bench/memory.sh\`, $(date -u +%Y-%m-%d), $(nproc) CPUs). Reaction is
from the moment the app saw its RSS cross the limit to its replacement being ready (corral: the
new instance's readiness probe passed; PM2: the new worker listens). Failed requests are wrk's
socket errors and non-2xx/3xx responses from the leak's start to 2 s after the replacement.

| | reaction | failed requests | requests |
|---|---|---|---|
| corral \`mode: http\` ×2, \`memory.limit\`, 1 s samples | $(fmt_s "$c_ms") | $c_fail | $c_req |
| PM2 cluster ×2, \`max_memory_restart\` (30 s checks) | $(fmt_s "$p_ms") | $p_fail | $p_req |

corral reacted $ratio than PM2 (target: ≤ 1.5 s, 0 failed requests).
EOF
)
if [[ -n $OUT ]]; then printf '%s\n' "$report" >"$OUT"; log "wrote $OUT"; else printf '%s\n' "$report"; fi
