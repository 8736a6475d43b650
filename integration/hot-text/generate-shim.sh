#!/usr/bin/env bash
# Regenerate integration/hot-text/shim-hot-text.ld from what containerd-shim-hull-v2 runs under
# containerd, then rebuild with it (the shim's counterpart of generate.sh).
#
#   bash integration/hot-text/generate-shim.sh   # as root; needs gcc, python3, containerd, busybox-static
#
# A private containerd (the engine suite's, integration/engines/containerd.sh) runs the shim's
# checks of that suite (run --rm first: the path the benchmark times; then run -d, exec, exec -t,
# pause/resume, metrics, kill and delete) with the shim on its PATH replaced by a
# wrapper that runs the real one under bptrace: `start` in the background with BPTRACE_FOLLOW=1
# (it follows into the serving shim that `start` spawns, to its exit), `delete` in the
# foreground. generate.py then turns the function lists into input-section patterns.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
[ "$(id -u)" = 0 ] || { echo "generate-shim.sh: run as root" >&2; exit 1; }
ship=$(bash integration/build-static.sh)
rel=$(dirname "$ship")
real=$rel/containerd-shim-hull-v2
HULL=$ship/hull RUNC=/usr/bin/runc

source integration/engines/lib.sh
source integration/engines/image.sh
source integration/engines/containerd.sh
T=$(mktemp -d /tmp/hull-shim-hot-text.XXXXXX)
TAG=hull-shim-hot-text-$$ NS=hullshimhottext$$ IMG=docker.io/library/hullbox:latest
LOGS=$T/logs IMGDIR=$T/image TR=$T/traces
mkdir -p "$LOGS" "$IMGDIR" "$TR" "$T/wrap" "$T/rtroot"
[ -d /run/containerd ] && RUN_CONTAINERD_EXISTED=1 || RUN_CONTAINERD_EXISTED=0
ENGINE_CLEANUP=""
trap 'cleanup' EXIT

gcc -O2 -Wall -o "$T/bptrace" integration/hot-text/bptrace.c
nm -n --defined-only "$real" | awk 'NF == 3 && $2 ~ /^[tTwWiI]$/ && !seen[$1]++ {print $1, $3}' >"$T/funcs"
# Named as containerd looks it up; containerd_start copies it onto containerd's PATH.
cat >"$T/wrap/containerd-shim-hull-v2" <<WRAP
#!/bin/bash
# containerd runs "start" and "delete" as the last argument.
n=\$(date +%s%N)
if [ "\${*: -1}" = start ]; then
    # The address is the last thing start prints before it exits; bptrace stays with the
    # serving shim, away from containerd's pipes.
    BPTRACE_FOLLOW=1 setsid "$T/bptrace" "$T/funcs" "$TR/\$n.start.fns" "$real" -- "$real" "\$@" \
        >"$TR/\$n.out" 2>"$TR/\$n.err" </dev/null &
    for _ in \$(seq 1 1000); do [ -s "$TR/\$n.out" ] && break; sleep 0.01; done
    sleep 0.05
    cat "$TR/\$n.out"
else
    exec "$T/bptrace" "$T/funcs" "$TR/\$n.delete.fns" "$real" -- "$real" "\$@" 2>>"$TR/delete.err"
fi
WRAP
chmod +x "$T/wrap/containerd-shim-hull-v2"
SHIM_HULL=$T/wrap/containerd-shim-hull-v2

build_image "$IMGDIR" >/dev/null 2>&1 || { echo "generate-shim.sh: building the image failed" >&2; exit 1; }
RT_NAME=hull RT_PATH=$HULL
containerd_start >"$LOGS/containerd-start.out" 2>&1 || { cat "$LOGS/containerd-start.out"; exit 1; }
ENGINE_CLEANUP="containerd_cleanup;"
containerd_set_rt
for s in shim_run_echo shim_run_d shim_exec shim_exec_tty shim_pause_resume shim_metrics shim_kill_delete; do
    echo "== $s"
    "$s" >"$LOGS/$s.log" 2>&1 || { cat "$LOGS/$s.log"; echo "generate-shim.sh: $s failed" >&2; exit 1; }
done
# The traced shims exit after their last Delete; their bptrace with them.
# ([b]: not this shell's own command line.)
wait_for 30 sh -c "! pgrep -f '$T/[b]ptrace' >/dev/null" ||
    { echo "generate-shim.sh: traced shims still running" >&2; exit 1; }
mapfile -t lists < <(ls "$TR"/*.fns | sort)
python3 integration/hot-text/generate.py --map "$rel/containerd-shim-hull-v2.map" \
    --names "${lists[@]}" --what "containerd-shim-hull-v2 runs under containerd (run --rm, run -d, exec, exec -t, pause, resume, metrics, kill, delete)" \
    --out integration/hot-text/shim-hot-text.ld
bash integration/build-static.sh >/dev/null
readelf -SW "$real" | sed 's/^ *\[ *[0-9]*\]//' | while read -r name _ _ _ size _; do
    case $name in .text*) echo "$name $(( 0x$size / 1024 )) KiB" ;; esac
done
