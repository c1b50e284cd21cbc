#!/usr/bin/env python3
"""Prints the tables of one benches/mllp/run.sh or interleaved.sh run: msgs/s per cell, the
engine's ratios against the references measured in the same run, p50/p99, server CPU per
message and memory. A cell measured more than once (interleaved.sh's rounds) shows the median
of its successful measurements, and how many failed."""
import json
import pathlib
import statistics
import sys

out = pathlib.Path(sys.argv[1])


def cells(label):
    path = out / f"{label}.jsonl"
    if not path.exists():
        return {}
    measured = {}
    for line in path.read_text().splitlines():
        if line.strip():
            row = json.loads(line)
            measured.setdefault((row["conns"], row["window"]), []).append(row)
    return {key: merged(rows) for key, rows in measured.items()}


FIELDS = ("median_msgs_per_s", "median_p50_us", "median_p99_us", "median_server_cpu_us_per_msg")


def merged(rows):
    """One row for a cell: the median of each figure over its successful measurements."""
    good = [r for r in rows if r["ok"]]
    row = {"ok": bool(good), "failed": len(rows) - len(good)}
    for field in FIELDS:
        row[field] = statistics.median(r[field] for r in good) if good else None
    return row


def rss_mib(label):
    path = out / f"{label}.rss"
    if not path.exists():
        return None
    values = [int(v) for v in path.read_text().split() if v.isdigit()]
    return max(values) / 1024 if values else None


echo = cells("echo")
durable = cells("durable-echo")
engines = sorted(p.stem for p in out.glob("engine-*.jsonl"))
keys = sorted(echo or durable, key=lambda k: (k[1], k[0]))


def rate(rows, key):
    row = rows.get(key)
    return row["median_msgs_per_s"] if row and row["ok"] else None


def fmt(v, digits=0):
    return "–" if v is None else f"{v:,.{digits}f}"


head = "| conns | window | echo | durable echo |"
rule = "|---:|---:|---:|---:|"
for e in engines:
    head += f" {e} | × durable | × echo |"
    rule += "---:|---:|---:|"
print(head)
print(rule)
for key in keys:
    e_rate, d_rate = rate(echo, key), rate(durable, key)
    line = f"| {key[0]} | {key[1]} | {fmt(e_rate)} | {fmt(d_rate)} |"
    for e in engines:
        r = rate(cells(e), key)
        xd = r / d_rate if r and d_rate else None
        xe = r / e_rate if r and e_rate else None
        line += f" {fmt(r)} | {fmt(xd, 2)} | {fmt(xe, 3)} |"
    print(line)

print()
print("p50 / p99 ms, server CPU µs per message:")
print()
head = "| conns | window |" + "".join(f" {label} |" for label in ["durable-echo"] + engines)
print(head)
print("|---:|---:|" + "---|" * (1 + len(engines)))
for key in keys:
    line = f"| {key[0]} | {key[1]} |"
    for label in ["durable-echo"] + engines:
        row = cells(label).get(key)
        if row and row["ok"]:
            line += (f" {row['median_p50_us'] / 1000:.2f} / {row['median_p99_us'] / 1000:.2f}"
                     f" ({row['median_server_cpu_us_per_msg']:.0f} µs) |")
        else:
            line += " – |"
    print(line)

failures = [(label, key, row["failed"]) for label in ["echo", "durable-echo"] + engines
            for key, row in cells(label).items() if row["failed"]]
for label, key, failed in failures:
    print(f"{label} {key[0]} × {key[1]}: {failed} measurement(s) failed (see {label}.log)")

print()
for e in engines:
    idle = out / f"{e}.idle-rss"
    idle_mib = int(idle.read_text().split()[0]) / 1024 if idle.exists() else None
    data = out / f"{e}.data-kb"
    data_mib = int(data.read_text().split()[0]) / 1024 if data.exists() else None
    print(f"{e}: idle RSS {fmt(idle_mib, 1)} MiB, max RSS under load {fmt(rss_mib(e), 1)} MiB, "
          f"data dir at the end {fmt(data_mib, 0)} MiB")
