#!/usr/bin/env bash
# Watch-and-reload under load: PM2 `--watch` (cluster ×2) against corral `spec.watch` (`mode: http`
# ×2), in one run, on the same Node app (manifests/apps/web.js, a private copy for each).
#
# For each: DURATION s of wrk load (-t2 -c50, keep-alive) while a watched file is edited EDITS
# times (a line appended to the app's own web.js, GAP s apart, the first after LEAD s); counted:
# requests, failed requests (wrk's socket errors + non-2xx/3xx responses), and the restarts or
# reloads the tool made (PM2's restart count, corral's reload count from the revision's `.N`).
#
#   bench/watch.sh [OUT.md]     writes a markdown section to OUT.md (default: stdout)
#
# Installs what it lacks: wrk (apt), PM2 (npm, into the temp folder only), corral (cargo build).
# Everything it starts is stopped on exit; traffic goes to 127.0.0.1 only.

set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_NAME=watch
DURATION=${BENCH_WATCH_DURATION:-16}   # seconds of load per tool
EDITS=3
LEAD=2                                 # seconds of load before the first edit
GAP=4                                  # seconds between edits
CORRAL=$ROOT/target/${BENCH_PROFILE:-release}/corral
OUT=${1:-}

# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
private_setup watch

cleanup() {
    stop_started
    log "logs kept in $TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------------------------
# Tools

if ! command -v wrk >/dev/null; then
    log "installing wrk (apt)"
    { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; } || die "could not install wrk"
fi
command -v node >/dev/null || die "node is needed (the app and PM2 are Node)"
install_pm2
log "building corral (cargo build, $BENCH_PROFILE)"
build_corral --bin corral || die "cargo build failed"

# ---------------------------------------------------------------------------------------------
# The two setups, each with its own copy of the app in its own watched folder

mkdir -p "$TMP/pm2-app" "$TMP/corral-app" "$TMP/manifests"
cp "$ROOT/manifests/apps/web.js" "$TMP/pm2-app/web.js"
cp "$ROOT/manifests/apps/web.js" "$TMP/corral-app/web.js"
PM2_PORT=$(free_port)
CORRAL_PORT=$(free_port)

cat >"$TMP/ecosystem.json" <<EOF
{"apps": [{"name": "watch-2", "script": "$TMP/pm2-app/web.js", "cwd": "$TMP/pm2-app",
  "exec_mode": "cluster", "instances": 2, "watch": true, "env": {"PORT": "$PM2_PORT"}}]}
EOF
log "starting PM2 (cluster ×2, watch)"
PM2_STARTED=1
"$PM2" start "$TMP/ecosystem.json" >>"$TMP/pm2.log" 2>&1 || die "pm2 start failed (see $TMP/pm2.log)"
wait_http "http://127.0.0.1:$PM2_PORT/healthz" || die "PM2's app did not come up"

cat >"$TMP/manifests/watch.yaml" <<EOF
apiVersion: corral/v1
kind: App
metadata: {name: watch}
spec:
  command: ["node", "web.js"]
  cwd: $TMP/corral-app
  instances: 2
  listen: [{port: $CORRAL_PORT, host: 127.0.0.1, mode: http}]
  readiness: {http: {path: /healthz}, periodSeconds: 1}
  stop: {signal: SIGTERM, timeout: 5s}
  watch: {paths: [.], debounce: 500ms}
EOF
log "starting corral (http ×2, watch)"
"$CORRAL" controller --manifests "$TMP/manifests" >"$TMP/controller.log" 2>&1 &
CORRAL_PID=$!
wait_http "http://127.0.0.1:$CORRAL_PORT/healthz" || die "corral's app did not come up"
# Both instances ready and the watch set up before the load starts.
deadline=$((SECONDS + 30))
until "$CORRAL" get watch -o json 2>/dev/null |
    node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const j=JSON.parse(s);
      const a=j.apps?j.apps[0]:j; process.exit(a.ready===2&&a.watch&&a.watch.state==="Watching"?0:1)})'; do
    ((SECONDS < deadline)) || die "corral's app is not ready and watched within 30 s (see $TMP/controller.log)"
    sleep 0.5
done

# ---------------------------------------------------------------------------------------------
# Measuring

# How many restarts/reloads a tool made so far.
pm2_restarts() {
    "$PM2" jlist 2>/dev/null | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{
      let n=0; for (const p of JSON.parse(s)) n+=p.pm2_env.restart_time||0; console.log(n)})'
}
corral_reloads() {
    "$CORRAL" get watch -o json 2>/dev/null | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{
      const j=JSON.parse(s); const a=j.apps?j.apps[0]:j; const m=/\.(\d+)$/.exec(a.revision);
      console.log(m?m[1]:0)})'
}

# run TOOL PORT DIR: the load, with EDITS edits of DIR/web.js inside; prints a table row.
run() {
    local tool=$1 port=$2 dir=$3 before after i result
    before=$("${tool}_restarts_or_reloads")
    log "$tool: $DURATION s of load, $EDITS edits of $dir/web.js"
    wrk -t2 -c50 -d"${DURATION}s" --timeout 5s -s "$ROOT/bench/result.lua" \
        "http://127.0.0.1:$port/" >"$TMP/wrk-$tool.out" 2>&1 &
    WRK_PID=$!
    sleep "$LEAD"
    for ((i = 1; i <= EDITS; i++)); do
        echo "// edit $i" >>"$dir/web.js"
        ((i < EDITS)) && sleep "$GAP"
    done
    wait "$WRK_PID"
    WRK_PID=""
    # The last reload may still be rolling; let it finish before counting.
    sleep "$GAP"
    after=$("${tool}_restarts_or_reloads")
    result=$(sed -n 's/^RESULT //p' "$TMP/wrk-$tool.out")
    [[ -n $result ]] || die "wrk failed for $tool (see $TMP/wrk-$tool.out)"
    node -e '
      const [tool, r, reloads] = [process.argv[1], JSON.parse(process.argv[2]), process.argv[3]];
      const failed = r.connect + r.read + r.write + r.timeout + r.status;
      console.log(`| ${tool} | ${r.requests} | ${failed} | ${r.connect}/${r.read}/${r.write}/${r.timeout}/${r.status} | ${reloads} |`);
    ' "$tool" "$result" "$((after - before))"
}
pm2_restarts_or_reloads() { pm2_restarts; }
corral_restarts_or_reloads() { corral_reloads; }

ROWS=$(run pm2 "$PM2_PORT" "$TMP/pm2-app"; run corral "$CORRAL_PORT" "$TMP/corral-app") ||
    die "a run failed"
ROWS=${ROWS//| pm2 |/| PM2 cluster ×2, \`watch: true\` |}
ROWS=${ROWS//| corral |/| corral http ×2, \`spec.watch\` |}

report() {
    cat <<EOF
## Watch and reload under load

$(date -u +%Y-%m-%d), \`bench/watch.sh\` at $(git -C "$ROOT" rev-parse --short HEAD): wrk -t2 -c50
(keep-alive) for $DURATION s against the demo app (\`manifests/apps/web.js\`) while its \`web.js\` is
edited $EDITS times, $GAP s apart. Requests = completed responses. Failed = wrk's socket errors +
non-2xx/3xx responses (wrk counts every failed socket read or write, so a client retrying against
a closed port adds one per attempt: failed can exceed requests). Restarts or reloads: PM2's restart
count (per process: ×2 per edit means both workers restarted), corral's reload count (one rolling
reload of both instances per edit). Target: 0 failed.

| setup | requests | failed | connect/read/write/timeout/status | restarts or reloads |
|---|---:|---:|---|---:|
$ROWS
EOF
}
if [[ -n $OUT ]]; then report >"$OUT"; log "wrote $OUT"; else report; fi
