#!/usr/bin/env python3
"""Prints the tables of one benches/mllp/run.sh run: msgs/s per cell, the engine's ratios
against the references measured in the same run, p50/p99, server CPU per message and memory."""
import json
import pathlib
import sys

out = pathlib.Path(sys.argv[1])


def cells(label):
    path = out / f"{label}.jsonl"
    if not path.exists():
        return {}
    rows = {}
    for line in path.read_text().splitlines():
        if line.strip():
            row = json.loads(line)
            rows[(row["conns"], row["window"])] = row
    return rows


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

print()
for e in engines:
    idle = out / f"{e}.idle-rss"
    idle_mib = int(idle.read_text().split()[0]) / 1024 if idle.exists() else None
    data = out / f"{e}.data-kb"
    data_mib = int(data.read_text().split()[0]) / 1024 if data.exists() else None
    print(f"{e}: idle RSS {fmt(idle_mib, 1)} MiB, max RSS under load {fmt(rss_mib(e), 1)} MiB, "
          f"data dir at the end {fmt(data_mib, 0)} MiB")
