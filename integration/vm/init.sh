#!/bin/sh
# /init of the test VM's initramfs (busybox sh). Stage 1 runs on the initramfs itself, where
# pivot_root cannot work, so it copies itself to a tmpfs and switch_roots into it; stage 2
# mounts proc, sys, dev and cgroup2 (the ONLY cgroup hierarchy: a pure v2 host), runs
# guest-tests.sh, and powers the VM off whatever happens.
export PATH=/bin

if [ ! -e /.tmpfs-root ]; then
    mkdir -p /newroot
    mount -t tmpfs -o mode=0755 root /newroot || { echo "VMINIT: tmpfs root failed"; poweroff -f; }
    for e in /*; do
        case "$e" in /newroot|/proc|/sys|/dev) ;; *) cp -a "$e" /newroot/ ;; esac
    done
    mkdir -p /newroot/proc /newroot/sys /newroot/dev /newroot/run /newroot/tmp
    touch /newroot/.tmpfs-root
    exec switch_root /newroot /init
fi

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /run
mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup || echo "VMINIT: cgroup2 mount failed"
# A block device for io.max (loop is a module in Debian's kernel).
[ -e /lib/modules/loop.ko ] && insmod /lib/modules/loop.ko 2>/dev/null
echo; echo "VMINIT: up after $(cut -d' ' -f1 /proc/uptime)s; kernel $(uname -r)"

/vm/guest-tests.sh
echo "VMINIT: done after $(cut -d' ' -f1 /proc/uptime)s"
sync
poweroff -f
