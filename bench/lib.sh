# Shared by the bench scripts (bench/run.sh, bench/memory.sh, …): logging, stopping processes,
# free ports, waiting for HTTP, timing, and a private PM2. Source it; it defines functions only
# (install_pm2 needs $TMP).

# The binaries the bench runs: release (what users run), or debug for `make test`'s smoke run
# (bench/run.sh exports BENCH_PROFILE=debug there: `make lint` has built them already).
BENCH_PROFILE=${BENCH_PROFILE:-release}

# cargo build [ARGS…] (what the script runs) in that profile, from the project's root ($ROOT).
# The debug build is `make lint`'s, whatever ARGS say: every target of the workspace in one
# resolution. A debug `--bin corral` alone resolves the dependencies' features without the
# tests' and the example's dev-dependencies and compiled the crates whose features differ, and
# corral, again (minutes on a clean clone, while the other parts waited for cargo's lock).
build_corral() {
    if [[ $BENCH_PROFILE == release ]]; then
        (cd "$ROOT" && cargo build --release --locked --quiet "$@")
    else
        (cd "$ROOT" && cargo build --locked --quiet --workspace --all-targets)
    fi
}

log() { printf '[%s %(%H:%M:%S)T] %s\n' "${BENCH_NAME:-bench}" -1 "$*" >&2; }
die() { log "error: $*"; exit 1; }

# SIGTERM a process, wait up to 15 s for it to exit, then SIGKILL it.
stop_pid() {
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 150; i++)); do
        kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
        sleep 0.1
    done
    log "pid $pid ignored SIGTERM for 15 s, killing it"
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
}

# A TCP port on 127.0.0.1 that nothing listens on right now (the kernel picks it).
free_port() {
    node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}

# Wait up to $2 seconds (default 30) until GET $1 answers 2xx.
wait_http() {
    local url=$1 deadline=$((SECONDS + ${2:-30}))
    while ((SECONDS < deadline)); do
        curl -fsS -o /dev/null --max-time 1 "$url" 2>/dev/null && return 0
        sleep 0.2
    done
    log "$url did not answer 2xx within ${2:-30} s"
    return 1
}

now() { echo "$EPOCHREALTIME"; }

# User and system CPU clock ticks (utime stime) summed over PIDS.
cpu_ticks() {
    local pid user=0 sys=0 fields
    for pid in "$@"; do
        fields=$(cut -d')' -f2 "/proc/$pid/stat" 2>/dev/null) || continue
        read -r _ _ _ _ _ _ _ _ _ _ _ u s _ <<<"$fields"
        user=$((user + u)) sys=$((sys + s))
    done
    echo "$user $sys"
}
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

# Where PM2 is installed: BENCH_PM2_PREFIX (bench/run.sh shares its install with the other
# scripts), else $TMP/pm2. PM2 is then $(pm2_prefix)/node_modules/.bin/pm2.
pm2_prefix() { echo "${BENCH_PM2_PREFIX:-$TMP/pm2}"; }

# Install PM2 there (npm, never global) unless it is there already.
install_pm2() {
    local prefix
    prefix=$(pm2_prefix)
    [[ -x $prefix/node_modules/.bin/pm2 ]] && return 0
    log "installing PM2 into $prefix (npm, not global)"
    npm install --prefix "$prefix" --no-audit --no-fund --loglevel=error pm2@latest >/dev/null ||
        die "npm install pm2 failed"
}

# The private state every script runs in: TMP (a fresh temp folder named after $1), a PM2
# daemon and a corral controller of its own (PM2_HOME, CORRAL_HOME), PM2 (the binary), and the
# pids stop_started stops. Call once, near the top.
private_setup() {
    TMP=$(mktemp -d "/tmp/corral-bench-$1.XXXXXX")
    export PM2_HOME=$TMP/pm2-home       # a private PM2 daemon, never the user's
    export CORRAL_HOME=$TMP/corral-home # a private corral controller
    PM2=$(pm2_prefix)/node_modules/.bin/pm2
    CORRAL_PID="" WRK_PID="" PM2_STARTED=""
}

# Stops what private_setup's pids name (wrk, the controller, the PM2 daemon), if started.
stop_started() {
    [[ -n ${WRK_PID:-} ]] && kill "$WRK_PID" 2>/dev/null
    [[ -n ${CORRAL_PID:-} ]] && stop_pid "$CORRAL_PID"
    [[ -n ${PM2_STARTED:-} ]] && "$PM2" kill >/dev/null 2>&1
    WRK_PID="" CORRAL_PID="" PM2_STARTED=""
}
