#!/usr/bin/env bash
# hull on a pure cgroup v2 host: boots Debian's 6.1 kernel under qemu (TCG) with a busybox
# initramfs holding a static hull, busybox bundles and guest-tests.sh, runs every test in one
# boot, and prints the guest's RESULT lines. Exits non-zero on any FAIL, or if the guest gave
# no results (crash, timeout). The full guest log is kept in target/vm-cache/last.log.
#
#   bash integration/vm/run.sh        (as root, from anywhere; ~30 s warm, ~4 min cold)
#
# Cached in target/vm-cache/: the kernel (vmlinuz + loop.ko), so reruns download nothing.
set -euo pipefail
cd "$(dirname "$0")/../.."
VM=integration/vm
CACHE=target/vm-cache
TIMEOUT=${HULL_VM_TIMEOUT:-180}
t0=$(date +%s)
say() { echo "vm: $*" >&2; }
. "$VM/verdict.sh"

[ "$(id -u)" = 0 ] || { say "run as root (apt-get, cpio of device nodes)"; exit 1; }
mkdir -p "$CACHE"

# 1. Debian packages, and Debian's newest 6.1 kernel (vmlinuz and the loop module).
need=()
for p in qemu-system-x86 cpio busybox-static python3; do
    dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
    say "installing ${need[*]}"
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
if [ ! -s "$CACHE/vmlinuz" ] || [ ! -s "$CACHE/loop.ko" ]; then
    pkg=$(apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-amd64$' |
        awk '{print $1}' | sort -V | tail -n1)
    [ -n "$pkg" ] || { say "apt-cache knows no linux-image-6.1.0-*-amd64"; exit 1; }
    say "fetching $pkg"
    rm -rf "$CACHE/kpkg" "$CACHE"/linux-image-*.deb
    (cd "$CACHE" && apt-get download "$pkg" 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2 || true)
    deb=$(ls "$CACHE"/linux-image-*.deb)
    dpkg-deb -x "$deb" "$CACHE/kpkg"
    cp "$CACHE"/kpkg/boot/vmlinuz-* "$CACHE/vmlinuz.tmp"
    cp "$(find "$CACHE/kpkg/lib/modules" -name loop.ko | head -n1)" "$CACHE/loop.ko"
    mv "$CACHE/vmlinuz.tmp" "$CACHE/vmlinuz"
    echo "$pkg" >"$CACHE/kernel-package"
    rm -rf "$CACHE/kpkg" "$deb"
fi

# 2. The static hull hull ships (integration/build-static.sh: fat LTO, hot text first), so
# that the VM tests the binary the README installs.
say "building the static hull (integration/build-static.sh)"
HULL=$(bash integration/build-static.sh)/hull
ldd_out=$(ldd "$HULL" 2>&1 || true)
case "$ldd_out" in
    *"not a dynamic executable"* | *"statically linked"*) ;;
    *) say "$HULL is not static: $ldd_out"; exit 1 ;;
esac

# 3. The initramfs: busybox + applet links, hull, loop.ko, bundles, the guest scripts.
R=$CACHE/initramfs.d
rm -rf "$R"
mkdir -p "$R"/{bin,dev,lib/modules,vm,bundles/rootfs/bin}
cp /bin/busybox "$R/bin/busybox"
cp /bin/busybox "$R/bundles/rootfs/bin/busybox"
for a in $(/bin/busybox --list | grep -vx busybox); do
    ln -sf busybox "$R/bin/$a"
    ln -sf busybox "$R/bundles/rootfs/bin/$a"
done
mkdir -p "$R/bundles/rootfs"/{proc,sys,dev,tmp}
cp "$HULL" "$R/bin/hull"
cp "$CACHE/loop.ko" "$R/lib/modules/loop.ko"
install -m 0755 $VM/init.sh "$R/init"
install -m 0755 $VM/guest-tests.sh "$R/vm/guest-tests.sh"
install -m 0644 $VM/guest-lib.sh "$R/vm/guest-lib.sh"
mknod -m 600 "$R/dev/console" c 5 1
spec=$(mktemp -d)
(cd "$spec" && "$HULL" spec)
python3 $VM/bundles.py "$spec/config.json" "$R/bundles"
rm -rf "$spec"
(cd "$R" && find . | cpio -o -H newc --quiet) >"$CACHE/initrd.cpio"

# 4. Boot once, run everything, parse the RESULT lines.
say "booting $(cat "$CACHE/kernel-package" 2>/dev/null) under qemu (TCG), timeout ${TIMEOUT}s"
t1=$(date +%s)
rc=0
timeout "$TIMEOUT" qemu-system-x86_64 -accel tcg -m 1024 -smp 2 -nographic -no-reboot -nic none \
    -kernel "$CACHE/vmlinuz" -initrd "$CACHE/initrd.cpio" \
    -append "console=ttyS0 panic=-1 quiet" </dev/null | tr -d '\r' >"$CACHE/last.log" || rc=$?
t2=$(date +%s)
[ "$rc" = 0 ] || say "qemu exited with $rc (124: timed out)"

grep -E '^(VMINIT|RESULT) ' "$CACHE/last.log" || true
vm_results "$CACHE/last.log"
say "${summary:-no summary line}; guest ran $((t2 - t1))s, total $((t2 - t0))s; log: $CACHE/last.log"
vm_verdict "$CACHE/last.log"
