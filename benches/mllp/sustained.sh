#!/usr/bin/env bash
# Throughput of one `ihub` engine as its store grows: the same load, many times in a row,
# against one engine whose data directory is never pruned. A fresh-directory benchmark cannot
# show what happens after the first few GB; this can (docs/performance.md, "Journal pages and
# the page cache").
#
#   benches/mllp/sustained.sh RUNS
#
# Needs LOAD (the mllp-load client) and MESSAGES (one HL7 message per line), like run.sh.
# Optional: IHUB (default target/release/ihub), DURABILITY (default interval), CONNS and
# WINDOW (default 16 and 16), SECS per run (default 4), DEST=1 to add a file destination.
# Prints, per run: msgs/s, server CPU µs per message, p99, the data directory's size, and the
# CPU ticks each engine thread used during the run.
set -euo pipefail

runs=${1:?usage: sustained.sh RUNS}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
: "${LOAD:?set LOAD to the mllp-load binary}"
: "${MESSAGES:?set MESSAGES to a message file}"
IHUB=${IHUB:-$root/target/release/ihub}
DURABILITY=${DURABILITY:-interval}
CONNS=${CONNS:-16}
WINDOW=${WINDOW:-16}
SECS=${SECS:-4}

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
# free_port, wait_port, bench_channel, start_engine, dest_kind, timed_load
source "$here/common.sh"
start_engine "$dir" "$DURABILITY" "$(dest_kind)"

# CPU ticks (user + system) per thread name, summed over the live threads of one name
# (short-lived threads, such as a file batch's sync threads, may vanish while being read).
thread_ticks() {
    for task in /proc/"$pid"/task/*; do
        echo "$(cat "$task/comm" 2>/dev/null) $(awk '{print $14 + $15}' "$task/stat" 2>/dev/null)"
    done | awk '{t[$1] += $2} END {for (k in t) print k, t[k]}' | sort
}

for run in $(seq 1 "$runs"); do
    before=$(thread_ticks)
    result=$(timed_load "$SECS" 0)
    after=$(thread_ticks)
    ticks=$(join <(echo "$before") <(echo "$after") | awk '{printf "%s=%d ", $1, $3 - $2}')
    python3 - "$run" "$result" "$(du -sm "$dir/data" | cut -f1)" "$ticks" <<'EOF'
import json, sys
run, line, data_mb, ticks = sys.argv[1:]
r = json.loads(line)
print(f"run {run}: {r['median_msgs_per_s']:>8.0f} msgs/s  {r['median_server_cpu_us_per_msg']:6.1f} µs/msg"
      f"  p99 {r['median_p99_us'] / 1000:6.1f} ms  data {data_mb} MB  ticks {ticks}")
EOF
done
kill -TERM "$pid"
wait "$pid" || true
