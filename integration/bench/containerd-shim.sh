#!/usr/bin/env bash
# integration/bench/containerd-shim.sh: containerd's own path to a container, through each
# shim, in one run with a private containerd (own root, state and sockets under a temp dir):
#   containerd-shim-runc-v2 + runc    (ctr run --runc-binary runc: containerd's default)
#   containerd-shim-runc-v2 + hull    (ctr run --runc-binary hull)
#   containerd-shim-hull-v2 + hull    (ctr run --runtime io.containerd.hull.v2)
# Time: `ctr run --rm IMAGE ID true`, RUNS (default 20) rounds, the three alternating in each
# round, medians. Memory: N (default 10) running containers per shim, the shim processes'
# total Pss and each one's Rss (/proc/PID/smaps_rollup). Writes integration/bench/CONTAINERD-SHIM.md.
#
#   bash integration/bench/containerd-shim.sh          # as root; builds the static hull and shim
#   RUNS=5 N=3 bash integration/bench/containerd-shim.sh
#
# Everything lives under one temp dir and the cgroup parent TAG=hull-cshim-bench-PID; the EXIT
# trap stops what the run started (by pid), unmounts, removes the cgroups and the temp dir,
# and checks that no shim, mount, cgroup or socket under /run/containerd is left.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
[ "$(id -u)" = 0 ] || { echo "containerd-shim.sh: run as root" >&2; exit 1; }
RUNS=${RUNS:-20}
N=${N:-10}
cmdline="bash integration/bench/containerd-shim.sh"
[ "$RUNS" != 20 ] && cmdline="RUNS=$RUNS $cmdline"
[ "$N" != 10 ] && cmdline="N=$N $cmdline"

need=()
for p in containerd runc busybox-static; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
if [ ${#need[@]} -gt 0 ]; then
    timeout 300 apt-get update -qq
    DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y --no-install-recommends "${need[@]}" ||
        { echo "apt-get install ${need[*]} failed" >&2; exit 1; }
fi

echo "== integration/build-static.sh (the shipped, static hull and containerd-shim-hull-v2)"
bin=$(cd "$repo" && bash integration/build-static.sh) || { echo "build failed" >&2; exit 1; }
HULL=$bin/hull
SHIM_HULL=$bin/containerd-shim-hull-v2
RUNC=/usr/bin/runc

source "$repo/integration/engines/lib.sh"
source "$repo/integration/engines/image.sh"
source "$repo/integration/engines/containerd.sh"

T=$(mktemp -d /tmp/hull-cshim-bench.XXXXXX)
TAG=hull-cshim-bench-$$
NS=hullcshimbench$$
IMG=docker.io/library/hullbox:latest
LOGS=$T/logs IMGDIR=$T/image
mkdir -p "$LOGS" "$IMGDIR" "$T/rtroot"
[ -d /run/containerd ] && RUN_CONTAINERD_EXISTED=1 || RUN_CONTAINERD_EXISTED=0
sockets_before=$(ls /run/containerd 2>/dev/null)
ENGINE_CLEANUP=""
on_exit() {
    local out left
    out=$(cleanup 2>&1)
    echo "$out"
    left=$(ls /run/containerd 2>/dev/null)
    [ "$left" = "$sockets_before" ] || echo "cleanup: LEFT BEHIND in /run/containerd: $(comm -13 <(echo "$sockets_before") <(echo "$left"))"
}
trap on_exit EXIT
trap 'echo "containerd-shim.sh: interrupted" >&2; exit 130' INT TERM
die() { echo "containerd-shim.sh: $*" >&2; exit 1; }

build_image "$IMGDIR" >/dev/null 2>&1 || die "building the image failed"
RT_NAME=runc RT_PATH=$RUNC
containerd_start >"$LOGS/containerd-start.out" 2>&1 || { cat "$LOGS/containerd-start.out"; die "containerd did not start"; }
ENGINE_CLEANUP="containerd_cleanup;"
printf 'BinaryName = "%s"\nRoot = "%s"\n' "$HULL" "$T/rtroot/hull-shim" >"$T/hull-shim.toml"
declare -A CFG=(
    [runc-shim+runc]="--runc-binary $RUNC --runc-root $T/rtroot/runc"
    [runc-shim+hull]="--runc-binary $HULL --runc-root $T/rtroot/hull"
    [hull-shim+hull]="--runtime io.containerd.hull.v2 --runtime-config-path $T/hull-shim.toml"
)
ORDER=(runc-shim+runc runc-shim+hull hull-shim+hull)

# one_run NAME ID: ms of `ctr run --rm IMG ID true` through NAME's shim and runtime.
one_run() {
    local t0=${EPOCHREALTIME/./}
    # shellcheck disable=SC2086
    t 30 "${CTR[@]}" run --rm ${CFG[$1]} --cgroup "/$TAG/$2" "$IMG" "$2" true >/dev/null 2>&1 ||
        die "ctr run through $1 failed"
    echo $(( (${EPOCHREALTIME/./} - t0) / 1000 ))
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

echo "== warm-up"
for k in "${ORDER[@]}"; do one_run "$k" "warm-${k//+/-}" >/dev/null; done
echo "== $RUNS rounds of ctr run --rm $IMG ID true, alternating"
declare -A MS=()
for i in $(seq 1 "$RUNS"); do
    for k in "${ORDER[@]}"; do MS[$k]+="$(one_run "$k" "r$i-${k//+/-}") "; done
done
declare -A MED=()
for k in "${ORDER[@]}"; do MED[$k]=$(tr ' ' '\n' <<<"${MS[$k]}" | grep . | median); echo "  $k: median ${MED[$k]} ms (${MS[$k]})"; done

# shim_mem NAME COMM: start N containers through NAME, then the Pss sum and Rss of its shims.
declare -A PSS=() RSS=() NSHIM=() THREADS=()
shim_mem() {
    local k=$1 comm=$2 i p pss=0 rss=() n=0
    for i in $(seq 1 "$N"); do
        # shellcheck disable=SC2086
        t 30 "${CTR[@]}" run -d ${CFG[$k]} --cgroup "/$TAG/m-$i-${k//+/-}" "$IMG" "m$i-${k//+/-}" sleep 3600 \
            >/dev/null 2>&1 || die "ctr run -d through $k failed"
    done
    sleep 2
    for p in $(pids_naming_tmp); do
        [ "$(basename "$(readlink "/proc/$p/exe")")" = "$comm" ] || continue
        n=$((n + 1))
        pss=$((pss + $(awk '$1 == "Pss:" {print $2}' "/proc/$p/smaps_rollup")))
        rss+=("$(awk '$1 == "Rss:" {print $2}' "/proc/$p/smaps_rollup")")
        THREADS[$k]=$(ls "/proc/$p/task" | wc -l)
    done
    PSS[$k]=$pss NSHIM[$k]=$n RSS[$k]=$(printf '%s\n' "${rss[@]}" | median)
    echo "  $k: $n shims, Pss total $pss KiB, Rss median ${RSS[$k]} KiB, ${THREADS[$k]} threads"
    for i in $(seq 1 "$N"); do ctr_gone "m$i-${k//+/-}"; done
}
echo "== memory with $N running containers per shim"
shim_mem runc-shim+runc containerd-shim-runc-v2
shim_mem hull-shim+hull containerd-shim-hull-v2

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
{
    echo "# containerd-shim-hull-v2 against containerd-shim-runc-v2"
    echo
    echo "\`$cmdline\`, $(date -u +%Y-%m-%dT%H:%MZ), load $(cut -d' ' -f1-3 /proc/loadavg), hull $(git -C "$repo" rev-parse --short HEAD), $(containerd --version | awk '{print $3}'), $("$RUNC" --version | head -1), kernel $(uname -r)."
    echo
    echo "## ctr run --rm IMAGE ID true ($RUNS rounds, alternating, medians)"
    echo
    echo "| shim + runtime | median ms | vs runc shim + runc |"
    echo "|---|---|---|"
    for k in "${ORDER[@]}"; do echo "| $k | ${MED[$k]} | $(ratio "${MED[$k]}" "${MED[runc-shim+runc]}")x |"; done
    echo
    echo "## Memory with $N running containers (one shim per container)"
    echo
    echo "| shim | shims | Pss total KiB | Pss per container KiB | Rss of one shim KiB (median) | threads |"
    echo "|---|---|---|---|---|---|"
    for k in runc-shim+runc hull-shim+hull; do
        echo "| $k | ${NSHIM[$k]} | ${PSS[$k]} | $((PSS[$k] / N)) | ${RSS[$k]} | ${THREADS[$k]} |"
    done
    echo
    echo "hull's shim Pss is $(ratio "${PSS[hull-shim+hull]}" "${PSS[runc-shim+runc]}")x runc's."
} >"$T/results.md"
cat "$T/results.md"
cp "$T/results.md" "$here/CONTAINERD-SHIM.md"
