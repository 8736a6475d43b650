#!/usr/bin/env bash
# Every test hull has, from a fresh Debian bookworm machine, as root: installs what the
# tests need, checks formatting and lints, then runs unit and integration tests.
set -euo pipefail
cd "$(dirname "$0")/.."

[ "$(id -u)" = 0 ] || { echo "integration/test.sh: run as root (tests create real containers)" >&2; exit 1; }

# Debian packages the tests use: busybox-static (the rootfs), runc (comparisons),
# findutils/util-linux/strace (host-side checks), uidmap (newuidmap/newgidmap for rootless),
# dbus (a private dbus-daemon for the D-Bus client's wire tests, integration/dbus_wire.rs),
# criu (checkpoint/restore fail here with criu's own error: integration/checkpoint.rs).
need=()
for p in busybox-static runc findutils util-linux strace uidmap dbus criu; do
    dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings
cargo clippy --workspace --all-targets --features fault-injection -- -D warnings
# Some tests fork from the multi-threaded test binary; a child that builds an error must
# not wait on std's backtrace lock held by another thread at fork time.
export RUST_LIB_BACKTRACE=0
# fault-injection compiles in the kill points that integration/faults.rs drives.
cargo test --workspace --features fault-injection

# Real engines (containerd, podman, docker from Debian) driving hull, with runc as the
# control, each daemon private to the run (~1 min plus package installs). containerd also
# drives containerd-shim-hull-v2, with the suite's ttrpc client (examples/shim-call).
cargo build -p containerd-shim-hull-v2 --bins --examples
bash integration/engines/run.sh all

# A pure cgroup v2 host: Debian's 6.1 kernel under qemu (TCG) with a static hull
# (~30 s warm, ~4 min cold). HULL_SKIP_VM=1 skips it.
[ "${HULL_SKIP_VM:-0}" = 1 ] || bash integration/vm/run.sh

# A host with systemd as pid 1 (Debian bookworm image under qemu TCG, reusing the static
# hull just built): systemd, D-Bus, --systemd-cgroup against runc, criu checkpoint/restore
# by hand and through containerd (~3 min warm, +2-3.5 min cold for debootstrap).
# HULL_SKIP_VM_SYSTEMD=1 skips it; HULL_SKIP_VM=1 skips both VMs.
if [ "${HULL_SKIP_VM:-0}" != 1 ] && [ "${HULL_SKIP_VM_SYSTEMD:-0}" != 1 ]; then
    bash integration/vm/systemd/run.sh
fi
