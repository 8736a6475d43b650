#!/usr/bin/env python3
"""Write the guest's test bundles: one config.json per test, each derived from `hull spec`.

Usage: bundles.py SPEC_JSON OUT_DIR

Every bundle shares the read-only busybox rootfs at /bundles/rootfs inside the guest and has
its own absolute cgroupsPath under /hullvm, so the guest runner (guest-tests.sh) knows where to
read each container's cgroup files. The runner refers to bundles by the names used here.
"""

import copy
import json
import os
import sys

MIB = 1024 * 1024


def sh(script):
    return ["sh", "-c", script]


def bundles(base):
    """name -> (args, edit(config)) for every bundle the guest runner uses."""

    def resources(**r):
        def edit(c):
            c["linux"].setdefault("resources", {}).update(r)

        return edit

    def no_pid_ns(c):
        c["linux"]["namespaces"] = [
            n for n in c["linux"]["namespaces"] if n["type"] != "pid"
        ]

    def cgroup_ns_and_memory(c):
        c["linux"]["namespaces"].append({"type": "cgroup"})
        resources(memory={"limit": 48 * MIB})(c)

    def denied_device(c):
        # A made-up node, /dev/hullfake, bound from the guest's /dev/kmsg (c 1:11, writable
        # without privileges and not in runc's default allow list), explicitly denied.
        c["mounts"].append(
            {
                "destination": "/dev/hullfake",
                "type": "bind",
                "source": "/dev/kmsg",
                "options": ["bind"],
            }
        )
        resources(
            devices=[
                {"allow": False, "access": "rwm"},
                {"allow": False, "type": "c", "major": 1, "minor": 11, "access": "rwm"},
            ]
        )(c)

    nothing = lambda c: None  # noqa: E731
    return {
        # lifecycle: `run` exit status, and the container's own cgroup path seen inside.
        "exit3": (sh("cat /proc/self/cgroup; exit 3"), nothing),
        # lifecycle: create/start/kill/delete/state on a long sleeper.
        "life": (["sleep", "1000"], nothing),
        # memory.max = 20 MiB, then fill /dev/shm (64 MiB tmpfs) past it: the OOM killer
        # kills the init (137). Nested one level so the parent's hierarchical memory.events
        # can be read after `run` removed the container's own cgroup.
        "oom": (
            sh(
                "cat /sys/fs/cgroup/memory.max; "
                "exec dd if=/dev/zero of=/dev/shm/fill bs=1M count=60"
            ),
            resources(memory={"limit": 20 * MIB}),
        ),
        # pids.max = 10, then fork 20 sleepers: pids.events max counts the refusals.
        "pids": (
            sh("for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; "
               "do sleep 100 & done; wait"),
            resources(pids={"limit": 10}),
        ),
        # cpu.max from quota/period, cpu.weight from shares (runc's conversion: 512 -> 20).
        "cpu": (
            ["sleep", "1000"],
            resources(cpu={"shares": 512, "quota": 50000, "period": 100000}),
        ),
        # io.max on loop0 (7:0), when the guest has it.
        "io": (
            ["sleep", "1000"],
            resources(
                blockIO={"throttleReadBpsDevice": [{"major": 7, "minor": 0, "rate": MIB}]}
            ),
        ),
        # pause/resume, update --memory, events --stats.
        "freeze": (["sleep", "1000"], resources(memory={"limit": 64 * MIB})),
        # kill --all: no pid namespace, so only a cgroup-wide kill reaches the children.
        "killall": (
            sh("sleep 1000 & sleep 1000 & exec sleep 1000"),
            no_pid_ns,
        ),
        # the container's own cgroup namespace and cgroup2 mount.
        "cgns": (
            sh(
                "cat /proc/self/cgroup; cat /sys/fs/cgroup/memory.max; "
                "grep ' /sys/fs/cgroup ' /proc/self/mountinfo"
            ),
            cgroup_ns_and_memory,
        ),
        # a cgroup below one that holds a process: no controller can be enabled there
        # without breaking it (see v2::enable_in), so the memory limit fails cleanly.
        "busy": (["sleep", "1000"], resources(memory={"limit": 32 * MIB})),
        # devices: a write to a denied device must fail ("denied"); "allowed" = not enforced.
        "devices": (
            sh(
                "echo ok > /dev/null || { echo devnull-unusable; exit 0; }; "
                "if echo hullvm-probe > /dev/hullfake 2>/dev/null; "
                "then echo allowed; else echo denied; fi"
            ),
            denied_device,
        ),
    }


def main():
    spec_path, out = sys.argv[1], sys.argv[2]
    with open(spec_path) as f:
        base = json.load(f)
    base["root"] = {"path": "/bundles/rootfs", "readonly": True}
    base["process"]["terminal"] = False
    for name, (args, edit) in bundles(base).items():
        c = copy.deepcopy(base)
        c["process"]["args"] = args
        nested = name in ("oom", "busy")
        c["linux"]["cgroupsPath"] = f"/hullvm/{name}/ctr" if nested else f"/hullvm/{name}"
        edit(c)
        os.makedirs(os.path.join(out, name), exist_ok=True)
        with open(os.path.join(out, name, "config.json"), "w") as f:
            json.dump(c, f, indent=1)


if __name__ == "__main__":
    main()
