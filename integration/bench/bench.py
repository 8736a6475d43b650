#!/usr/bin/env python3
"""hull vs runc (and crun) benchmark driver; started by integration/bench/run.sh.

Owns: the busybox bundle, the measurements (run, lifecycle, RSS, exec, state/list at scale,
parallel throughput, the unshare floor, strace -c), leak checks, the result table and
RESULTS.md, and the cleanup of everything it made (state roots, cgroups under /TAG,
processes in those cgroups, mounts and files under /tmp/TAG).

Every measurement alternates the runtimes (A B A B ...) inside one process so that noise
from the shared machine hits them alike. Nothing here asserts a timing.
"""

import argparse
import concurrent.futures
import ctypes
import datetime
import itertools
import json
import os
import platform
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

RUNC = "/usr/sbin/runc"
CRUN = "/usr/bin/crun"
CG = "/sys/fs/cgroup"
# crun 1.8.1 refuses hybrid hosts; with the cgroup2 mount gone from its view it sees plain v1.
WRAP = ["unshare", "-m", "sh", "-c", 'umount /sys/fs/cgroup/unified && exec "$0" "$@"']


# ---------------------------------------------------------------- process helpers


class Res:
    __slots__ = ("wall", "cpu", "rss", "rc", "out", "err")

    def __init__(self, wall, cpu, rss, rc, out, err):
        self.wall, self.cpu, self.rss, self.rc, self.out, self.err = wall, cpu, rss, rc, out, err


def spawn(argv, capture=False):
    """Run argv; wall ms, user+sys ms and ru_maxrss KiB of it and its reaped children (wait4)."""
    out = tempfile.TemporaryFile() if capture else subprocess.DEVNULL
    err = tempfile.TemporaryFile()
    t0 = time.perf_counter_ns()
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
    _, status, ru = os.wait4(p.pid, 0)
    wall = (time.perf_counter_ns() - t0) / 1e6
    p.returncode = os.waitstatus_to_exitcode(status)
    text = ""
    if capture:
        out.seek(0)
        text = out.read().decode(errors="replace")
        out.close()
    err.seek(0)
    etext = err.read().decode(errors="replace").strip()
    err.close()
    cpu = (ru.ru_utime + ru.ru_stime) * 1000
    return Res(wall, cpu, ru.ru_maxrss, p.returncode, text, etext)


def must(res, what):
    if res.rc != 0:
        raise RuntimeError(f"{what}: exit {res.rc}: {res.err[-500:]}")
    return res


def pct(xs, p):
    xs = sorted(xs)
    if not xs:
        return float("nan")
    k = (len(xs) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def med(xs):
    return statistics.median(xs) if xs else float("nan")


# ---------------------------------------------------------------- runtimes and bundles


class Runtime:
    """How to call one runtime: `create`/`run` may need the crun wrapper, the rest not."""

    def __init__(self, name, binary, root, wrap=False):
        self.name, self.binary, self.root, self.wrap = name, binary, root, wrap
        os.makedirs(root, exist_ok=True)

    def argv(self, *args, wrapped=False):
        base = [self.binary, "--root", self.root, *args]
        return (WRAP + base) if (self.wrap and wrapped) else base

    def run(self, bundle, cid):
        return self.argv("run", "--bundle", bundle, cid, wrapped=True)

    def create(self, bundle, cid, pidfile):
        return self.argv("create", "--bundle", bundle, "--pid-file", pidfile, cid, wrapped=True)

    def start(self, cid):
        return self.argv("start", cid)

    def delete(self, cid, force=False):
        return self.argv("delete", *(["--force"] if force else []), cid)

    def state(self, cid):
        return self.argv("state", cid)

    def exec(self, cid, *cmd):
        return self.argv("exec", cid, *cmd, wrapped=True)

    def list(self):
        return self.argv("list")

    def ids(self):
        try:
            return sorted(os.listdir(self.root))
        except FileNotFoundError:
            return []


class Bench:
    def __init__(self, args):
        self.args = args
        self.tag = args.tag
        self.work = f"/tmp/{self.tag}"
        self.rootfs = f"{self.work}/rootfs"
        self.config = None
        self.rts = []
        self.notes = []
        self.leaks = []

    # -- setup

    def make_rootfs(self):
        os.makedirs(self.work, exist_ok=True)
        for d in ("bin", "proc", "sys", "dev", "tmp"):
            os.makedirs(f"{self.rootfs}/{d}", exist_ok=True)
        shutil.copy2("/bin/busybox", f"{self.rootfs}/bin/busybox")
        for applet in ("true", "sh", "sleep"):
            os.symlink("busybox", f"{self.rootfs}/bin/{applet}")
        must(spawn([self.args.hull, "spec", "--bundle", self.work]), "hull spec")
        with open(f"{self.work}/config.json") as f:
            cfg = json.load(f)
        os.unlink(f"{self.work}/config.json")
        cfg["process"]["terminal"] = False
        cfg["process"]["args"] = ["true"]
        cfg["root"]["path"] = self.rootfs
        # crun 1.8.1 rejects "1.2.1" ("unknown version specified"); the same config for all.
        cfg["ociVersion"] = "1.0.2-dev"
        self.config = cfg

    def bundle(self, cid, args=None):
        """One bundle dir per container: only cgroupsPath differs (/TAG/ID), and args if given."""
        path = f"{self.work}/b/{cid}"
        os.makedirs(path, exist_ok=True)
        cfg = dict(self.config)
        cfg["linux"] = dict(cfg["linux"], cgroupsPath=f"/{self.tag}/{cid}")
        if args:
            cfg["process"] = dict(cfg["process"], args=args)
        with open(f"{path}/config.json", "w") as f:
            json.dump(cfg, f)
        return path

    def setup_runtimes(self):
        self.rts = [
            Runtime("hull", self.args.hull, f"{self.work}/root-hull"),
            Runtime("runc", RUNC, f"{self.work}/root-runc"),
        ]
        if self.args.no_crun:
            self.notes.append("crun: skipped (--no-crun)")
            return
        if not os.path.exists(CRUN):
            r = spawn(["apt-get", "install", "-y", "-qq", "crun"])
            if r.rc != 0 or not os.path.exists(CRUN):
                self.notes.append("crun: not installed and `apt-get install -y crun` failed")
                return
        crun = Runtime("crun", CRUN, f"{self.work}/root-crun", wrap=True)
        direct = spawn(crun.argv("run", "--bundle", self.bundle("crun-probe0"), "crun-probe0"))
        r = spawn(crun.run(self.bundle("crun-probe"), "crun-probe"))
        if r.rc == 0:
            self.rts.append(crun)
            why = direct.err.splitlines()[-1] if direct.err else f"exit {direct.rc}"
            self.notes.append(
                f"crun: plain `crun run` here fails ({why}); crun create/run/exec are measured inside"
                " `unshare -m sh -c 'umount /sys/fs/cgroup/unified && exec crun ...'` (its cost is"
                " the `crun wrapper` column); start/state/list/delete are plain crun calls."
            )
        else:
            self.notes.append(f"crun: does not work here even in the unshare wrapper: {r.err[-300:]}")

    # -- one container lifecycle

    def lifecycle(self, rt, cid, bundle):
        """create, start, wait for the init to exit (pidfd), delete; per-step wall and cpu."""
        pidfile = f"{self.work}/pid-{cid}"
        c = must(spawn(rt.create(bundle, cid, pidfile)), f"{rt.name} create {cid}")
        with open(pidfile) as f:
            pid = int(f.read().strip())
        os.unlink(pidfile)
        pfd = os.pidfd_open(pid)
        try:
            s = must(spawn(rt.start(cid)), f"{rt.name} start {cid}")
            t0 = time.perf_counter_ns()
            poll = select.poll()
            poll.register(pfd, select.POLLIN)
            if not poll.poll(10_000):
                raise RuntimeError(f"{rt.name} {cid}: init {pid} still alive 10 s after start")
            w = (time.perf_counter_ns() - t0) / 1e6
            try:  # we are a subreaper, so the orphaned init is our child: reap it, as a shim would
                os.waitid(os.P_PIDFD, pfd, os.WEXITED)
            except ChildProcessError:
                pass
        finally:
            os.close(pfd)
        d = must(spawn(rt.delete(cid)), f"{rt.name} delete {cid}")
        return {
            "create": c.wall,
            "start": s.wall,
            "wait": w,
            "delete": d.wall,
            "total": c.wall + s.wall + w + d.wall,
            "cpu": c.cpu + s.cpu + d.cpu,
        }

    # -- sections

    def sec_run(self):
        """1 + 7: `run` of true, the floor and the crun wrapper alone, alternating."""
        floor = ["unshare", "-fmipnu", "--mount-proc", "chroot", self.rootfs, "/bin/true"]
        cases = [(rt.name, rt) for rt in self.rts] + [("floor", floor)]
        if any(rt.wrap for rt in self.rts):
            cases.append(("crun wrapper", WRAP + ["/bin/true"]))
        data = {name: [] for name, _ in cases}
        n = 0
        for i in range(self.args.warmup + self.args.runs):
            for name, what in cases:
                if isinstance(what, Runtime):
                    cid = f"{what.name}-run-{i}"
                    r = must(spawn(what.run(self.bundle(cid), cid)), f"{name} run")
                else:
                    r = must(spawn(what), name)
                if i >= self.args.warmup:
                    data[name].append(r)
            n += 1
        self.run_data = data

    def sec_rss_time_v(self):
        """3: peak RSS as /usr/bin/time -v reports it (same wait4 source, cross-check)."""
        self.time_v = {}
        if not os.path.exists("/usr/bin/time"):
            self.notes.append("/usr/bin/time not installed: RSS only from wait4")
            return
        for rt in self.rts:
            self.time_v[rt.name] = []
            # Resident file pages depend on how the binary got into the page cache (a freshly
            # linked file sits there in small folios, a re-read one in large folios, and the
            # kernel maps whole folios on a fault): start every runtime from a re-read.
            try:
                fd = os.open(rt.binary, os.O_RDONLY)
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
                os.close(fd)
            except OSError as e:
                self.notes.append(f"RSS: could not evict {rt.binary} from the page cache: {e}")
            must(spawn(rt.run(self.bundle(f"{rt.name}-tv-warm"), f"{rt.name}-tv-warm")), "time -v warm-up")
        for i in range(10):
            for rt in self.rts:
                cid = f"{rt.name}-tv-{i}"
                r = must(spawn(["/usr/bin/time", "-v", *rt.run(self.bundle(cid), cid)]), "time -v")
                for line in r.err.splitlines():
                    if "Maximum resident set size" in line:
                        self.time_v[rt.name].append(int(line.split(":")[1]))

    def sec_lifecycle(self):
        """2: create + start + (wait) + delete, alternating."""
        data = {rt.name: [] for rt in self.rts}
        for i in range(self.args.warmup + self.args.runs):
            for rt in self.rts:
                cid = f"{rt.name}-lc-{i}"
                r = self.lifecycle(rt, cid, self.bundle(cid))
                if i >= self.args.warmup:
                    data[rt.name].append(r)
        self.lc_data = data

    def sec_exec(self):
        """6: `exec` of true into a running container (its init a `sleep`), alternating."""
        cids = {}
        data = {rt.name: [] for rt in self.rts}
        try:
            for rt in self.rts:
                cid = f"{rt.name}-exec"
                must(spawn(rt.create(self.bundle(cid, ["sleep", "3600"]), cid, f"{self.work}/pid-{cid}")),
                     f"{rt.name} create {cid}")
                cids[rt.name] = cid
                must(spawn(rt.start(cid)), f"{rt.name} start {cid}")
            for i in range(self.args.warmup + self.args.runs):
                for rt in self.rts:
                    r = must(spawn(rt.exec(cids[rt.name], "true")), f"{rt.name} exec")
                    if i >= self.args.warmup:
                        data[rt.name].append(r)
        finally:
            for rt in self.rts:
                if rt.name in cids:
                    spawn(rt.delete(cids[rt.name], force=True))
            reap_orphans()
        self.exec_data = data
        self.check_leaks("after exec")

    def sec_scale(self):
        """4: state and list with N created-but-not-started containers per runtime."""
        self.scale = {}  # (rt, level) -> {"state": [...], "list": [...], "create_s": float}
        made = {rt.name: 0 for rt in self.rts}
        pool = concurrent.futures.ThreadPoolExecutor(self.args.scale_workers)
        # A second state root per runtime holding one container: `state` on it right next to
        # `state` in the root holding N sees the same host (1000 live containers slow every
        # process start a little), so their ratio is what N other containers in the root cost.
        self.solo_rts = [Runtime(rt.name, rt.binary, f"{rt.root}-solo", wrap=rt.wrap) for rt in self.rts]
        solo = {rt.name: rt for rt in self.solo_rts}
        for rt in self.solo_rts:
            cid = f"{rt.name}-solo"
            must(spawn(rt.create(self.bundle(cid), cid, f"{self.work}/pid-{cid}")), f"{rt.name} create {cid}")
        try:
            for level in self.args.levels:
                for rt in self.rts:
                    t0 = time.monotonic()
                    todo = [f"{rt.name}-s-{k}" for k in range(made[rt.name], level)]
                    bundles = {cid: self.bundle(cid) for cid in todo}

                    def create(cid, rt=rt, bundles=bundles):
                        must(spawn(rt.create(bundles[cid], cid, f"{self.work}/pid-{cid}")), "create")

                    list(pool.map(create, todo))
                    made[rt.name] = level
                    self.scale[(rt.name, level)] = {"state": [], "list": [], "version": [], "solo": [],
                                                    "create_s": time.monotonic() - t0}
                reps = self.args.scale_reps
                for i in range(reps + 1):
                    for rt in self.rts:
                        # The same binary doing nothing with the state (`--version`), right before:
                        # what starting a process costs on the host at this level, which 1000
                        # live containers raise for everyone; state minus it is state's own cost.
                        ver = must(spawn(rt.argv("--version"), capture=True), f"{rt.name} --version")
                        one = solo[rt.name]
                        if i % 2:
                            so = must(spawn(one.state(f"{rt.name}-solo"), capture=True), f"{rt.name} state solo")
                        s = must(spawn(rt.state(f"{rt.name}-s-0"), capture=True), f"{rt.name} state")
                        if not i % 2:
                            so = must(spawn(one.state(f"{rt.name}-solo"), capture=True), f"{rt.name} state solo")
                        lst = must(spawn(rt.list(), capture=True), f"{rt.name} list")
                        if i == 0 and shutil.which("strace"):  # proof that state does not scan
                            out = f"{self.work}/strace-state-{rt.name}-{level}.txt"
                            must(spawn(["strace", "-f", "-c", "-o", out, *rt.state(f"{rt.name}-s-0")]), "strace state")
                            calls = sum(c for c, _ in parse_strace_c(out).values())
                            self.scale[(rt.name, level)]["state_syscalls"] = calls
                        if i == 0:  # warm-up; check what they say once
                            status = json.loads(s.out).get("status")
                            rows = len(lst.out.strip().splitlines()) - 1
                            if status != "created" or rows != level:
                                self.notes.append(
                                    f"scale {rt.name}@{level}: state says {status!r}, list has {rows} rows"
                                )
                            continue
                        self.scale[(rt.name, level)]["state"].append(s.wall)
                        self.scale[(rt.name, level)]["list"].append(lst.wall)
                        self.scale[(rt.name, level)]["version"].append(ver.wall)
                        self.scale[(rt.name, level)]["solo"].append(so.wall)
            # clean up: delete --force every one of them
            t0 = {}
            for rt in self.rts:
                ids = rt.ids()
                start = time.monotonic()

                def kill(cid, rt=rt):
                    must(spawn(rt.delete(cid, force=True)), f"{rt.name} delete --force {cid}")

                list(pool.map(kill, ids))
                t0[rt.name] = (len(ids), time.monotonic() - start)
            self.scale_delete = t0
        finally:
            pool.shutdown(wait=True)
            for rt in self.solo_rts:
                spawn(rt.delete(f"{rt.name}-solo", force=True))
        reap_orphans()
        self.check_leaks("after state/list scale test")

    def sec_throughput(self):
        """5: N containers create+start+wait+delete by P parallel callers."""
        self.tput = {}
        for par in self.args.par:
            order = self.rts if par % 2 == 0 else list(reversed(self.rts))
            for rt in order:
                ids = [f"{rt.name}-t{par}-{k}" for k in range(self.args.n_throughput)]
                bundles = {cid: self.bundle(cid) for cid in ids}
                it = iter(ids)
                lock = threading.Lock()
                errors = []

                def worker(rt=rt, it=it, lock=lock, errors=errors, bundles=bundles):
                    while True:
                        with lock:
                            cid = next(it, None)
                        if cid is None:
                            return
                        try:
                            self.lifecycle(rt, cid, bundles[cid])
                        except Exception as e:  # keep going; report
                            errors.append(str(e))

                threads = [threading.Thread(target=worker) for _ in range(par)]
                t0 = time.monotonic()
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
                dt = time.monotonic() - t0
                self.tput[(rt.name, par)] = (self.args.n_throughput / dt, len(errors))
                if errors:
                    self.notes.append(f"throughput {rt.name} x{par}: {len(errors)} failures, first: {errors[0]}")
                self.check_leaks(f"after throughput {rt.name} x{par}")

    def sec_strace(self):
        """strace -c -f of one `run` per runtime and of the floor."""
        self.strace = {}
        if not shutil.which("strace"):
            self.notes.append("strace not installed: no syscall counts")
            return
        floor = ["unshare", "-fmipnu", "--mount-proc", "chroot", self.rootfs, "/bin/true"]
        cases = [(rt.name, rt) for rt in self.rts] + [("floor", None)]
        for name, rt in cases:
            out = f"{self.work}/strace-{name.replace(' ', '_')}.txt"
            st = ["strace", "-f", "-c", "-o", out]
            if rt is None:
                argv = st + floor
            else:
                cid = f"{rt.name}-strace"
                bundle = self.bundle(cid)
                base = [rt.binary, "--root", rt.root, "run", "--bundle", bundle, cid]
                argv = (WRAP + st + base) if rt.wrap else (st + base)
            must(spawn(argv), f"strace {name}")
            self.strace[name] = parse_strace_c(out)

    # -- leaks and cleanup

    def check_leaks(self, when):
        found = []
        for rt in self.rts + getattr(self, "solo_rts", []):
            ids = rt.ids()
            if ids:
                found.append(f"{rt.name} state entries in {rt.root}: {ids[:5]}{'...' if len(ids) > 5 else ''}")
        cgs = leaked_cgroups(self.tag)
        if cgs:
            found.append(f"cgroups: {cgs[:5]} ({len(cgs)} total)")
        pids = pids_in_tag(self.tag)
        if pids:
            found.append(f"processes in /{self.tag}/ cgroups: {pids[:10]}")
        zombies = sorted(set(pids_in_tag(self.tag, zombies=True)) - set(pids))
        if zombies:
            found.append(f"unreaped zombies from /{self.tag}/ cgroups: {zombies[:10]}")
        mnts = mounts_with(self.tag)
        if mnts:
            found.append(f"mounts: {mnts[:5]}")
        self.leaks.append((when, found))


def become_subreaper():
    """Orphaned container inits get reparented to us (as to a containerd shim) and reaped here."""
    libc = ctypes.CDLL(None, use_errno=True)
    PR_SET_CHILD_SUBREAPER = 36
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def reap_orphans():
    """Reap exited orphans; only call when no runtime command of ours is running."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def parse_strace_c(path):
    rows = {}
    with open(path) as f:
        for line in f:
            t = line.split()
            if len(t) < 5 or t[0].startswith(("%", "-")) or t[-1] == "total":
                continue
            try:
                calls = int(t[3])
            except ValueError:
                continue
            errors = int(t[4]) if len(t) == 6 else 0
            rows[t[-1]] = (calls, errors)
    return rows


def cgroup_roots():
    roots = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            if right.split()[0] in ("cgroup", "cgroup2"):
                roots.append(left.split()[4])
    return roots


def leaked_cgroups(tag):
    """Container cgroups still present below /TAG in any hierarchy."""
    out = []
    for root in cgroup_roots():
        parent = f"{root}/{tag}"
        if os.path.isdir(parent):
            out += [f"{parent}/{d}" for d in os.listdir(parent) if os.path.isdir(f"{parent}/{d}")]
    return out


def pids_in_tag(tag, zombies=False):
    """Processes (not zombies, unless asked) whose /proc/PID/cgroup names a cgroup under /TAG/."""
    pids = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/cgroup") as f:
                if f"/{tag}/" not in f.read():
                    continue
            with open(f"/proc/{p}/stat") as f:
                state = f.read().rpartition(")")[2].split()[0]
            if zombies or state != "Z":
                pids.append(int(p))
        except OSError:
            pass
    return pids


def mounts_with(tag):
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f if tag in line.split()[4]]


def cleanup(tag, hull):
    """Remove everything a run with this tag made. Idempotent, never touches other cgroups."""
    work = f"/tmp/{tag}"
    for name, binary, root in [(n, b, f"{work}/root-{n}{sfx}")
                               for n, b in (("hull", hull), ("runc", RUNC), ("crun", CRUN))
                               for sfx in ("", "-solo")]:
        if os.path.isdir(root) and os.path.exists(binary):
            for cid in os.listdir(root):
                subprocess.run([binary, "--root", root, "delete", "--force", cid],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)
    reap_orphans()
    for _ in range(50):
        pids = pids_in_tag(tag)
        if not pids:
            break
        for p in pids:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.05)
    for root in cgroup_roots():
        parent = f"{root}/{tag}"
        if os.path.isdir(parent):
            for dirpath, _, _ in sorted(os.walk(parent), key=lambda w: -w[0].count("/")):
                for _ in range(20):
                    try:
                        os.rmdir(dirpath)
                        break
                    except FileNotFoundError:
                        break
                    except OSError:
                        time.sleep(0.05)
    for m in sorted(mounts_with(tag), key=len, reverse=True):
        subprocess.run(["umount", "-l", m], stderr=subprocess.DEVNULL)
    shutil.rmtree(work, ignore_errors=True)


# ---------------------------------------------------------------- report


def fmt(x, d=1):
    return "–" if x is None or x != x else f"{x:.{d}f}"


def pair_ratio(a, b):
    return med([x / y for x, y in zip(a, b) if y > 0])


def report(b, started, ended, load0, load1):
    rts = [rt.name for rt in b.rts]
    has_crun = "crun" in rts
    cols = rts + ["floor"] + (["crun wrapper"] if has_crun else [])
    L = []
    L.append("| measure | " + " | ".join(cols) + " | hull/runc" + (" | hull/crun" if has_crun else "") + " |")
    L.append("|---" * (len(cols) + 2 + has_crun) + "|")

    def row(label, per, ratio_runc=None, ratio_crun=None):
        cells = [per.get(c, "") for c in cols]
        r = [fmt(ratio_runc, 2) if ratio_runc is not None else ""]
        if has_crun:
            r.append(fmt(ratio_crun, 2) if ratio_crun is not None else "")
        L.append(f"| {label} | " + " | ".join(cells) + " | " + " | ".join(r) + " |")

    rd = b.run_data
    wall = {k: [r.wall for r in v] for k, v in rd.items()}
    cpu = {k: [r.cpu for r in v] for k, v in rd.items()}
    row("`run` true: wall ms median (p10–p90)",
        {k: f"{fmt(med(v))} ({fmt(pct(v, 10))}–{fmt(pct(v, 90))})" for k, v in wall.items()},
        pair_ratio(wall["hull"], wall["runc"]), pair_ratio(wall["hull"], wall.get("crun", [])) if has_crun else None)
    row("`run` true: user+sys CPU ms median (p10–p90)",
        {k: f"{fmt(med(v))} ({fmt(pct(v, 10))}–{fmt(pct(v, 90))})" for k, v in cpu.items()},
        pair_ratio(cpu["hull"], cpu["runc"]), pair_ratio(cpu["hull"], cpu.get("crun", [])) if has_crun else None)
    if b.time_v:
        tv = b.time_v
        row("`run` peak RSS MiB, median (max) of 10: wait4 ru_maxrss via /usr/bin/time -v",
            {k: f"{fmt(med(v) / 1024)} ({fmt(max(v) / 1024)})" for k, v in tv.items()},
            pair_ratio(tv["hull"], tv["runc"]), pair_ratio(tv["hull"], tv["crun"]) if has_crun else None)

    lc = b.lc_data
    for step in ("total", "create", "start", "delete"):
        label = {"total": "create+start+wait+delete wall ms median (p10–p90)"}.get(step, f"  `{step}` wall ms median")
        per = {}
        for k, v in lc.items():
            xs = [r[step] for r in v]
            per[k] = f"{fmt(med(xs))} ({fmt(pct(xs, 10))}–{fmt(pct(xs, 90))})" if step == "total" else fmt(med(xs))
        row(label, per, pair_ratio([r[step] for r in lc["hull"]], [r[step] for r in lc["runc"]]),
            pair_ratio([r[step] for r in lc["hull"]], [r[step] for r in lc["crun"]]) if has_crun else None)
    xs = {k: [r["cpu"] for r in v] for k, v in lc.items()}
    row("create+start+delete user+sys CPU ms median", {k: fmt(med(v)) for k, v in xs.items()},
        pair_ratio(xs["hull"], xs["runc"]), pair_ratio(xs["hull"], xs["crun"]) if has_crun else None)

    ed = b.exec_data
    wall = {k: [r.wall for r in v] for k, v in ed.items()}
    row("`exec` true into a running container: wall ms median (p10–p90)",
        {k: f"{fmt(med(v))} ({fmt(pct(v, 10))}–{fmt(pct(v, 90))})" for k, v in wall.items()},
        pair_ratio(wall["hull"], wall["runc"]), pair_ratio(wall["hull"], wall["crun"]) if has_crun else None)
    cpu = {k: [r.cpu for r in v] for k, v in ed.items()}
    row("`exec` true: user+sys CPU ms median", {k: fmt(med(v)) for k, v in cpu.items()},
        pair_ratio(cpu["hull"], cpu["runc"]), pair_ratio(cpu["hull"], cpu["crun"]) if has_crun else None)
    row("`state` syscalls (strace -c -f) at " + "/".join(map(str, b.args.levels)) + " created",
        {k: "/".join(str(b.scale[(k, lv)].get("state_syscalls", "–")) for lv in b.args.levels) for k in rts})
    for what in ("state", "list"):
        for level in b.args.levels:
            per = {k: fmt(med(b.scale[(k, level)][what]), 2) for k in rts}
            hs, rs_ = b.scale[("hull", level)][what], b.scale[("runc", level)][what]
            row(f"`{what}` with {level} created, ms median", per, pair_ratio(hs, rs_),
                pair_ratio(hs, b.scale[("crun", level)][what]) if has_crun else None)
    # state's own cost: median of (state - --version of the same binary) of the same iteration.
    net = {(k, lv): med([a - v for a, v in zip(b.scale[(k, lv)]["state"], b.scale[(k, lv)]["version"])])
           for k in rts for lv in b.args.levels}
    row("`--version` (process start) with " + "/".join(map(str, b.args.levels)) + " created, ms median",
        {k: "/".join(fmt(med(b.scale[(k, lv)]["version"]), 2) for lv in b.args.levels) for k in rts})
    row("`state` minus `--version` with " + "/".join(map(str, b.args.levels)) + " created, ms median",
        {k: "/".join(fmt(net[(k, lv)], 2) for lv in b.args.levels) for k in rts})
    # The target's measure: state in the root holding N against state in a root holding 1,
    # same iteration (pairwise ratio medians), so the host's load at N cancels out.
    row("`state` in the root holding " + "/".join(map(str, b.args.levels))
        + " vs a root holding 1, same iteration: median ratio",
        {k: "/".join(f"{pair_ratio(b.scale[(k, lv)]['state'], b.scale[(k, lv)]['solo']):.2f}"
                     for lv in b.args.levels) for k in rts})
    lo, hi = min(b.args.levels), max(b.args.levels)
    # Growth as a ratio of the raw medians, and in ms net of process start (a ratio of the
    # net figures means nothing when state's own cost is within noise of zero, as hull's is).
    row(f"`state` with {hi} vs {lo} created: raw ratio; net growth ms",
        {k: f"{med(b.scale[(k, hi)]['state']) / med(b.scale[(k, lo)]['state']):.2f}; "
            f"{net[(k, hi)] - net[(k, lo)]:+.2f}" for k in rts})
    row(f"create {max(b.args.levels)} (by {b.args.scale_workers} callers), s",
        {k: fmt(sum(b.scale[(k, lv)]["create_s"] for lv in b.args.levels), 2) for k in rts})
    row("delete --force all of them, s", {k: fmt(v[1], 2) for k, v in b.scale_delete.items()})
    for par in b.args.par:
        per = {k: fmt(b.tput[(k, par)][0]) + (f" ({b.tput[(k, par)][1]} failed)" if b.tput[(k, par)][1] else "")
               for k in rts}
        row(f"throughput, {b.args.n_throughput} lifecycles by {par} callers, containers/s", per,
            b.tput[("hull", par)][0] / b.tput[("runc", par)][0],
            b.tput[("hull", par)][0] / b.tput[("crun", par)][0] if has_crun else None)
    table = "\n".join(L)

    leak_lines = [f"- {when}: " + ("; ".join(f) if f else "none") for when, f in b.leaks]

    st = []
    if b.strace:
        names = list(b.strace)
        for name in names:
            rows = b.strace[name]
            total = sum(c for c, _ in rows.values())
            st.append(f"**{name}**: {total} syscalls, {len(rows)} distinct")
        st.append("")
        top = sorted(b.strace["hull"].items(), key=lambda kv: -kv[1][0])[:25]
        st.append("Top 25 of hull by calls (errors in brackets), with the others' counts for the same names:")
        st.append("")
        st.append("| syscall | " + " | ".join(names) + " |")
        st.append("|---" * (len(names) + 1) + "|")
        for sc, _ in top:
            cells = []
            for name in names:
                c, e = b.strace[name].get(sc, (0, 0))
                cells.append(f"{c}" + (f" ({e})" if e else ""))
            st.append(f"| {sc} | " + " | ".join(cells) + " |")
        st.append("")
        topr = sorted(b.strace["runc"].items(), key=lambda kv: -kv[1][0])[:25]
        st.append("Top 25 of runc by calls: " + ", ".join(f"{sc} {c}" for sc, (c, _) in topr))
        if "crun" in b.strace:
            topc = sorted(b.strace["crun"].items(), key=lambda kv: -kv[1][0])[:25]
            st.append("")
            st.append("Top 25 of crun (inside the wrapper, so including unshare/sh/umount) by calls: "
                      + ", ".join(f"{sc} {c}" for sc, (c, _) in topc))
        extra = {k: v for k, v in b.strace["hull"].items() if k not in b.strace["floor"]}
        st.append("")
        st.append("hull syscalls the floor (unshare + chroot + true) does not make: "
                  + ", ".join(f"{k} {c}" for k, (c, _) in sorted(extra.items(), key=lambda kv: -kv[1][0])))
        more = {k: (v[0], b.strace["floor"][k][0]) for k, v in b.strace["hull"].items()
                if k in b.strace["floor"] and v[0] > b.strace["floor"][k][0]}
        st.append("")
        st.append("hull syscalls made more often than by the floor (hull/floor): "
                  + ", ".join(f"{k} {h}/{f}" for k, (h, f) in sorted(more.items(), key=lambda kv: -(kv[1][0] - kv[1][1]))))

    versions = {
        "hull": spawn([b.args.hull, "--version"], capture=True).out.splitlines()[0],
        "runc": spawn([RUNC, "--version"], capture=True).out.splitlines()[0],
    }
    if has_crun:
        versions["crun"] = spawn([CRUN, "--version"], capture=True).out.splitlines()[0]
    head = [
        f"Command: `{b.args.command}` (as root, from the repo root)",
        f"Date: {started.isoformat(timespec='seconds')} – {ended.isoformat(timespec='seconds')} UTC"
        f" ({(ended - started).total_seconds():.0f} s of measuring)",
        f"Host: {platform.node()}, kernel {platform.release()}, {os.cpu_count()} CPUs;"
        f" load average {load0} at start, {load1} at end (the machine is shared)",
        "Versions: " + "; ".join(versions.values())
        + f" (hull binary: {b.args.hull}, {os.path.getsize(b.args.hull)} bytes)",
        f"Runs: {b.args.warmup} warm-up + {b.args.runs} measured per runtime, alternating"
        f" {' '.join(rts)} floor{' wrapper' if has_crun else ''} in one loop; ratios are medians of the"
        " pairwise ratios of the same iteration. Wall times include the driver's fork+exec (the floor"
        " column shows what that costs together with namespaces + chroot + exec).",
        "Bundle: busybox-static, `hull spec` config, terminal false, args [\"true\"], cgroupsPath"
        f" /{b.tag}/ID (one bundle dir per container, shared rootfs).",
        "Floor: `unshare -fmipnu --mount-proc chroot ROOTFS /bin/true`.",
    ]
    return head, table, leak_lines, st


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--tag", required=True)
    ap.add_argument("--hull", required=True)
    ap.add_argument("--results")
    ap.add_argument("--command", default="bash integration/bench/run.sh")
    ap.add_argument("--cleanup-only", action="store_true")
    ap.add_argument("--quick", action="store_true", help="10 runs, levels 1,100, 30 lifecycles")
    ap.add_argument("--no-crun", action="store_true")
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--levels", default="1,100,1000")
    ap.add_argument("--par", default="2,4,8")
    ap.add_argument("--n-throughput", type=int, default=100)
    ap.add_argument("--scale-reps", type=int, default=10)
    ap.add_argument("--scale-workers", type=int, default=2)
    args = ap.parse_args()
    if args.cleanup_only:
        cleanup(args.tag, args.hull)
        return 0
    if args.quick:
        args.runs, args.levels, args.n_throughput = 10, "1,100", 30
    args.levels = [int(x) for x in args.levels.split(",")]
    args.par = [int(x) for x in args.par.split(",")]

    def on_signal(sig, _frame):
        raise KeyboardInterrupt(f"signal {sig}")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    become_subreaper()
    b = Bench(args)
    started = datetime.datetime.now(datetime.timezone.utc)
    load0 = " ".join(open("/proc/loadavg").read().split()[:3])
    try:
        b.make_rootfs()
        b.setup_runtimes()
        t = time.monotonic()
        for sec in ("sec_run", "sec_rss_time_v", "sec_lifecycle", "sec_exec", "sec_strace", "sec_throughput", "sec_scale"):
            s = time.monotonic()
            getattr(b, sec)()
            print(f"[bench] {sec} done in {time.monotonic() - s:.1f} s", file=sys.stderr, flush=True)
        b.check_leaks("at the end, before removing the run's cgroup parent")
        ended = datetime.datetime.now(datetime.timezone.utc)
        load1 = " ".join(open("/proc/loadavg").read().split()[:3])
        head, table, leak_lines, st = report(b, started, ended, load0, load1)
        print(f"[bench] measured in {time.monotonic() - t:.0f} s", file=sys.stderr)
    finally:
        cleanup(args.tag, args.hull)
    left = leaked_cgroups(args.tag) + [r for r in cgroup_roots() if os.path.isdir(f"{r}/{args.tag}")]
    leak_lines.append(f"- after cleanup: cgroup parent /{args.tag} and children left: {left or 'none'};"
                      f" /tmp/{args.tag} exists: {os.path.exists(f'/tmp/{args.tag}')}")
    text = "\n".join(
        ["# hull benchmark results", "", *[f"- {h}" for h in head], "", table, "",
         "## Notes", "", *[f"- {n}" for n in b.notes], "", "## Leak checks (cgroups, processes, mounts, state entries)",
         "", *leak_lines, "", "## strace -c -f of one `run`", "", *st, ""]
    )
    print(text)
    if args.results:
        with open(args.results, "w") as f:
            f.write(text)
        print(f"[bench] written to {args.results}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
