#!/usr/bin/env bash
# integration/engines/run.sh [hull|runc|all]: real container engines (containerd + ctr,
# podman + conmon, docker) run busybox containers with hull as their OCI runtime, and the
# same checks run with runc as the control, so a failure can be told apart from a
# limitation of this host. Prints a table: engine, check, hull result, runc result.
#
# Everything lives under one temp dir: each daemon is started by this script with its own
# root, state and sockets there (no system service is touched), every cgroup is named for
# this run, and the EXIT trap stops what was started (by pid), unmounts, removes cgroups
# and files, then checks that nothing was left behind.
#
# Env: HULL (default target/debug/hull, build it first), SHIM_HULL and SHIM_CALL (next to
# HULL: containerd-shim-hull-v2 and examples/shim-call), RUNC (default: runc on PATH),
# ENGINES (default "containerd podman podman-rootless docker"), KEEP_LOGS=DIR (copy every
# log there).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)

[ "$(id -u)" = 0 ] || { echo "run.sh: run as root (engines start real containers)" >&2; exit 1; }
mode=${1:-all}
case $mode in
    hull) RUNTIMES=(hull) ;; runc) RUNTIMES=(runc) ;; all) RUNTIMES=(hull runc) ;;
    *) echo "usage: $0 [hull|runc|all]" >&2; exit 2 ;;
esac
ENGINES=${ENGINES:-containerd podman podman-rootless docker}

need=()
for p in containerd podman conmon docker.io busybox-static runc util-linux uidmap passwd procps; do
    dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
    echo "== installing ${need[*]}"
    # Debian's maintainer scripts must not start the packaged daemons: we start our own.
    timeout 300 apt-get update -qq
    DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y --no-install-recommends "${need[@]}" ||
        { echo "apt-get install ${need[*]} failed" >&2; exit 1; }
fi

HULL=${HULL:-$repo/target/debug/hull}
# containerd's shim for hull and the suite's ttrpc client (cargo build -p
# containerd-shim-hull-v2 --bins --examples); without them the shim-* checks of hull fail.
SHIM_HULL=${SHIM_HULL:-$(dirname "$HULL")/containerd-shim-hull-v2}
SHIM_CALL=${SHIM_CALL:-$(dirname "$HULL")/examples/shim-call}
RUNC=${RUNC:-$(command -v runc)}
[ -x "$HULL" ] || { echo "run.sh: no hull binary at $HULL: run 'cargo build' first or set HULL" >&2; exit 1; }
[ -x "$RUNC" ] || { echo "run.sh: no runc binary (apt-get install runc) or set RUNC" >&2; exit 1; }

source "$here/lib.sh"
source "$here/image.sh"
source "$here/containerd.sh"
source "$here/podman.sh"
source "$here/podman-rootless.sh"
source "$here/docker.sh"

T=$(mktemp -d /tmp/hull-engines.XXXXXX)
TAG=hull-engines-$$          # cgroup directory name on every hierarchy
NS=hullengines$$             # containerd namespace
IMG=docker.io/library/hullbox:latest
LOGS=$T/logs DETAILS=$T/details IMGDIR=$T/image
mkdir -p "$LOGS" "$IMGDIR" "$T/rtroot" "$T/home"
export HOME=$T/home XDG_CONFIG_HOME=$T/home/.config   # per-user engine files stay in $T
: >"$DETAILS"
[ -d /run/containerd ] && RUN_CONTAINERD_EXISTED=1 || RUN_CONTAINERD_EXISTED=0
# Host paths an engine could write to despite our flags: compared after cleanup.
watched() {
    ls -a /run /var/run /var/lib /var/cache /var/tmp /etc /etc/containers /etc/docker /etc/cni \
        /opt /dev/shm /root /root/.config 2>/dev/null
}
watched >"$T/before.txt"
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== building the busybox image in $IMGDIR"
build_image "$IMGDIR" || { echo "building the image failed" >&2; exit 1; }

declare -A UP=() SKIPWHY=()
RT_NAME=runc RT_PATH=$RUNC DOCKER_RT=ctlrunc   # for the image imports; set per runtime below
# Started in this shell (not a subshell) so exported settings and daemon pids stay.
for e in $ENGINES; do
    if [ "$e" = docker ] && [ "${UP[containerd]:-0}" != 1 ]; then
        UP[docker]=0; SKIPWHY[docker]="needs the suite's containerd, which did not start"; continue
    fi
    if "${e}_start" >"$LOGS/$e-start.out" 2>&1; then UP[$e]=1; echo "== $e up"
    else UP[$e]=0; SKIPWHY[$e]=$(cat "$LOGS/$e-start.out"); echo "== $e cannot run here: ${SKIPWHY[$e]}"; fi
done
ENGINE_CLEANUP=""
[ "${UP[docker]:-0}" = 1 ] && ENGINE_CLEANUP+="docker_cleanup;"
[ "${UP[podman]:-0}" = 1 ] && ENGINE_CLEANUP+="podman_cleanup;"
# Also after a start that failed half-way: it may have created its user.
case " $ENGINES " in *" podman-rootless "*) ENGINE_CLEANUP+="podman-rootless_cleanup;" ;; esac
[ "${UP[containerd]:-0}" = 1 ] && ENGINE_CLEANUP+="containerd_cleanup;"

for RT_NAME in "${RUNTIMES[@]}"; do
    if [ "$RT_NAME" = hull ]; then RT_PATH=$HULL DOCKER_RT=hull; else RT_PATH=$RUNC DOCKER_RT=ctlrunc; fi
    echo "== runtime $RT_NAME ($RT_PATH)"
    for e in $ENGINES; do
        case $e in containerd) checks=("${CTR_CHECKS[@]}") ;; podman) checks=("${POD_CHECKS[@]}") ;;
            docker) checks=("${DOCKER_CHECKS[@]}") ;; podman-rootless) checks=("${PODRL_CHECKS[@]}") ;;
            *) echo "unknown engine $e"; continue ;; esac
        if [ "${UP[$e]}" = 1 ]; then "${e}_checks"
        else skip_engine "$RT_NAME" "$e" "${SKIPWHY[$e]}" "${checks[@]}"; fi
    done
done

details=$(cat "$DETAILS")
cleanup >"/tmp/hull-engines-$$.cleanup" 2>&1
cleanup_out=$(cat "/tmp/hull-engines-$$.cleanup"); rm -f "/tmp/hull-engines-$$.cleanup"
echo "$cleanup_out"
watched >"/tmp/hull-engines-$$.after"
left=$(diff "$T/before.txt" "/tmp/hull-engines-$$.after" 2>/dev/null | grep '^>' )
[ -e "$T" ] && left+=" $T"
rm -f "/tmp/hull-engines-$$.after"
for rt in "${RUNTIMES[@]}"; do
    if [ -z "$left" ] && ! grep -q 'LEFT BEHIND\|cannot remove' <<<"$cleanup_out"; then
        record "$rt" suite nothing-left-behind PASS
    else
        record "$rt" suite nothing-left-behind FAIL
        details+=$'\n'"--- nothing-left-behind: new host entries: $left"
    fi
done

print_table "${RUNTIMES[@]}"
if [ -n "$details" ]; then
    echo; echo "== details of every check that did not pass"; echo "$details"
    if [ -n "${KEEP_LOGS:-}" ]; then echo "(full logs in $KEEP_LOGS)"; else echo "(KEEP_LOGS=DIR keeps every log)"; fi
fi
fails=0
for k in "${!RESULTS[@]}"; do [ "${RESULTS[$k]}" = FAIL ] && fails=$((fails + 1)); done
exit $((fails > 0))
