#!/usr/bin/env python3
"""Write the systemd guest's bundle templates: one config.json per template, from `hull spec`.

Usage: bundles.py SPEC_JSON OUT_DIR

Every template shares the read-only busybox rootfs at /hullvm/rootfs inside the guest. Its
linux.cgroupsPath is the placeholder @CGROUPS_PATH@: the guest runner (guest-tests.sh,
`bundle TEMPLATE CGROUPS_PATH`) copies the template and fills it in, so one template serves
the cgroupfs driver ("/a/b", "a/b", "" for the default) and the systemd driver
("slice:prefix:name"). The runner refers to templates by the names used here.
"""

import copy
import json
import os
import sys

MIB = 1024 * 1024

# What the limit tests set and then read back from the container's cgroup, as the files
# show them: memory.max, pids.max, cpu.max and cpu.weight (runc's 512 shares -> 20).
LIMITS = {
    "memory": {"limit": 64 * MIB},
    "pids": {"limit": 32},
    "cpu": {"shares": 512, "quota": 50000, "period": 100000},
}


def templates():
    """name -> (process args, linux.resources or None)."""
    return {
        # A long sleeper with limits, read back from the host side while it runs.
        "limits": (["sleep", "1000"], LIMITS),
    }


def main():
    spec_path, out = sys.argv[1], sys.argv[2]
    with open(spec_path) as f:
        base = json.load(f)
    base["root"] = {"path": "/hullvm/rootfs", "readonly": True}
    base["process"]["terminal"] = False
    base["linux"]["cgroupsPath"] = "@CGROUPS_PATH@"
    for name, (args, resources) in templates().items():
        c = copy.deepcopy(base)
        c["process"]["args"] = args
        if resources:
            c["linux"].setdefault("resources", {}).update(copy.deepcopy(resources))
        os.makedirs(os.path.join(out, name), exist_ok=True)
        with open(os.path.join(out, name, "config.json"), "w") as f:
            json.dump(c, f, indent=1)


if __name__ == "__main__":
    main()
