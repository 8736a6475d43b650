#!/usr/bin/env bash
# hull on a host with systemd as pid 1: boots a Debian bookworm image (systemd 252, pure
# cgroup v2, D-Bus) under qemu (TCG) with a second, per-run disk holding a static hull,
# busybox bundles and guest-tests.sh; the image's hull-vm.service runs the tests and powers
# off. Prints the guest's RESULT lines; exits non-zero on any FAIL, or if the guest gave no
# summary (crash, timeout). The serial log is kept in target/vm-cache/systemd/last.log.
#
#   bash integration/vm/systemd/run.sh [--hull PATH] [--only SECTIONS]  (as root)
#
# The base image (debootstrap + kernel + initrd) is cached in target/vm-cache/systemd/,
# keyed on build-image.sh and image/, so reruns download and build nothing. --hull PATH
# tests that binary instead of building a static one (containerd-shim-hull-v2 is taken
# from the same directory, if there). --only runs the base checks (systemd, the runner's
# cgroup) and the named sections of guest-tests.sh, comma-separated: systemd (the cgroup
# drivers), checkpoint (hull checkpoint/restore), containerd (checkpoint/restore through
# containerd). HULL_VM_TIMEOUT (seconds, default 600) bounds the boot (the checkpoint
# tests take ~1.5 min under TCG, the containerd ones ~1.5 min).
set -euo pipefail
SELF=$(realpath "$0")
HULL="" ONLY=""
say() { echo "vm-systemd: $*" >&2; }
usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$SELF"; }

while [ $# -gt 0 ]; do
    case $1 in
        --hull) [ $# -ge 2 ] || { usage >&2; exit 2; }; HULL=$2; shift 2 ;;
        --hull=*) HULL=${1#--hull=}; shift ;;
        --only) [ $# -ge 2 ] || { usage >&2; exit 2; }; ONLY=$2; shift 2 ;;
        --only=*) ONLY=${1#--only=}; shift ;;
        -h | --help) usage; exit 0 ;;
        *) say "unknown argument: $1"; usage >&2; exit 2 ;;
    esac
done
for s in ${ONLY//,/ }; do
    case $s in systemd | checkpoint | containerd) ;; *) say "--only: unknown section $s"; exit 2 ;; esac
done
if [ -n "$HULL" ]; then
    { [ -f "$HULL" ] && [ -x "$HULL" ]; } || { say "--hull $HULL: not an executable file"; exit 1; }
    HULL=$(realpath "$HULL")
fi
[ "$(id -u)" = 0 ] || { say "run as root (apt-get, debootstrap, chroot)"; exit 1; }

cd "$(dirname "$SELF")/../../.."
SD=integration/vm/systemd
. integration/vm/verdict.sh
CACHE=target/vm-cache/systemd
TIMEOUT=${HULL_VM_TIMEOUT:-600}
t0=$(date +%s)
mkdir -p "$CACHE"
mounts_before=$(cut -d' ' -f5 /proc/self/mountinfo | sort)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/hull-vm-systemd.XXXXXX")
cleanup() {
    # debootstrap and chroot run in private mount namespaces, so nothing should be mounted
    # here; never let rm cross into a mount if something is.
    local after ours
    rm -rf --one-file-system "$tmp"
    after=$(cut -d' ' -f5 /proc/self/mountinfo | sort)
    [ "$after" = "$mounts_before" ] && return
    ours=$(comm -13 <(echo "$mounts_before") <(echo "$after") | grep -F -e "$tmp" -e "$PWD/$CACHE" || true)
    if [ -n "$ours" ]; then
        say "ERROR: mounts left behind by this run: $ours"
        exit 1
    fi
    say "note: the host's mounts changed during the run, none under $tmp or $CACHE" \
        "(another process): $(diff <(echo "$mounts_before") <(echo "$after") | grep '^[<>]' | tr '\n' ' ')"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# 1. Debian packages on the host.
need=()
for p in debootstrap qemu-system-x86 e2fsprogs busybox-static python3; do
    dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
    say "installing ${need[*]}"
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# 2. The base image, cached under a key of everything that goes into it.
key=$({
    sha256sum "$SD/build-image.sh"
    (cd "$SD/image" && find . \( -type f -o -type l \) -printf '%m %p %l\n' | LC_ALL=C sort)
    (cd "$SD/image" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
} | sha256sum | cut -c1-16)
BASE=$CACHE/base-$key
if [ -s "$BASE/base.img" ]; then
    say "base image $BASE (cached)"
else
    say "building the base image $BASE (debootstrap, a few minutes)"
    tb=$(date +%s)
    rm -rf "$BASE.tmp"
    bash "$SD/build-image.sh" "$BASE.tmp" "$tmp/build"
    rm -rf --one-file-system "$tmp/build"
    mv "$BASE.tmp" "$BASE"
    # Only now, with the new image in place: drop images of older inputs (~600 MB each).
    find "$CACHE" -maxdepth 1 -name 'base-*' ! -name "base-$key" -exec rm -rf {} +
    say "base image built in $(($(date +%s) - tb))s ($(du -sh "$BASE/base.img" | cut -f1))"
fi

# 3. hull: the static build hull ships (integration/build-static.sh), unless --hull was given.
if [ -z "$HULL" ]; then
    say "building the static hull (integration/build-static.sh)"
    HULL=$(bash integration/build-static.sh)/hull
fi
case "$(ldd "$HULL" 2>&1 || true)" in
    *"not a dynamic executable"* | *"statically linked"*) ;;
    *) say "note: $HULL is dynamically linked; it runs only if the guest (bookworm) has its libraries" ;;
esac

# 4. The payload disk: hull and its containerd shim, the busybox rootfs and its OCI image
# for containerd, bundle templates, the tests.
PL=$tmp/payload
mkdir -p "$PL"/{bin,bundles,rootfs/bin,image}
cp "$HULL" "$PL/bin/hull"
if [ -x "$(dirname "$HULL")/containerd-shim-hull-v2" ]; then
    cp "$(dirname "$HULL")/containerd-shim-hull-v2" "$PL/bin/"
else
    say "note: no containerd-shim-hull-v2 next to $HULL; its containerd tests are skipped"
fi
IMG=docker.io/library/hullbox:latest
. integration/engines/image.sh
build_image "$tmp/image" && mv "$tmp/image/oci.tar" "$PL/image/oci.tar"
[ -z "$ONLY" ] || echo "${ONLY//,/ }" >"$PL/only"
# The console-socket receiver of the checkpoint tests (the guest has no python or socat).
cc -static -O2 -o "$PL/bin/recvtty" "$SD/recvtty.c"
cp /bin/busybox "$PL/rootfs/bin/busybox"
for a in $(/bin/busybox --list | grep -vx busybox); do
    ln -sf busybox "$PL/rootfs/bin/$a"
done
mkdir -p "$PL/rootfs"/{proc,sys,dev,tmp,run}
install -m 0755 "$SD/guest-tests.sh" "$PL/guest-tests.sh"
install -m 0644 "$SD/guest-systemd-driver.sh" "$PL/guest-systemd-driver.sh"
install -m 0644 "$SD/guest-checkpoint.sh" "$PL/guest-checkpoint.sh"
install -m 0644 "$SD/guest-containerd.sh" "$PL/guest-containerd.sh"
install -m 0644 integration/engines/containerd-config.sh "$PL/containerd-config.sh"
install -m 0644 integration/vm/guest-lib.sh "$PL/guest-lib.sh"
(cd "$tmp" && "$HULL" spec)
python3 "$SD/bundles.py" "$tmp/config.json" "$PL/bundles"
mib=$(($(du -sm "$PL" | cut -f1) + 32))
mkfs.ext4 -q -F -L hullpayload -d "$PL" "$tmp/payload.img" "${mib}M" >/dev/null

# 5. Boot: the base image read-only (snapshot=on keeps the guest's writes in a throwaway
# file in $TMPDIR, here $tmp), the payload as the second disk.
kver=$(sed -n 's/^linux-image-amd64 //p' "$BASE/packages.txt")
say "booting Debian's kernel $kver with systemd under qemu (TCG), timeout ${TIMEOUT}s"
t1=$(date +%s)
rc=0
TMPDIR=$tmp timeout "$TIMEOUT" qemu-system-x86_64 -accel tcg -m 1024 -smp 2 -nographic \
    -no-reboot -nic none \
    -kernel "$BASE/vmlinuz" -initrd "$BASE/initrd.img" \
    -drive "file=$BASE/base.img,if=virtio,format=raw,snapshot=on" \
    -drive "file=$tmp/payload.img,if=virtio,format=raw" \
    -append "console=ttyS0 root=/dev/vda rw quiet loglevel=3 systemd.show_status=0 panic=-1" \
    </dev/null | tr -d '\r' | sed -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' -e 's/\x1bc//g' \
    >"$CACHE/last.log" || rc=$?
t2=$(date +%s)
[ "$rc" = 0 ] || say "qemu exited with $rc (124: timed out)"

# 6. Results.
grep -E '^(HULLVM|INFO|RESULT) ' "$CACHE/last.log" || true
vm_results "$CACHE/last.log"
up=$(sed -n 's/.*HULLVM: systemd up after \([0-9.]*\)s$/\1/p' "$CACHE/last.log")
say "${summary:-no summary line}; systemd up after ${up:-?}s of guest uptime," \
    "qemu ran $((t2 - t1))s, total $((t2 - t0))s; log: $CACHE/last.log"
vm_verdict "$CACHE/last.log"
