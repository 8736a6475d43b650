#!/usr/bin/env bash
# The base image of the systemd test host: a Debian bookworm rootfs (debootstrap minbase +
# systemd as pid 1, dbus, udev, Debian's kernel and runc as the reference runtime), with
# the files under image/ copied over it, boot-time units that are useless in a test VM
# masked, and made into an ext4 disk image with `mkfs.ext4 -d` (no loop mount).
#
#   build-image.sh OUT_DIR WORK_DIR
#
# Writes OUT_DIR/{base.img,vmlinuz,initrd.img,packages.txt} and the build's logs there
# (debootstrap.log, initramfs.log). WORK_DIR is scratch space the caller removes.
# Every step that mounts (debootstrap's /proc and /sys, the chroot's update-initramfs) runs
# in a private mount namespace, so nothing is left in the host's mounts even if it fails.
# run.sh keys its cache on this file and image/, so any edit here rebuilds the image.
set -euo pipefail
out=$1 work=$2
here=$(cd "$(dirname "$0")" && pwd)
MIRROR=${HULL_VM_MIRROR:-http://deb.debian.org/debian}
SUITE=bookworm
# minbase + what it takes to boot Debian's kernel with systemd as pid 1 and to talk to
# systemd over D-Bus; runc 1.1 is the reference for what --systemd-cgroup must produce.
# criu 3.17 for checkpoint/restore (it works on this 6.1 kernel, not on the 6.13+ hosts),
# with iptables (criu locks a container's network with iptables-restore while it dumps)
# and iproute2 (criu's network namespace dump and restore run `ip`). containerd 1.6 (with
# ctr and containerd-shim-runc-v2) for checkpoint/restore as a person drives it through
# containerd; its unit is masked below, the tests start a private containerd of their own.
PACKAGES=systemd,systemd-sysv,dbus,udev,kmod,linux-image-amd64,initramfs-tools,runc,criu,iptables,iproute2,containerd
# Units a one-shot test VM does not need; masked so the boot under TCG stays short.
MASK=(
    getty.target getty@.service serial-getty@.service console-getty.service
    getty-static.service
    apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer e2scrub_all.timer
    e2scrub_reap.service fstrim.timer systemd-tmpfiles-clean.timer
    systemd-pstore.service remote-fs.target
    modprobe@drm.service modprobe@dm_mod.service modprobe@fuse.service
    containerd.service
)
say() { echo "vm-systemd: $*" >&2; }

root=$work/root
mkdir -p "$work" "$out"
say "debootstrap $SUITE (minbase + ${PACKAGES//,/ })"
unshare --mount --propagation private \
    debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$root" "$MIRROR" \
    >"$out/debootstrap.log" 2>&1 || {
    tail -n 30 "$out/debootstrap.log" >&2
    say "debootstrap failed (full log: $out/debootstrap.log)"
    exit 1
}

say "configuring the rootfs"
cp -a "$here/image/." "$root/"
mkdir -p "$root/hullvm"
chroot "$root" systemctl --quiet set-default multi-user.target
chroot "$root" systemctl --quiet enable hull-vm.service
chroot "$root" systemctl --quiet mask "${MASK[@]}"
# The initrd only has to find an ext4 root on virtio: a listed few modules instead of
# MODULES=most keeps it small (about 6 MB instead of 36) and its boot short under TCG.
printf 'virtio_pci\nvirtio_blk\next4\n' >"$root/etc/initramfs-tools/modules"
sed -i 's/^MODULES=.*/MODULES=list/' "$root/etc/initramfs-tools/initramfs.conf"
unshare --mount --propagation private \
    chroot "$root" update-initramfs -u -k all >"$out/initramfs.log" 2>&1 || {
    tail -n 30 "$out/initramfs.log" >&2
    say "update-initramfs failed (full log: $out/initramfs.log)"
    exit 1
}
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*

newest() { find "$root/boot" -name "$1" | sort -V | tail -n1; }
cp "$(newest 'vmlinuz-*')" "$out/vmlinuz"
cp "$(newest 'initrd.img-*')" "$out/initrd.img"
# shellcheck disable=SC2016 # a dpkg-query format, not a shell expression
chroot "$root" dpkg-query -W -f '${Package} ${Version}\n' >"$out/packages.txt"

# Size: the tree plus a third (ext4 metadata, and room for what the guest writes; qemu
# keeps those writes in a throwaway overlay anyway).
mib=$(du -sm "$root" | cut -f1)
mib=$((mib + mib / 3 + 64))
say "making a ${mib} MiB ext4 image"
rm -f "$out/base.img.tmp"
mkfs.ext4 -q -F -L hullroot -d "$root" "$out/base.img.tmp" "${mib}M" >/dev/null
mv "$out/base.img.tmp" "$out/base.img"
