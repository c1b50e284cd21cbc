#!/usr/bin/env bash
# Two `ihub` builds on one cell, alternated: A, B, A, B, … each row a fresh engine (and, with a
# destination, a destination directory never used before). The machine's
# noise is ±10–20 % between minutes, larger than most single changes, so a change is judged
# by pairs measured side by side, never against a figure from an earlier sitting
# (docs/performance.md cites these as "alternated"). Rows keep their directories until the end:
# on ext4, files deleted in the last minutes make every new file's inode allocation scan past
# them, which would slow the next row's file destination.
#
#   benches/mllp/ab.sh BIN_A BIN_B
#
# Needs LOAD (the mllp-load client) and MESSAGES (one HL7 message per line), like run.sh.
# Optional: CONNS and WINDOW (default 16 and 1), DURABILITY (default interval), DEST=1 for a
# file destination, PAIRS (default 3), SECS measured per row (default 4). Prints per row:
# msgs/s, the engine's CPU µs per message, p99 and peak RSS (VmHWM). Linux only (/proc).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
: "${LOAD:?set LOAD to the mllp-load binary}"
: "${MESSAGES:?set MESSAGES to a message file}"
[[ $# -eq 2 ]] || { echo "usage: $0 BIN_A BIN_B" >&2; exit 2; }
CONNS=${CONNS:-16}
WINDOW=${WINDOW:-1}
DURABILITY=${DURABILITY:-interval}
PAIRS=${PAIRS:-3}
SECS=${SECS:-4}
# free_port, wait_port, bench_channel, start_engine, dest_kind, timed_load
source "$here/common.sh"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# One row: engine $1 in a fresh directory, the load, then its peak memory.
row() {
    local bin=$1 dir
    dir=$(mktemp -d "$work/row.XXXX")
    IHUB=$bin start_engine "$dir" "$DURABILITY" "$(dest_kind)"
    local result
    result=$(timed_load "$SECS" 200)
    local peak
    peak=$(awk '/^VmHWM/ {print int($2 / 1024)}' "/proc/$pid/status")
    kill -TERM "$pid"
    wait "$pid" || true
    python3 -c '
import json, sys
r = json.loads(sys.argv[1])
print("%-24s %9.0f msgs/s %6.1f µs/msg  p99 %6.2f ms  peak %s MiB" % (
    sys.argv[2], r["median_msgs_per_s"], r["median_server_cpu_us_per_msg"],
    r["median_p99_us"] / 1000, sys.argv[3]))
' "$result" "$(basename "$bin")" "$peak"
}

destination="no destination"
[[ -n ${DEST:-} ]] && destination="a file destination"
echo "$CONNS × $WINDOW, $DURABILITY, $destination"
for _ in $(seq 1 "$PAIRS"); do
    row "$1"
    row "$2"
done
