#!/usr/bin/env python3
"""integration/bench/shim_memory.py: the measuring half of shim-memory.sh (stdlib only).

Owns: the hull bundles (one per container, only cgroupsPath differs), reading
/proc/PID/smaps_rollup of every monitor process and the v1 memory cgroup that holds only
those monitors, and the table (stdout and SHIM-MEMORY.md).

  shim_memory.py bundles --base DIR/config.json --rootfs R --tag TAG --n N --out DIR
  shim_memory.py measure --n N --results FILE --command CMD --versions FILE \\
      --cg NAME=CGROUP_DIR=COMM ...
"""
import argparse
import datetime
import json
import os
import statistics
import sys


def make_bundles(a):
    with open(a.base) as f:
        base = json.load(f)
    base["root"] = {"path": a.rootfs, "readonly": True}
    base["process"]["args"] = ["sleep", "3600"]
    base["process"]["terminal"] = False
    for i in range(a.n):
        d = os.path.join(a.out, f"b{i}")
        os.makedirs(d, exist_ok=True)
        cfg = dict(base, linux=dict(base["linux"], cgroupsPath=f"/{a.tag}/hull/c{i}"))
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(cfg, f)

def rollup(pid):
    """smaps_rollup fields in KiB, or None when the process is gone."""
    out = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                parts = line.split()
                if len(parts) == 3 and parts[2] == "kB":
                    out[parts[0].rstrip(":")] = int(parts[1])
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("Threads:"):
                    out["Threads"] = int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        return None
    return out

def comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return "?"

def cg_file(cg, name):
    try:
        with open(os.path.join(cg, name)) as f:
            return f.read()
    except OSError:
        return ""

def cg_stat(cg):
    stat = {}
    for line in cg_file(cg, "memory.stat").splitlines():
        k, _, v = line.partition(" ")
        if v.isdigit():
            stat[k] = int(v)
    return stat

def measure_one(name, cg, want_comm):
    pids = [int(p) for p in cg_file(cg, "cgroup.procs").split()]
    procs, others = [], []
    for p in pids:
        (procs if comm(p) == want_comm else others).append(p)
    rows = [r for r in (rollup(p) for p in procs) if r is not None]
    stat = cg_stat(cg)
    usage = int(cg_file(cg, "memory.usage_in_bytes") or 0)
    kmem = int(cg_file(cg, "memory.kmem.usage_in_bytes") or 0)
    return {
        "name": name,
        "n": len(rows),
        "others": [(p, comm(p)) for p in others],
        "rows": rows,
        "cg": {"usage": usage, "kmem": kmem, "rss": stat.get("rss", 0),
               "cache": stat.get("cache", 0), "mapped_file": stat.get("mapped_file", 0)},
    }

def fmt_kib(k):
    return f"{k / 1024:.2f}" if k >= 1024 * 10 else f"{k / 1024:.3f}"

def table(results):
    keys = [("Rss", "Rss"), ("Pss", "Pss"), ("Pss_Anon", "Pss_Anon"),
            ("Private_Dirty", "Private_Dirty")]
    lines = []
    lines.append("Per process, from /proc/PID/smaps_rollup (MiB; sum over all monitors, "
                 "then mean and median per monitor):")
    lines.append("")
    head = "| monitor | procs | threads/proc |" + "".join(
        f" {label} sum | {label} mean | {label} median |" for _, label in keys)
    lines.append(head)
    lines.append("|" + "---|" * (3 + 3 * len(keys)))
    for r in results:
        rows = r["rows"]
        if not rows:
            lines.append(f"| {r['name']} | 0 | - |" + " - | - | - |" * len(keys))
            continue
        thr = statistics.median(x.get("Threads", 0) for x in rows)
        cells = []
        for k, _ in keys:
            vals = [x.get(k, 0) for x in rows]
            cells += [fmt_kib(sum(vals)), fmt_kib(statistics.mean(vals)),
                      fmt_kib(statistics.median(vals))]
        lines.append(f"| {r['name']} | {r['n']} | {thr:g} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("Charged to a v1 memory cgroup that holds only these monitors (MiB; the "
                 "monitor was exec'd inside it, see below). rss = anonymous memory, cache = "
                 "page cache first touched from the cgroup, kmem = kernel memory; "
                 "usage = memory.usage_in_bytes (rss + cache + kmem):")
    lines.append("")
    lines.append("| monitor | usage | usage / monitor | rss | rss / monitor | cache | kmem | "
                 "kmem / monitor |")
    lines.append("|---|---|---|---|---|---|---|---|")
    for r in results:
        c, m = r["cg"], max(r["n"], 1)
        mib = lambda b: f"{b / 2**20:.2f}"  # noqa: E731
        lines.append(f"| {r['name']} | {mib(c['usage'])} | {mib(c['usage'] / m)} | "
                     f"{mib(c['rss'])} | {mib(c['rss'] / m)} | {mib(c['cache'])} | "
                     f"{mib(c['kmem'])} | {mib(c['kmem'] / m)} |")
    return "\n".join(lines)

def measure(a):
    started = datetime.datetime.now(datetime.timezone.utc)
    results = []
    for spec in a.cg:
        name, cg, want = spec.split("=", 2)
        results.append(measure_one(name, cg, want))
    text = table(results)
    problems = []
    for r in results:
        if r["n"] != a.n:
            problems.append(f"{r['name']}: {r['n']} monitor processes, want {a.n}")
        if r["others"]:
            problems.append(f"{r['name']}: other processes in its cgroup: {r['others']}")
    print(text)
    for p in problems:
        print("WARNING:", p)
    with open(a.versions) as f:
        versions = f.read().strip()
    with open("/proc/loadavg") as f:
        load = " ".join(f.read().split()[:3])
    md = [
        "# Monitor memory: hull-shim vs conmon vs containerd-shim-runc-v2",
        "",
        f"Command: `{a.command}`  ",
        f"Date: {started.strftime('%Y-%m-%d %H:%M:%S')} UTC, load average {load}  ",
        f"Containers: {a.n} per monitor, all running at once (busybox `sleep 3600`, runc as "
        "the runtime of conmon and containerd-shim-runc-v2, hull under hull-shim).",
        "",
        "```",
        versions,
        "```",
        "",
        text,
        "",
    ]
    if problems:
        md += ["Warnings:", ""] + [f"- {p}" for p in problems] + [""]
    with open(a.notes) as f:
        md.append(f.read().rstrip() + "\n")
    with open(a.results, "w") as f:
        f.write("\n".join(md))
    print(f"\nwritten to {a.results}")
    return 1 if problems else 0

def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("bundles")
    b.add_argument("--base", required=True)
    b.add_argument("--rootfs", required=True)
    b.add_argument("--tag", required=True)
    b.add_argument("--n", type=int, required=True)
    b.add_argument("--out", required=True)
    m = sub.add_parser("measure")
    m.add_argument("--n", type=int, required=True)
    m.add_argument("--results", required=True)
    m.add_argument("--command", required=True)
    m.add_argument("--versions", required=True)
    m.add_argument("--notes", required=True)
    m.add_argument("--cg", action="append", required=True, help="NAME=CGROUP_DIR=COMM")
    a = ap.parse_args()
    if a.cmd == "bundles":
        make_bundles(a)
        return 0
    return measure(a)

if __name__ == "__main__":
    sys.exit(main())
