#!/usr/bin/env python3
"""Write hot-text.ld: the functions hull runs on its common paths, in the order they first run.

Called by generate.sh with the unstripped static hull (same flags as the shipped one), its
link map, and a built bptrace. Runs each scenario under bptrace on a busybox bundle made here
(under /tmp/TAG, cgroups under /TAG, removed on exit, also on failure), then turns the function
names into input-section patterns of a linker script that puts those functions first in an
output section .text.hot ahead of .text.

Why: the kernel maps a binary's text in 64 KiB windows around each fault (fault-around), so a
run that touches 700 functions spread over 3.5 MB of text makes most of the text resident;
placed together they take about a third of it (README, Performance).
"""
import argparse
import datetime
import json
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench"))
import bench  # noqa: E402  (its bundles, and its cleanup of containers, processes, cgroups, mounts by tag)


def sh(argv, check=True, stdio=subprocess.PIPE, cwd=None):
    """Run argv. A created container's init keeps hull's stdout and stderr: commands that
    leave one behind get files (stdio=...), or reading their pipes would wait for the init."""
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=stdio, stderr=stdio, text=True, timeout=60,
                       cwd=cwd)
    if check and r.returncode != 0:
        raise SystemExit(f"generate.py: {' '.join(argv)}: exit {r.returncode}: {r.stderr}")
    return r


class Scenarios:
    """Each scenario runs hull commands under bptrace, appending names to its own list."""

    def __init__(self, hull, bptrace, funcs, tag):
        self.hull, self.bptrace, self.funcs, self.tag = hull, bptrace, funcs, tag
        self.work = f"/tmp/{tag}"
        self.root = f"{self.work}/root-hull"
        self.lists = []
        self.bundles = bench.Bench(argparse.Namespace(tag=tag, hull=hull))
        self.bundles.make_rootfs()

    def bundle(self, cid, args):
        """The benchmark's bundle (busybox rootfs, `hull spec` config, cgroupsPath /TAG/ID)."""
        return self.bundles.bundle(cid, args)

    def traced(self, name, *args, check=True, cwd=None):
        out = f"{self.work}/{name}.fns"
        if out not in self.lists:
            self.lists.append(out)
        with open(f"{self.work}/{name}.log", "a+") as log:
            r = sh([self.bptrace, self.funcs, out, self.hull, "--", self.hull, "--root", self.root, *args],
                   check=False, stdio=log, cwd=cwd)
            if check and r.returncode != 0:
                log.seek(0)
                raise SystemExit(f"generate.py: hull {' '.join(args)}: exit {r.returncode}: {log.read().strip()}")
        return r

    def status(self, cid):
        return json.loads(sh([self.hull, "--root", self.root, "state", cid]).stdout)["status"]

    def run_all(self):
        # 1. `run` of true: the path the RSS figure measures comes first. From the bundle
        #    directory without --bundle, as runc users do (the benchmark passes --bundle).
        self.traced("run", "run", "run", cwd=self.bundle("run", ["true"]))
        # 2. The lifecycle the benchmark times: create, start, (exit), delete.
        b = self.bundle("life", ["true"])
        self.traced("create", "create", "--bundle", b, "life")
        self.traced("start", "start", "life")
        for _ in range(200):
            if self.status("life") == "stopped":
                break
            time.sleep(0.01)
        self.traced("delete", "delete", "life")
        # 3. The rest of a running container's life.
        b = self.bundle("long", ["sleep", "60"])
        with open(f"{self.work}/long.log", "w") as log:
            sh([self.hull, "--root", self.root, "create", "--bundle", b, "long"], stdio=log)
        sh([self.hull, "--root", self.root, "start", "long"])
        self.traced("state", "state", "long")
        self.traced("list", "list")
        self.traced("exec", "exec", "long", "true")
        self.traced("ps", "ps", "long")
        self.traced("pause", "pause", "long")
        self.traced("resume", "resume", "long")
        self.traced("update", "update", "--pids-limit", "100", "long")
        self.traced("kill", "kill", "long", "KILL")
        for _ in range(200):
            if self.status("long") == "stopped":
                break
            time.sleep(0.01)
        self.traced("delete", "delete", "long")


def text_sections(mapfile):
    """Function name -> (input file, input section) for every text input section in the map."""
    num = re.compile(r"^\s*[0-9a-f]+\s+[0-9a-f]+\s+[0-9a-f]+\s+\d+ ")
    where, cur = {}, None
    for line in open(mapfile):
        m = num.match(line)
        if not m:
            continue
        rest = line[m.end():]
        body = rest.strip()
        if ":(" in body:
            f, sec = body.rsplit(":(", 1)
            cur = (f, sec[:-1])
            for prefix in (".text.unlikely.", ".text.hot.", ".text."):
                if cur[1].startswith(prefix):  # Rust: one section per function, named for it
                    where.setdefault(cur[1][len(prefix):], cur)
                    break
        elif rest.startswith("        ") and cur:  # a global symbol inside the last section
            where.setdefault(body, cur)
        else:
            cur = None
    return where


def wildcard(sec):
    """What varies between builds of the same code: crate hashes and LLVM's module suffixes."""
    sec = re.sub(r"Cs[0-9A-Za-z]+_", "Cs*_", sec)       # v0 crate disambiguator
    sec = re.sub(r"17h[0-9a-f]{16}E", "17h*E", sec)      # legacy hash (precompiled std)
    return re.sub(r"\.llvm\.[0-9]+", ".llvm.*", sec)


def pattern(f, sec):
    if not sec.startswith(".text"):
        return None
    member = re.search(r"([^/]+\.a)\(([^)]+)\)$", f)
    if member:  # C archives (libc.a): one section per object file
        return f"*{member.group(1)}:{member.group(2)}({sec})"
    if sec in (".text", ".text.unlikely", ".text.startup"):  # a C object file: name the file
        return f"*{os.path.basename(f)}({sec})"
    return f"*({wildcard(sec)})"


def trace_hull(args):
    """Run hull's scenarios under bptrace: the names of the functions that ran, in order."""
    tag = f"hull-hot-text-{os.getpid()}"
    work = f"/tmp/{tag}"
    os.makedirs(work)
    try:
        funcs = f"{work}/funcs"
        nm = sh(["nm", "-n", "--defined-only", args.hull]).stdout
        seen = set()
        with open(funcs, "w") as f:
            for line in nm.splitlines():
                t = line.split()
                if len(t) == 3 and t[1] in "tTwWiI" and t[0] not in seen:
                    seen.add(t[0])
                    f.write(f"{t[0]} {t[2]}\n")
        # hull re-executes itself from a read-only view of its binary before it enters a
        # container (src/process/sealed_exe.rs); bptrace follows one exec of one path. Run it
        # from a read-only bind, as an install on a read-only filesystem would: the same
        # code runs, minus that one re-exec.
        ro = f"{work}/hull"
        open(ro, "w").close()
        sh(["mount", "--bind", args.hull, ro])
        try:
            sh(["mount", "-o", "remount,bind,ro", ro])
            sc = Scenarios(ro, args.bptrace, funcs, tag)
            sc.run_all()
        finally:
            sh(["umount", ro], check=False)
        names = []
        for path in sc.lists:
            names += [n.strip() for n in open(path)]
    finally:
        bench.cleanup(tag, args.hull)
    left = bench.leaked_cgroups(tag) + [str(p) for p in bench.pids_in_tag(tag)] + bench.mounts_with(tag)
    if left:
        raise SystemExit(f"generate.py: left behind: {left}")
    return names


HULL_RUNS = "hull runs in run/create/start/delete/state/list/exec/ps/pause/resume/update/kill"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hull", help="unstripped static hull, to trace here")
    ap.add_argument("--bptrace")
    ap.add_argument("--names", nargs="+",
                    help="function lists traced already (generate-shim.sh), instead of --hull")
    ap.add_argument("--what", default=HULL_RUNS, help="what the traced binary ran, for the header")
    ap.add_argument("--map", required=True, help="the link map of the traced binary")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("generate.py: run as root")
    if args.names:
        names = [n.strip() for path in args.names for n in open(path)]
    elif args.hull and args.bptrace:
        names = trace_hull(args)
    else:
        raise SystemExit("generate.py: give --hull and --bptrace, or --names")

    where = text_sections(args.map)
    pats, missing = [], []
    for n in names:
        if n not in where:
            missing.append(n)
            continue
        p = pattern(*where[n])
        if p and p not in pats:
            pats.append(p)
    if missing:
        raise SystemExit(f"generate.py: {len(missing)} functions not in {args.map}: {missing[:5]}")
    rustc = sh(["rustc", "--version"]).stdout.strip()
    with open(args.out, "w") as o:
        by = "generate-shim.sh" if args.names else "generate.sh"
        o.write(f"/* Generated by integration/hot-text/{by} on {datetime.date.today()} "
                f"({rustc}): the {len(pats)} text\n"
                f"   sections {args.what},\n   in the order they first run. build-static.sh links with it. */\n")
        # .iplt (the IFUNC stubs every memcpy goes through) comes first too: lld puts it after
        # .text otherwise, and a page there would be one more resident folio.
        o.write("SECTIONS {\n  .iplt : { *(.iplt) }\n  .text.hot : {\n")
        for p in pats:
            o.write(f"    {p}\n")
        o.write("  }\n} INSERT BEFORE .text;\n")
    print(f"generate.py: {len(set(names))} functions ran, {len(pats)} patterns -> {args.out}")


if __name__ == "__main__":
    main()
