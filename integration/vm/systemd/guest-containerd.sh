# Checkpoint / restore driven through containerd the way a person does it, with Debian's
# containerd 1.6 and its ctr, in the systemd VM (integration/vm/systemd), where criu works.
# Not a script of its own: guest-tests.sh sources it after its helpers (run_test, info,
# wait_for, $WORK, $CGROOT, $UNIT_CG, $PAYLOAD) and calls run_containerd_tests.
#
# A private containerd (own config, sockets and state under $CDD, its root on the disk)
# imports the payload's hand-made busybox image (integration/engines/image.sh: no network).
# The same test runs for three runtimes:
#   runc  containerd-shim-runc-v2 with runc (the control)
#   hull  containerd-shim-runc-v2 with hull as its BinaryName (`ctr run --runc-binary`)
#   shim  hull's own shim, containerd-shim-hull-v2 (`--runtime io.containerd.hull.v2`)
# ctr 1.6 has no `task start --checkpoint` and no `run --checkpoint`: a container comes back
# from a checkpoint image with `ctr container restore --live` (made by `ctr container
# checkpoint --task`); `ctr task checkpoint` makes a checkpoint image of a running task.
#
# The container counts, one number every 0.2 s, to its stdout and into /count in its rootfs
# (read from the task's bundle); "restored" means the count goes on from where it was when
# the checkpoint was taken, never back to 1.

# containerd_config, shared with the engines suite (integration/engines/containerd-config.sh).
. "$PAYLOAD/containerd-config.sh"

CDD=$WORK/containerd
CDSOCK=$CDD/c.sock
CDNS=hullvm
CDIMG=docker.io/library/hullbox:latest
CDROOT=/var/lib/hullvm-containerd
CDPID=""
CD_COUNTER='i=0; while :; do i=$((i+1)); echo $i; echo $i >/count; sleep 0.2; done'
cctr() { timeout 120 ctr -a "$CDSOCK" -n "$CDNS" "$@"; }

cd_start() {
    local t0
    mkdir -p "$CDD"/{state,opt} "$CDROOT"
    containerd_config "$CDROOT" "$CDD/state" "$CDSOCK" "$CDD/opt" >"$CDD/config.toml"
    t0=$(date +%s%N)
    # containerd finds a runtime's shim on its PATH: hull's is in the payload's bin/.
    PATH=$PAYLOAD/bin:$PATH containerd --config "$CDD/config.toml" >"$CDD/containerd.log" 2>&1 &
    CDPID=$!
    wait_for 60 cctr version >/dev/null 2>&1 ||
        { WHY="containerd did not answer: $(tail -n 3 "$CDD/containerd.log" | tr '\n' ' ')"; return 1; }
    info "containerd $(containerd --version | awk '{print $3}') up in" \
        "$((($(date +%s%N) - t0) / 1000000)) ms"
    cctr image import "$PAYLOAD/image/oci.tar" >"$CDD/import.log" 2>&1 &&
        cctr image ls -q | grep -qx "$CDIMG" ||
        { WHY="ctr image import: $(tr '\n' ' ' <"$CDD/import.log")"; return 1; }
}

cd_stop() {
    [ -n "$CDPID" ] || return 0
    kill "$CDPID" 2>/dev/null
    wait "$CDPID" 2>/dev/null
    CDPID=""
}

# cd_rt NAME: CDRUN (ctr run's runtime flags), CDRTROOT (the runtime's state root) and
# CDSHIM (the shim's binary name) for runc, hull or shim (see the top).
cd_rt() {
    case $1 in
        runc)
            CDRTROOT=$CDD/rt-runc CDSHIM=containerd-shim-runc-v2
            CDRUN=(--runc-binary /usr/sbin/runc --runc-root "$CDRTROOT") ;;
        hull)
            CDRTROOT=$CDD/rt-hull CDSHIM=containerd-shim-runc-v2
            CDRUN=(--runc-binary "$PAYLOAD/bin/hull" --runc-root "$CDRTROOT") ;;
        shim)
            CDRTROOT=$CDD/rt-shim CDSHIM=containerd-shim-hull-v2
            printf 'BinaryName = "%s"\nRoot = "%s"\n' "$PAYLOAD/bin/hull" "$CDRTROOT" \
                >"$CDD/hull-shim.toml"
            CDRUN=(--runtime io.containerd.hull.v2 --runtime-config-path "$CDD/hull-shim.toml") ;;
    esac
}

cd_status() { cctr task ls 2>/dev/null | awk -v id="$1" '$1 == id {print $3}'; }
cd_status_is() { [ "$(cd_status "$1")" = "$2" ]; }
cd_pid() { cctr task ls 2>/dev/null | awk -v id="$1" '$1 == id {print $2}'; }
# cd_count ID: the count in ID's /count (read again while the counter has it truncated).
cd_count() {
    local c n=10
    while [ $n -gt 0 ]; do
        c=$(cat "$CDD/state/io.containerd.runtime.v2.task/$CDNS/$1/rootfs/count" 2>/dev/null)
        [ -n "$c" ] && { echo "$c"; return 0; }
        sleep 0.05
        n=$((n - 1))
    done
    return 1
}
cd_past() { local c; c=$(cd_count "$1"); [ -n "$c" ] && [ "$c" -ge "$2" ]; }

# cd_counts_on ID FROM: the count passes FROM+2 and every value read on the way is >= FROM
# (a container that started again would count from 1).
cd_counts_on() {
    local id=$1 from=$2 n=150 c
    while [ $n -gt 0 ]; do
        c=$(cd_count "$id")
        if [ -n "$c" ]; then
            [ "$c" -ge "$from" ] || { WHY="$id counts from the start again: $c after $from"; return 1; }
            [ "$c" -ge $((from + 2)) ] && return 0
        fi
        sleep 0.2
        n=$((n - 1))
    done
    WHY="$id's count stuck at '$(cd_count "$id")' (want >= $((from + 2)))"
    return 1
}

# cd_timed WHAT CMD...: run CMD, print its time as INFO; its output in $OUT.
cd_timed() {
    local what=$1 t0 rc
    shift
    t0=$(date +%s%N)
    OUT=$("$@" 2>&1)
    rc=$?
    info "$RT: $what: $((($(date +%s%N) - t0) / 1000000)) ms"
    return $rc
}

# cd_shims ID: the number of shim processes serving ID (`-id ID` on their command line;
# read with builtins only: a fork per process is slow under TCG).
cd_shims() {
    local f n=0 a i
    for f in /proc/[0-9]*/cmdline; do
        mapfile -d '' a 2>/dev/null <"$f" || continue
        [[ ${a[0]-} == *containerd-shim-*-v2 ]] || continue
        for ((i = 1; i < ${#a[@]} - 1; i++)); do
            [ "${a[i]}" = -id ] && [ "${a[i + 1]}" = "$1" ] && n=$((n + 1))
        done
    done
    echo $n
}

# cd_gone ID CGROUP: no task, container, shim, runtime state, cgroup or mount is left.
cd_gone() {
    local id=$1 cg=$CGROOT$2
    cctr task ls -q 2>/dev/null | grep -qx "$id" && { WHY="task $id still listed"; return 1; }
    cctr container ls -q 2>/dev/null | grep -qx "$id" && { WHY="container $id still listed"; return 1; }
    wait_for 10 test "$(cd_shims "$id")" = 0 || { WHY="$CDSHIM for $id still running"; return 1; }
    [ ! -e "$CDRTROOT/$CDNS/$id" ] || { WHY="$CDRTROOT/$CDNS/$id is left"; return 1; }
    wait_for 5 test ! -d "$cg" || { WHY="$cg is left"; return 1; }
    ! grep -q "/$id/rootfs\|hull~criu~$id" /proc/self/mountinfo ||
        { WHY="a mount of $id is left: $(grep "$id" /proc/self/mountinfo | cut -d' ' -f5 | tr '\n' ' ')"; return 1; }
}

cd_cleanup() {
    local id=$1
    cctr task kill -s SIGKILL "$id" >/dev/null 2>&1
    sleep 0.3
    cctr task rm -f "$id" >/dev/null 2>&1
    cctr container rm "$id" >/dev/null 2>&1
    cctr image ls -q 2>/dev/null | grep -e "^hullvm/$id:" -e "checkpoint/$id:" | while read -r i; do cctr image rm "$i" >/dev/null 2>&1; done
    return 0
}

# cd_kill_rm ID: SIGKILL, task and container removed.
cd_kill_rm() {
    local out
    cctr task kill -s SIGKILL "$1" >/dev/null 2>&1
    wait_for 20 cd_status_is "$1" STOPPED || { WHY="$1 not STOPPED after SIGKILL: $(cd_status "$1")"; return 1; }
    out=$(cctr task rm "$1" 2>&1) || { WHY="ctr task rm $1: $out"; return 1; }
    out=$(cctr container rm "$1" 2>&1) || { WHY="ctr container rm $1: $out"; return 1; }
}

# The whole round for runtime $RT: run, `ctr task checkpoint` (leaves it running; a
# checkpoint image appears), `ctr container checkpoint --task --rw`, kill and remove, `ctr
# container restore --live --rw` under the same id (it counts on), a checkpoint of a
# stopped task refused, then delete and nothing left.
t_cd_checkpoint_restore() {
    local id=ctrck-$RT cg=$UNIT_CG/ctrck-$RT ref=hullvm/ctrck-$RT:live c0 c1 pid img
    cd_rt "$RT"
    cd_timed "ctr run -d" cctr run -d "${CDRUN[@]}" --cgroup "$cg" "$CDIMG" "$id" \
        sh -c "$CD_COUNTER" || { WHY="ctr run -d: $OUT"; return 1; }
    wait_for 30 cd_past "$id" 5 || { WHY="$id does not count (/count: '$(cd_count "$id")')"; return 1; }
    eq "shims serving $id" "$(cd_shims "$id")" 1 || return 1

    # 1. ctr task checkpoint: a checkpoint image in containerd's store; the task goes on.
    cd_timed "ctr task checkpoint" cctr task checkpoint "$id" ||
        { WHY="ctr task checkpoint: $OUT"; return 1; }
    img=$(echo "$OUT" | tail -n 1)
    cctr image ls 2>/dev/null | grep -q "^$img .*containerd.io/checkpoint=true" ||
        { WHY="no checkpoint image '$img' after ctr task checkpoint: $OUT"; return 1; }
    cctr image rm "$img" >/dev/null 2>&1
    wait_for 10 cd_status_is "$id" RUNNING || { WHY="$id not RUNNING after the checkpoint: $(cd_status "$id")"; return 1; }
    c0=$(cd_count "$id") || { WHY="no count in $id's /count"; return 1; }
    cd_counts_on "$id" "$c0" || return 1

    # 2. ctr container checkpoint --task --rw, which ctr container restore takes.
    c0=$(cd_count "$id") || { WHY="no count in $id's /count"; return 1; }
    cd_timed "ctr container checkpoint --task --rw" cctr container checkpoint --task --rw "$id" "$ref" ||
        { WHY="ctr container checkpoint: $OUT"; return 1; }
    wait_for 10 cd_status_is "$id" RUNNING || { WHY="$id not RUNNING after the checkpoint: $(cd_status "$id")"; return 1; }
    cd_kill_rm "$id" || return 1
    cd_gone "$id" "$cg" || return 1

    # 3. Back from the checkpoint image under the same id: the count goes on from c0.
    cd_timed "ctr container restore --live --rw" cctr container restore --live --rw "$id" "$ref" \
        </dev/null || { WHY="ctr container restore: $OUT"; return 1; }
    wait_for 20 cd_status_is "$id" RUNNING || { WHY="$id not RUNNING after restore: $(cd_status "$id")"; return 1; }
    cd_counts_on "$id" "$c0" || return 1
    c1=$(cd_count "$id")
    info "$RT: counted to $c0 before the checkpoint, on to $c1 after the restore"
    pid=$(cd_pid "$id")
    grep -qx "$pid" "$CGROOT$cg/cgroup.procs" 2>/dev/null ||
        { WHY="restored pid $pid is not in $cg: $(cat "$CGROOT$cg/cgroup.procs" 2>&1 | tr '\n' ' ')"; return 1; }
    eq "shims serving $id after restore" "$(cd_shims "$id")" 1 || return 1

    # 4. Killed, a task cannot be checkpointed: a clear refusal, no image.
    cctr task kill -s SIGKILL "$id" >/dev/null 2>&1
    wait_for 20 cd_status_is "$id" STOPPED || { WHY="restored $id not STOPPED after SIGKILL"; return 1; }
    if cd_timed "ctr task checkpoint of a stopped task" cctr task checkpoint "$id"; then
        WHY="ctr task checkpoint of a stopped task succeeded: $OUT"
        return 1
    fi
    info "$RT: checkpoint of a stopped task: $(echo "$OUT" | tail -n 1)"
    cctr image ls -q 2>/dev/null | grep -q "checkpoint/$id:" &&
        { WHY="a checkpoint image of the stopped task was made"; return 1; }
    local out
    out=$(cctr task rm "$id" 2>&1) || { WHY="ctr task rm $id: $out"; return 1; }
    out=$(cctr container rm "$id" 2>&1) || { WHY="ctr container rm $id: $out"; return 1; }
    out=$(cctr image rm "$ref" 2>&1) || { WHY="ctr image rm $ref: $out"; return 1; }
    cd_gone "$id" "$cg"
}

run_containerd_tests() {
    local t0=$(date +%s) rt
    mkdir -p "$CDD"
    local failed=$F
    run_test containerd_start cd_start
    [ "$F" = "$failed" ] || { cd_stop; return; }
    for rt in runc hull shim; do
        RT=$rt
        if [ $rt = shim ] && [ ! -x "$PAYLOAD/bin/containerd-shim-hull-v2" ]; then
            run_test "containerd_${rt}_checkpoint_restore" cd_no_shim
            continue
        fi
        run_test "containerd_${rt}_checkpoint_restore" t_cd_checkpoint_restore
        cd_cleanup "ctrck-$rt"
    done
    cd_stop
    info "containerd checkpoint tests took $(($(date +%s) - t0)) s"
}
cd_no_shim() { WHY="no containerd-shim-hull-v2 on the payload"; }
