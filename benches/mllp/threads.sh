#!/usr/bin/env bash
# Where one `ihub` engine's threads spend a load: per thread, the share of the time it ran and
# the share it was runnable but *waiting for a CPU* (the kernel's schedstat), and its voluntary
# and involuntary context switches; plus how busy the whole machine was. This is what showed
# that the sequential and single-connection cells are bound by scheduling, not by CPU
# (docs/performance.md, "Waiting to run").
#
#   benches/mllp/threads.sh
#
# Needs LOAD (the mllp-load client) and MESSAGES (one HL7 message per line), like run.sh.
# Optional: IHUB (default target/release/ihub), DURABILITY (default interval), CONNS and
# WINDOW (default 16 and 1), SECS measured (default 3), DEST=1 to add a file destination
# (in a directory never used before, so the ext4 inode scan after mass deletes stays out).
# Linux only (/proc).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
: "${LOAD:?set LOAD to the mllp-load binary}"
: "${MESSAGES:?set MESSAGES to a message file}"
IHUB=${IHUB:-$root/target/release/ihub}
DURABILITY=${DURABILITY:-interval}
CONNS=${CONNS:-16}
WINDOW=${WINDOW:-1}
SECS=${SECS:-3}

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
# free_port, wait_port, bench_channel, start_engine, dest_kind, timed_load
source "$here/common.sh"
start_engine "$dir" "$DURABILITY" "$(dest_kind)"

timed_load $((SECS + 3)) 200 > "$dir/load.json" &
load=$!

# One line per engine thread: tid, name, voluntary and involuntary switches, ns running,
# ns waiting on a run queue.
snapshot() {
    for task in /proc/"$pid"/task/*; do
        local tid=${task##*/}
        local name switches sched
        name=$(cat "$task/comm" 2>/dev/null) || continue
        switches=$(awk '/^voluntary_ctxt_switches/ {v=$2} /^nonvoluntary_ctxt_switches/ {n=$2} END {print v, n}' "$task/status" 2>/dev/null) || continue
        sched=$(awk '{print $1, $2}' "$task/schedstat" 2>/dev/null) || continue
        echo "$tid $name $switches $sched"
    done | sort
}
# Idle and total jiffies of the whole machine.
machine() {
    awk '/^cpu / {idle = $5 + $6; total = 0; for (i = 2; i <= NF; i++) total += $i; print idle, total}' /proc/stat
}

sleep 2
m1=$(machine)
snapshot > "$dir/a"
sleep "$SECS"
snapshot > "$dir/b"
m2=$(machine)
wait "$load" || true
kill -TERM "$pid"
wait "$pid" || true

python3 - "$dir/load.json" "$dir/a" "$dir/b" "$m1" "$m2" "$SECS" <<'EOF'
import json, sys
load, a, b, m1, m2, secs = sys.argv[1:]
secs = float(secs)
r = json.loads(open(load).read() or "{}")
print(f"{r.get('median_msgs_per_s', 0):.0f} msgs/s, {r.get('median_server_cpu_us_per_msg', 0):.1f} µs of engine CPU per message")
(i1, t1), (i2, t2) = (map(int, m.split()) for m in (m1, m2))
print(f"machine busy: {100 * (1 - (i2 - i1) / max(t2 - t1, 1)):.0f} %")
def read(path):
    rows = {}
    for line in open(path):
        tid, name, vol, invol, run, wait = line.split()
        rows[tid] = (name, int(vol), int(invol), int(run), int(wait))
    return rows
before, after = read(a), read(b)
print(f"{'thread':<18}{'running':>9}{'waiting':>9}{'vol/s':>9}{'invol/s':>9}")
for tid, (name, vol, invol, run, wait) in sorted(after.items(), key=lambda kv: kv[1][0]):
    if tid not in before:
        continue
    _, vol0, invol0, run0, wait0 = before[tid]
    running = (run - run0) / secs / 1e7
    if running < 0.5 and vol - vol0 < 100:
        continue
    print(f"{name:<18}{running:>8.1f}%{(wait - wait0) / secs / 1e7:>8.1f}%"
          f"{(vol - vol0) / secs:>9.0f}{(invol - invol0) / secs:>9.0f}")
EOF
