#!/usr/bin/env bash
# Order between apps (`spec.dependsOn`, issue 17): 200 apps in a dependency chain of depth 10,
# 20 per level, each app of a level depending (condition: Ready) on every app of the level
# before. Each app is `sleep infinity` with no readiness probe, so it turns ready after staying
# up 1 s (corral's rule): its readiness time is 1 s, and the chain cannot be ready before
# LEVELS × 1 s. The target: every app ready within that sum + 50 ms per level. Measured from the
# first instance's `Started` event to the last `Ready` event (`corral events -o json`, the
# controller's own clock), and, for the record, from the controller's launch.
#
# Usage: bench/deps.sh [REPORT.md]   (markdown section to REPORT.md, else to stdout)
# Knobs (environment): BENCH_DEPS_LEVELS (default 10), BENCH_DEPS_WIDTH (apps per level,
# default 20); BENCH_QUICK=1 (`make test`'s smoke run, a few seconds: 3 levels of 5).
# Builds corral (cargo, release unless BENCH_PROFILE=debug). Everything it starts is stopped
# on exit.

set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_NAME=deps
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

OUT=${1:-}
CORRAL=$ROOT/target/${BENCH_PROFILE:-release}/corral
LEVELS=${BENCH_DEPS_LEVELS:-10}
WIDTH=${BENCH_DEPS_WIDTH:-20}
READY_MS=1000        # corral's readiness rule without a probe: up for 1 s
SLACK_MS=50          # the target's allowance per level
if [[ -n ${BENCH_QUICK:-} ]]; then
    LEVELS=3 WIDTH=5
fi
APPS=$((LEVELS * WIDTH))
private_setup deps

WATCH_PID=""
cleanup() {
    [[ -n $WATCH_PID ]] && kill "$WATCH_PID" 2>/dev/null
    stop_started
    log "logs kept in $TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

command -v node >/dev/null || die "Node.js is needed (node not found in PATH)"
log "building corral (cargo build, $BENCH_PROFILE)"
build_corral --bin corral || die "cargo build failed"

mkdir -p "$TMP/manifests"
for ((l = 0; l < LEVELS; l++)); do
    for ((i = 0; i < WIDTH; i++)); do
        {
            echo "apiVersion: corral/v1"
            echo "kind: App"
            echo "metadata: {name: l$l-a$i}"
            echo "spec:"
            echo "  command: [sleep, infinity]"
            if ((l > 0)); then
                echo "  dependsOn:"
                for ((j = 0; j < WIDTH; j++)); do
                    echo "    - {app: l$((l - 1))-a$j, condition: Ready}"
                done
            fi
        } >"$TMP/manifests/l$l-a$i.yaml"
    done
done
"$CORRAL" validate "$TMP/manifests" >/dev/null || die "the chain does not validate"

log "starting corral: $APPS apps, $LEVELS levels of $WIDTH"
launched=$EPOCHREALTIME
"$CORRAL" controller --manifests "$TMP/manifests" >"$TMP/controller.log" 2>&1 &
CORRAL_PID=$!
# The controller keeps its last 1 000 events; a watcher from the start keeps them all.
until "$CORRAL" events -o json >/dev/null 2>&1; do
    kill -0 "$CORRAL_PID" 2>/dev/null || die "the controller exited (see $TMP/controller.log)"
    sleep 0.05
done
"$CORRAL" events -w -o json >"$TMP/events.jsonl" 2>"$TMP/events.err" &
WATCH_PID=$!

# The number of apps whose status is Running.
running() {
    "$CORRAL" get -o json 2>/dev/null | node -e '
      let s = ""; process.stdin.on("data", d => s += d).on("end", () => {
        try { console.log(JSON.parse(s).apps.filter(a => a.status === "Running").length); }
        catch { console.log(0); }
      });'
}
deadline=$((SECONDS + 30 + LEVELS * 5))
until [[ $(running) == "$APPS" ]]; do
    kill -0 "$CORRAL_PID" 2>/dev/null || die "the controller exited (see $TMP/controller.log)"
    ((SECONDS < deadline)) || die "not every app running in time: $(running) of $APPS"
    sleep 0.2
done
sleep 0.5 # the watcher's last lines
kill "$WATCH_PID" 2>/dev/null
wait "$WATCH_PID" 2>/dev/null
WATCH_PID=""
grep -q EventsMissed "$TMP/events.jsonl" && die "the event watcher fell behind (EventsMissed)"

# One JSON object: first Started, last Ready, and each level's last Ready (unix ms).
node -e '
  const fs = require("fs");
  const [file, levels, launchedS] = process.argv.slice(1);
  const events = fs.readFileSync(file, "utf8").split("\n").filter(l => l.startsWith("{")).map(JSON.parse);
  const started = events.filter(e => e.reason === "Started").map(e => e.atMs);
  const ready = events.filter(e => e.reason === "Ready");
  const perLevel = [], released = [], spawned = [];
  const of = (reason, l) => events.filter(e => e.reason === reason && (e.app || "").startsWith(`l${l}-`)).map(e => e.atMs);
  for (let l = 0; l < +levels; l++) {
    perLevel.push(Math.max(...of("Ready", l)));
    const met = of("DependenciesMet", l), up = of("Started", l);
    if (l > 0) {
      released.push(Math.min(...met) - perLevel[l - 1]);
      spawned.push(Math.max(...up) - Math.min(...met));
    }
  }
  console.log(JSON.stringify({firstStarted: Math.min(...started), lastReady: Math.max(...ready.map(e => e.atMs)),
    launchedMs: Math.round(parseFloat(launchedS) * 1000), perLevel, released, spawned}));' \
    "$TMP/events.jsonl" "$LEVELS" "$launched" >"$TMP/result.json" || die "cannot read the events"
log "result: $(cat "$TMP/result.json")"

report() {
    node -e '
      const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
      const [apps, levels, width, readyMs, slackMs, quick, profile, commit] = process.argv.slice(2);
      const took = r.lastReady - r.firstStarted, fromLaunch = r.lastReady - r.launchedMs;
      const budget = levels * (+readyMs + +slackMs);
      const steps = r.perLevel.map((t, i) => i === 0 ? t - r.firstStarted : t - r.perLevel[i - 1]);
      const overhead = steps.map(s => s - readyMs);
      const out = [];
      out.push("## Order between apps (`dependsOn`)");
      out.push("");
      out.push(`${apps} apps in a dependency chain of depth ${levels}, ${width} per level, each app depending`);
      out.push(`(condition: Ready) on every app of the level before; each app turns ready after ${readyMs} ms up`);
      out.push("(no probe). Target: every app ready within the sum of the readiness times along the chain");
      out.push(`+ ${slackMs} ms per level. \`bench/deps.sh\`, ${profile} build, commit ${commit}${quick === "1" ? ", QUICK run (figures mean nothing)" : ""}.`);
      out.push("");
      const avg = xs => (xs.reduce((a, b) => a + b, 0) / xs.length).toFixed(0);
      out.push("| first start to last ready | target | verdict | controller launch to last ready | overhead per level (mean, max) | released after the level before is ready (mean, max) | its starts (mean, max) |");
      out.push("|---|---|---|---|---|---|---|");
      out.push(`| ${took} ms | ≤ ${budget} ms | ${took <= budget ? "met" : "missed"} | ${fromLaunch} ms | ${avg(overhead)} ms, ${Math.max(...overhead)} ms | ${avg(r.released)} ms, ${Math.max(...r.released)} ms | ${avg(r.spawned)} ms, ${Math.max(...r.spawned)} ms |`);
      out.push("");
      out.push("*Released*: from the last Ready event of a level to the first `DependenciesMet` of the next (the");
      out.push(`gate itself); *its starts*: from there to the last \`Started\` event of that level (${width} processes spawned).`);
      out.push("");
      out.push("Each level, from the last Ready of the level before (the first level: from the first start) to");
      out.push(`its own last Ready: ${steps.map(s => s + " ms").join(", ")}.`);
      console.log(out.join("\n"));' \
      "$TMP/result.json" "$APPS" "$LEVELS" "$WIDTH" "$READY_MS" "$SLACK_MS" "${BENCH_QUICK:-0}" "$BENCH_PROFILE" \
      "$(git -C "$ROOT" rev-parse --short HEAD)"
}
if [[ -n $OUT ]]; then report >"$OUT" || die "report failed"; log "wrote $OUT"; else report || die "report failed"; fi
