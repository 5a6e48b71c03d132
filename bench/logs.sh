#!/usr/bin/env bash
# Log throughput: a Node app printing LINES lines (console.log) as fast as it can,
#
#   file    node app.js > file           (the yardstick: straight to a file)
#   pipe    node app.js | cat > file     (what any pipe costs a Node app: corral's floor)
#   pm2     under PM2, fork mode, its default log files
#   corral  under corral, rotation on (logs: {maxSize: 10Mi, maxFiles: 3}, timestamps on)
#
# The app times its own printing loop (from its first line to its last write returning) and
# writes that to a side file, so start-up is not measured. Each setup then must have all LINES
# lines in its log files (counted across rotated files) before the round counts. ROUNDS rounds
# visit the setups in turn, so a noisy neighbour weighs on all alike; the table gives medians.
#
# Usage: bench/logs.sh [REPORT.md]   (markdown section to REPORT.md, else to stdout)
# Knobs (environment): BENCH_LOG_LINES (default 500000), BENCH_LOG_ROUNDS (default 5).
# Installs PM2 into its temp folder (npm, never global) and builds corral (cargo, release).

set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_NAME=logs
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

LINES=${BENCH_LOG_LINES:-500000}
ROUNDS=${BENCH_LOG_ROUNDS:-5}
OUT=${1:-}
CORRAL=$ROOT/target/${BENCH_PROFILE:-release}/corral
private_setup logs
FILE_PID=""

cleanup() {
    [[ -n $FILE_PID ]] && stop_pid "$FILE_PID"
    stop_started
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The app: prints LINES numbered lines, writes its printing time (ms) to argv[3], stays up.
cat >"$TMP/app.js" <<'EOF'
const fs = require('fs');
const [n, report] = [Number(process.argv[2]), process.argv[3]];
const t0 = process.hrtime.bigint();
for (let i = 0; i < n; i++) console.log(`line ${i} of the log throughput bench`);
const ms = Number(process.hrtime.bigint() - t0) / 1e6;
fs.writeFileSync(report + '.tmp', ms.toFixed(1));
fs.renameSync(report + '.tmp', report);
setInterval(() => {}, 1 << 30);
EOF

# Wait up to $2 s for file $1 to exist.
wait_file() {
    local deadline=$((SECONDS + ${2:-120}))
    while [[ ! -e $1 ]]; do
        ((SECONDS < deadline)) || return 1
        sleep 0.05
    done
}

# Lines in the files matching glob $1 (rotated files included).
count_lines() {
    # shellcheck disable=SC2086 # a glob on purpose
    cat $1 2>/dev/null | wc -l
}

# Wait up to 60 s until the files matching $1 hold LINES lines; prints the count reached.
wait_lines() {
    local deadline=$((SECONDS + 60)) n=0
    while ((SECONDS < deadline)); do
        n=$(count_lines "$1")
        ((n >= LINES)) && break
        sleep 0.2
    done
    echo "$n"
}

declare -A MS      # setup -> space-separated printing times (ms), one per round
declare -A ARRIVED # setup -> space-separated line counts, one per round

# Runs the app with its stdout going to `> $2` (file: a file; pipe: `>(cat > file)`).
run_plain() {
    local setup=$1 r=$2 report=$TMP/$1-$2.ms out=$TMP/$1-$2.log
    case $setup in
        file) node "$TMP/app.js" "$LINES" "$report" >"$out" & ;;
        pipe) node "$TMP/app.js" "$LINES" "$report" > >(cat >"$out") & ;;
    esac
    FILE_PID=$!
    wait_file "$report" || die "the app writing to a $setup did not finish"
    MS[$setup]+="$(<"$report") "
    ARRIVED[$setup]+="$(wait_lines "$out") "
    stop_pid "$FILE_PID"
    FILE_PID=""
    rm -f "$out"
}

run_pm2() {
    local r=$1 report=$TMP/pm2-$1.ms name=logs-$1
    PM2_STARTED=1
    "$PM2" start "$TMP/app.js" --name "$name" -- "$LINES" "$report" >>"$TMP/pm2.log" 2>&1 ||
        die "pm2 start failed (see $TMP/pm2.log)"
    wait_file "$report" || die "the app under PM2 did not finish"
    MS[pm2]+="$(<"$report") "
    ARRIVED[pm2]+="$(wait_lines "$PM2_HOME/logs/$name-out.log*") "
    "$PM2" delete "$name" >>"$TMP/pm2.log" 2>&1
    rm -f "$PM2_HOME/logs/$name-"*
}

run_corral() {
    local r=$1 report=$TMP/corral-$1.ms name=logs-$1
    cat >"$TMP/manifests/$name.yaml" <<EOF
apiVersion: corral/v1
kind: App
metadata:
  name: $name
spec:
  command: [node, $TMP/app.js, "$LINES", $report]
  logs: {maxSize: 10Mi, maxFiles: 3}
EOF
    wait_file "$report" || die "the app under corral did not finish (see $TMP/controller.log)"
    MS[corral]+="$(<"$report") "
    ARRIVED[corral]+="$(wait_lines "$CORRAL_HOME/logs/$name/0.out.log*") "
    rm -f "$TMP/manifests/$name.yaml"
}

# The median of its arguments.
median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

report() {
    local file_ms setup ms counts min
    # shellcheck disable=SC2086 # word lists on purpose
    file_ms=$(median ${MS[file]})
    echo "## Log throughput"
    echo
    echo "A Node app printing $LINES lines (\`console.log\`) as fast as it can; the time is the app's"
    echo "own printing loop, median of $ROUNDS rounds (bench/logs.sh). corral rotates"
    echo "(\`maxSize: 10Mi, maxFiles: 3\`) and stamps each line; lines arrived counts every file."
    echo
    echo "| setup | printing time (ms) | lines/s | × file | lines arrived (min of rounds) | rounds (ms) |"
    echo "|---|---:|---:|---:|---:|---|"
    for setup in file pipe pm2 corral; do
        # shellcheck disable=SC2086
        ms=$(median ${MS[$setup]})
        # shellcheck disable=SC2086
        min=$(printf '%s\n' ${ARRIVED[$setup]} | sort -n | head -1)
        counts=${MS[$setup]% }
        awk -v s="$setup" -v ms="$ms" -v f="$file_ms" -v n="$LINES" -v a="$min" -v c="$counts" \
            'BEGIN { printf "| %s | %.0f | %.0f | %.2f× | %d | %s |\n", s, ms, n / ms * 1000, f / ms, a, c }'
    done
}

command -v node >/dev/null || die "node is required"
install_pm2
log "building corral (cargo build, $BENCH_PROFILE)"
build_corral --bin corral || die "cargo build failed"
mkdir -p "$TMP/manifests"
"$CORRAL" controller --manifests "$TMP/manifests" >"$TMP/controller.log" 2>&1 &
CORRAL_PID=$!

for ((r = 1; r <= ROUNDS; r++)); do
    log "round $r/$ROUNDS: file"
    run_plain file "$r"
    log "round $r/$ROUNDS: pipe"
    run_plain pipe "$r"
    log "round $r/$ROUNDS: pm2"
    run_pm2 "$r"
    log "round $r/$ROUNDS: corral"
    run_corral "$r"
done

if [[ -n $OUT ]]; then report >"$OUT"; else report; fi
