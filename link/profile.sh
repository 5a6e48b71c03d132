#!/usr/bin/env bash
# Regenerates link/hot-functions.txt: the functions a release controller runs, which build.rs
# has the linker place first in the binary, together, so that the code the controller touches
# takes few pages instead of being spread over the whole text (see link/README.md).
#
# Builds the release binary, then runs it under valgrind's callgrind through a typical day in
# short: 20 apps starting and running (bench/footprint.sh's RSS scenario), an app crashing in a
# loop, an `http`-mode app (manifests/apps/web.js) taking requests and reloaded, and the CLI's
# get / describe / events / logs; then SIGTERM. Every function callgrind saw run in the corral
# binary is written out, by symbol name. Needs valgrind, node and curl; takes 2–3 minutes.
#
# Run it after upgrading the toolchain or dependencies (their symbol names change; names the
# linker no longer finds are skipped, so a stale list only lays out less of the code).

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=$ROOT/link/hot-functions.txt
BIN=$ROOT/target/release/corral
for tool in valgrind node curl nm; do
    command -v "$tool" >/dev/null || { echo "link/profile.sh: $tool is needed" >&2; exit 1; }
done
(cd "$ROOT" && cargo build --release --locked --bin corral)

TMP=$(mktemp -d)
VG=""
cleanup() {
    [[ -n $VG ]] && kill "$VG" 2>/dev/null && wait "$VG" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT
export CORRAL_HOME=$TMP/home
# The spawner is the binary re-executed through /proc/self/exe, which under valgrind is
# valgrind itself: the controller forks the instances itself here, through the same launch code.
export CORRAL_SPAWNER=0
mkdir -p "$TMP/manifests" "$CORRAL_HOME"
chmod 700 "$TMP" "$TMP/manifests" "$CORRAL_HOME"
app() { # NAME SPEC-LINES…
    printf 'apiVersion: corral/v1\nkind: App\nmetadata: {name: %s}\nspec:\n' "$1"
    shift
    printf '  %s\n' "$@"
}
for i in $(seq 0 19); do
    app "app-$i" 'command: ["sleep", "1000000"]' >"$TMP/manifests/app-$i.yaml"
done
app crashy 'command: "echo starting; echo failing >&2; exit 1"' \
    'backoff: {initial: 100ms, max: 100ms}' >"$TMP/manifests/crashy.yaml"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
app web "command: [\"node\", \"$ROOT/manifests/apps/web.js\"]" 'instances: 2' \
    "listen: [{name: http, port: $port, host: 127.0.0.1, mode: http}]" \
    'readiness: {http: {path: /healthz}, periodSeconds: 1}' >"$TMP/manifests/web.yaml"

valgrind --tool=callgrind --callgrind-out-file="$TMP/callgrind.out" --demangle=no \
    "$BIN" controller --manifests "$TMP/manifests" >"$TMP/controller.log" 2>&1 &
VG=$!
ready() { "$BIN" get web 2>/dev/null | awk '$1 == "web" { split($2, r, "/"); exit !(r[1] == 2) } END { if (NR < 2) exit 1 }'; }
for _ in $(seq 1 600); do ready && break; sleep 0.2; done
ready || { echo "link/profile.sh: web not ready; see $TMP/controller.log" >&2; cat "$TMP/controller.log" >&2; exit 1; }
for _ in $(seq 1 200); do curl -s "http://127.0.0.1:$port/" >/dev/null; done
"$BIN" reload web >/dev/null
for _ in $(seq 1 100); do curl -s "http://127.0.0.1:$port/" >/dev/null; done
"$BIN" get -o wide >/dev/null
"$BIN" describe web >/dev/null
"$BIN" events >/dev/null
"$BIN" logs crashy --tail 5 >/dev/null
sleep 5 # a few memory samples and probes in the steady state
kill -TERM "$VG"
wait "$VG" || true
VG=""

# Function names (callgrind's fn= and cfn= lines) that are code symbols of the binary.
nm --defined-only "$BIN" | awk '$2 ~ /^[tTwW]$/ { print $3 }' | sort -u >"$TMP/symbols"
sed -n 's/^c\{0,1\}fn=([0-9]*) //p' "$TMP/callgrind.out" | sort -u >"$TMP/ran"
comm -12 "$TMP/symbols" "$TMP/ran" >"$OUT"
echo "link/profile.sh: $(wc -l <"$OUT") functions written to $OUT"
