#!/usr/bin/env bash
# Like run.sh, but every server runs at once and the cells take turns: each round runs every
# cell on the echo, the durable echo and each engine mode one right after the other (the
# servers' order rotating from round to round), so a cell's ratios compare measurements taken
# seconds apart instead of minutes. This machine's speed drifts ±10–20 % from one minute to
# the next, which in run.sh lands on whole columns at once. report.py prints, per cell, the
# median over the rounds.
#
#   benches/mllp/interleaved.sh OUTDIR
#
# Needs LOAD, ECHO, DURABLE_ECHO and MESSAGES like run.sh; optional IHUB, MODES (as run.sh),
# ROUNDS (default 3), CONNS_LIST (default "1 4 16"), WINDOWS (default "1 16"), SECS per
# measurement (default 2), MIN_FREE_GB (default 50: the free disk space it needs to start).
# After each load on an engine with a destination it waits until the destination's queue is
# empty, and before every load it runs `sync`, so neither one server's deliveries nor the
# write-back of its data run during another server's load. A failed
# measurement (bad ACKs, a stall) is kept and counted by report.py; the run goes on.
set -euo pipefail

out=${1:?usage: interleaved.sh OUTDIR}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
: "${LOAD:?set LOAD to the mllp-load binary}"
: "${ECHO:?set ECHO to the mllp-echo binary}"
: "${DURABLE_ECHO:?set DURABLE_ECHO to the mllp-durable-echo binary}"
: "${MESSAGES:?set MESSAGES to a message file}"
IHUB=${IHUB:-$root/target/release/ihub}
MODES=${MODES:-"sync interval"}
ROUNDS=${ROUNDS:-3}
CONNS_LIST=${CONNS_LIST:-"1 4 16"}
WINDOWS=${WINDOWS:-"1 16"}
SECS=${SECS:-2}

mkdir -p "$out"
out=$(cd "$out" && pwd)
# Every engine keeps what it stored until the end (its data, its delivered files, and the
# durable echo its log): with the four modes and the defaults, up to ~45 GB at once. A disk
# that fills up fails the last measurements, so refuse to start short of that (MIN_FREE_GB=0
# skips the check).
MIN_FREE_GB=${MIN_FREE_GB:-50}
free_gb=$(df -Pk "$out" | awk 'NR == 2 { print int($4 / 1024 / 1024) }')
if (( free_gb < MIN_FREE_GB )); then
    echo "only ${free_gb} GB free under $out; an interleaved run needs about ${MIN_FREE_GB} GB (MIN_FREE_GB to change)" >&2
    exit 1
fi
# free_port, wait_port, bench_channel, start_engine, wait_drained
source "$here/common.sh"

# Per server (by label): its port, pid, ACK check, and API port (engines with a destination).
declare -A ports pids checks apis
labels=()
samplers=()

# Samples the RSS of server $1 (pid $2) every 0.2 s into OUTDIR/<label>.rss while it lives.
sample_rss() {
    ( while kill -0 "$2" 2>/dev/null; do ps -o rss= -p "$2" >> "$out/$1.rss"; sleep 0.2; done ) &
    samplers+=($!)
}

start_reference() {
    local label=$1; shift
    local port; port=$(free_port)
    "$@" --addr "127.0.0.1:$port" > "$out/$label.server.log" 2>&1 &
    pids[$label]=$!
    ports[$label]=$port
    checks[$label]=aa
    wait_port "$port"
    labels+=("$label")
}

stop_all() {
    for label in "${labels[@]}"; do
        kill -TERM "${pids[$label]}" 2>/dev/null || true
        wait "${pids[$label]}" 2>/dev/null || true
    done
    for sampler in "${samplers[@]}"; do
        kill "$sampler" 2>/dev/null || true
    done
}
trap stop_all EXIT

rm -f "$out"/*.jsonl "$out"/*.rss
start_reference echo "$ECHO"
start_reference durable-echo "$DURABLE_ECHO" --log "$out/durable-echo.log"
for mode in $MODES; do
    label=engine-$mode
    dir="$out/$label"
    rm -rf "$dir"
    dest=dest
    [[ $mode == *-nodest ]] && dest=nodest
    start_engine "$dir" "${mode%%-*}" "$dest"
    pids[$label]=$pid
    ports[$label]=$port
    checks[$label]=ctrl
    [[ $dest == dest ]] && apis[$label]=$api
    labels+=("$label")
done
sleep 2
for label in "${labels[@]}"; do
    [[ $label == engine-* ]] && ps -o rss= -p "${pids[$label]}" > "$out/$label.idle-rss"
    sample_rss "$label" "${pids[$label]}"
done

count=${#labels[@]}
for round in $(seq 1 "$ROUNDS"); do
    for window in $WINDOWS; do
        for conns in $CONNS_LIST; do
            for i in $(seq 0 $((count - 1))); do
                label=${labels[$(((i + round - 1) % count))]}
                # Every measurement starts with nothing dirty in the page cache: the last one's
                # writes (gigabytes of journal and files) would otherwise be written back
                # during this one, whichever server it measures.
                sync
                "$LOAD" --addr "127.0.0.1:${ports[$label]}" --messages "$MESSAGES" \
                    --conns "$conns" --window "$window" --per-conn 100000 --max-total 100000 \
                    --duration "$SECS" --repeat 1 --warmup 200 --warmup-secs 1 \
                    --timeout-ms 5000 --check "${checks[$label]}" \
                    --server-pid "${pids[$label]}" --label "$label" \
                    >> "$out/$label.jsonl" 2>> "$out/$label.log" || true
                if [[ -n ${apis[$label]:-} ]]; then
                    wait_drained "${apis[$label]}"
                fi
            done
        done
    done
    echo "round $round of $ROUNDS done" >&2
done

stop_all
trap - EXIT
rm -f "$out/durable-echo.log"
for mode in $MODES; do
    du -sk "$out/engine-$mode/data" | cut -f1 > "$out/engine-$mode.data-kb"
    rm -rf "$out/engine-$mode/data" "$out/engine-$mode/out"
done
"$here/report.py" "$out"
