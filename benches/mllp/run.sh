#!/usr/bin/env bash
# Throughput of `ihub` over MLLP against the two reference servers, in one run.
#
#   benches/mllp/run.sh OUTDIR
#
# Needs (paths through the environment, so nothing here depends on where the kit lives):
#   LOAD          the MLLP load client (mllp-load)
#   ECHO          the bare echo server (mllp-echo): no parse, no disk
#   DURABLE_ECHO  the durable echo server (mllp-durable-echo): append + group-commit fdatasync
#   MESSAGES      the message file for the load client (one HL7 message per line)
#   IHUB          the engine binary (default: target/release/ihub)
#   MODES         engine runs, default "sync interval" (also: sync-nodest interval-nodest)
#   CELLS         load client arguments for the cells (default: 1/4/16 connections, window 1 and 16)
#
# Every server gets the same load command; the engine runs once per mode with a fresh data
# directory (and its own output folder, deleted only at the end). One JSON line per cell goes
# to OUTDIR/<server>.jsonl; report.py prints the table.
set -euo pipefail

out=${1:?usage: run.sh OUTDIR}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
: "${LOAD:?set LOAD to the mllp-load binary}"
: "${ECHO:?set ECHO to the mllp-echo binary}"
: "${DURABLE_ECHO:?set DURABLE_ECHO to the mllp-durable-echo binary}"
: "${MESSAGES:?set MESSAGES to a message file}"
IHUB=${IHUB:-$root/target/release/ihub}
MODES=${MODES:-"sync interval"}
CELLS=${CELLS:-"--conns 1,4,16 --window 1,16 --per-conn 100000 --max-total 100000 --duration 2 --repeat 3 --warmup 200 --warmup-secs 1 --timeout-ms 5000"}

mkdir -p "$out"
out=$(cd "$out" && pwd)

# free_port, wait_port, bench_channel, start_engine
source "$here/common.sh"

# load LABEL PORT PID CHECK
load() {
    local label=$1 port=$2 pid=$3 check=$4
    local rss_log="$out/$label.rss"
    ps -o rss= -p "$pid" > "$rss_log"
    ( while kill -0 "$pid" 2>/dev/null; do ps -o rss= -p "$pid" >> "$rss_log"; sleep 0.2; done ) &
    local sampler=$!
    # shellcheck disable=SC2086
    "$LOAD" --addr "127.0.0.1:$port" --messages "$MESSAGES" $CELLS --check "$check" \
        --server-pid "$pid" --label "$label" > "$out/$label.jsonl" 2> "$out/$label.log"
    kill "$sampler" 2>/dev/null || true
}

stop() {
    kill -TERM "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

run_reference() {
    local label=$1; shift
    local port; port=$(free_port)
    "$@" --addr "127.0.0.1:$port" > "$out/$label.server.log" 2>&1 &
    local pid=$!
    wait_port "$port"
    load "$label" "$port" "$pid" aa
    stop "$pid"
}

run_engine() {
    local mode=$1
    local durability=${mode%%-*}
    local dir="$out/engine-$mode"
    rm -rf "$dir"
    local dest=dest
    [[ $mode == *-nodest ]] && dest=nodest
    local port pid
    start_engine "$dir" "$durability" "$dest"
    sleep 2
    ps -o rss= -p "$pid" > "$out/engine-$mode.idle-rss"
    load "engine-$mode" "$port" "$pid" ctrl
    stop "$pid"
    du -sk "$dir/data" | cut -f1 > "$out/engine-$mode.data-kb"
    # The journal goes now (a few large files); the delivered files stay until every mode
    # has run. On ext4 without a journal (the reference machine's disk), creating a file
    # next to thousands of just-deleted ones costs up to ~1 ms of kernel CPU each (the
    # allocator skips recently deleted inodes one by one), which would be charged to the
    # next mode's file destination.
    rm -rf "$dir/data"
}

run_reference echo "$ECHO"
run_reference durable-echo "$DURABLE_ECHO" --log "$out/durable-echo.log"
rm -f "$out/durable-echo.log"
for mode in $MODES; do
    run_engine "$mode"
done
for mode in $MODES; do
    rm -rf "$out/engine-$mode/out"
done
"$here/report.py" "$out"
