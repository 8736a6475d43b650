#!/bin/bash
# hull's tests on a host with systemd as pid 1 (Debian bookworm, systemd 252, pure cgroup v2),
# run inside the VM by hull-vm.service once the payload disk is mounted at /hullvm. Each test
# prints one `RESULT PASS|FAIL|XFAIL|XPASS|SKIP name[: why]` line; facts worth knowing about
# the guest are printed as `INFO` lines; the last line is `N passed, M failed (...)`.
#
# Sections: 1. systemd itself and its D-Bus API (what a runtime's systemd driver talks to);
# 2. hull with its cgroupfs driver; 3. the systemd cgroup driver (--systemd-cgroup), with runc
# as the reference and helpers meant to be reused when hull's driver lands.
export PATH=/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin
PAYLOAD=/hullvm
TEMPLATES=$PAYLOAD/bundles
WORK=/run/hullvm-tests
CGROOT=/sys/fs/cgroup
. "$PAYLOAD/guest-lib.sh"

hull() { timeout 30 "$PAYLOAD/bin/hull" "$@"; }
runc() { timeout 30 /usr/sbin/runc "$@"; }
info() { echo "INFO $*"; }
# wait_for SECONDS COMMAND...: poll COMMAND every 0.1 s until it succeeds.
wait_for() {
    local n=$(($1 * 10))
    shift
    while [ "$n" -gt 0 ]; do
        "$@" && return 0
        sleep 0.1
        n=$((n - 1))
    done
    return 1
}
# bundle TEMPLATE CGROUPS_PATH: a new bundle dir whose config.json is TEMPLATE's (see
# bundles.py) with linux.cgroupsPath set ("" = the runtime's default). Prints the dir.
bundle() {
    local d
    d=$(mktemp -d "$WORK/bundle-$1.XXXXXX")
    sed "s#@CGROUPS_PATH@#$2#" "$TEMPLATES/$1/config.json" >"$d/config.json"
    echo "$d"
}
# in_cgroup PID CGROUP: PID's cgroup2 path is CGROUP.
in_cgroup() { [ "$(sed -n 's/^0:://p' "/proc/$1/cgroup" 2>/dev/null)" = "$2" ]; }
# pid_of RUNTIME ID: the container's init pid from `RUNTIME state`.
pid_of() { "$1" state "$2" 2>/dev/null | tr -d ' \n' | sed -n 's/.*"pid":\([0-9]*\).*/\1/p'; }

# The runner's cgroup. hull-vm.service has Delegate=yes: move every process of the unit into
# a leaf (<unit>/runner), so the unit's own cgroup may enable controllers for the containers
# that the cgroupfs tests put beside the runner (cgroup v2's no-internal-processes rule).
UNIT_CG=$(sed -n 's/^0:://p' /proc/self/cgroup)
setup_runner_cgroup() {
    local pids p
    mkdir -p "$CGROOT$UNIT_CG/runner" || return 1
    for _ in 1 2 3; do
        pids=$(cat "$CGROOT$UNIT_CG/cgroup.procs")
        [ -n "$pids" ] || break
        for p in $pids; do
            echo "$p" >"$CGROOT$UNIT_CG/runner/cgroup.procs" 2>/dev/null
        done
    done
    echo "+cpu +io +memory +pids" >"$CGROOT$UNIT_CG/cgroup.subtree_control"
}
mkdir -p "$WORK"

# --- 1. systemd as pid 1, and its D-Bus API -----------------------------------------------

t_systemd_is_pid1() {
    eq "/proc/1/comm" "$(cat /proc/1/comm)" systemd || return 1
    [ -d /run/systemd/system ] || { WHY="/run/systemd/system is missing"; return 1; }
    info "$(systemctl --version | head -n1)"
}

t_system_running() {
    local t0 state
    t0=$(cut -d' ' -f1 /proc/uptime)
    state=$(timeout 120 systemctl is-system-running --wait 2>&1)
    info "is-system-running: $state (waited from ${t0}s to $(cut -d' ' -f1 /proc/uptime)s of uptime)"
    case "$state" in
        running) ;;
        degraded) info "failed units: $(systemctl --failed --plain --no-legend | tr '\n' ' ')" ;;
        *) WHY="systemctl is-system-running says '$state'"; return 1 ;;
    esac
}

t_cgroup_v2_unified() {
    local v1 c
    eq "filesystem type of $CGROOT" "$(stat -f -c %T $CGROOT)" cgroup2fs || return 1
    v1=$(awk '$0 ~ / - cgroup / {print $5}' /proc/self/mountinfo)
    [ -z "$v1" ] || { WHY="cgroup v1 hierarchies mounted: $v1"; return 1; }
    eq "lines in /proc/self/cgroup" "$(wc -l </proc/self/cgroup)" 1 || return 1
    for c in cpu io memory pids; do
        grep -qw $c $CGROOT/cgroup.controllers ||
            { WHY="$CGROOT/cgroup.controllers lacks $c: $(cat $CGROOT/cgroup.controllers)"; return 1; }
    done
    info "cgroup2 mount options: $(awk '$5 == "/sys/fs/cgroup" {print $NF}' /proc/self/mountinfo)"
    info "root cgroup.controllers: $(cat $CGROOT/cgroup.controllers);" \
        "root cgroup.subtree_control: $(cat $CGROOT/cgroup.subtree_control);" \
        "system.slice cgroup.subtree_control: $(cat $CGROOT/system.slice/cgroup.subtree_control)"
    info "test unit cgroup: $UNIT_CG (Delegate=yes;" \
        "cgroup.controllers: $(cat "$CGROOT$UNIT_CG/cgroup.controllers"))"
}

t_runner_in_delegated_leaf() {
    setup_runner_cgroup || { WHY="could not move the runner into $UNIT_CG/runner"; return 1; }
    eq "the runner's cgroup" "$(sed -n 's/^0:://p' /proc/self/cgroup)" "$UNIT_CG/runner" || return 1
    eq "$UNIT_CG/cgroup.procs" "$(cat "$CGROOT$UNIT_CG/cgroup.procs")" "" || return 1
    eq "$UNIT_CG/cgroup.subtree_control" "$(cat "$CGROOT$UNIT_CG/cgroup.subtree_control")" \
        "cpu io memory pids"
}

t_dbus_sockets() {
    local s v
    for s in /run/dbus/system_bus_socket /run/systemd/private; do
        [ -S $s ] || { WHY="$s is not a socket"; return 1; }
    done
    info "D-Bus sockets: /run/dbus/system_bus_socket (system bus, dbus-daemon" \
        "$(dbus-daemon --version | sed -n '1s/.* //p')), /run/systemd/private (systemd's own)"
    v=$(busctl get-property org.freedesktop.systemd1 /org/freedesktop/systemd1 \
        org.freedesktop.systemd1.Manager Version 2>&1) ||
        { WHY="busctl get-property Version: $v"; return 1; }
    info "org.freedesktop.systemd1 Manager.Version over the system bus: $v"
}

# StartTransientUnit of a scope holding a sleep, over the system bus: the call a runtime's
# systemd driver makes (runc: slice, description, PIDs, Delegate, limits as properties).
t_busctl_transient_scope() {
    local scope=hullvm-busctl-$$.scope pid out ok=1
    sleep 300 &
    pid=$!
    out=$(busctl call org.freedesktop.systemd1 /org/freedesktop/systemd1 \
        org.freedesktop.systemd1.Manager StartTransientUnit 'ssa(sv)a(sa(sv))' \
        "$scope" fail 5 \
        Description s "hull vm busctl probe" \
        Slice s system.slice \
        PIDs au 1 "$pid" \
        Delegate b true \
        MemoryMax t 33554432 \
        0 2>&1) || { kill $pid; WHY="StartTransientUnit failed: $out"; return 1; }
    case "$out" in
        'o "/org/freedesktop/systemd1/job/'*) ;;
        *) kill $pid; WHY="StartTransientUnit returned '$out', want a job path"; return 1 ;;
    esac
    wait_for 10 in_cgroup "$pid" "/system.slice/$scope" ||
        { WHY="pid $pid is in $(cat /proc/$pid/cgroup), not in $scope"; kill $pid; return 1; }
    eq "$scope memory.max" "$(cat $CGROOT/system.slice/"$scope"/memory.max)" 33554432 || ok=0
    [ $ok = 0 ] || eq "systemd's MemoryMax of $scope" \
        "$(systemctl show -P MemoryMax "$scope")" 33554432 || ok=0
    [ $ok = 0 ] || eq "ActiveState of $scope" "$(systemctl show -P ActiveState "$scope")" active ||
        ok=0
    kill $pid
    wait $pid 2>/dev/null
    # An empty transient scope stops and is garbage-collected: its cgroup goes away.
    [ $ok = 0 ] || wait_for 10 test ! -d "$CGROOT/system.slice/$scope" ||
        { WHY="$CGROOT/system.slice/$scope still exists after its last process died"; ok=0; }
    [ $ok = 1 ]
}

t_systemd_run_scope() {
    local out
    out=$(systemd-run --quiet --scope --unit=hullvm-run --slice=hullvm.slice \
        -p MemoryMax=16M -p TasksMax=7 \
        sh -c 'cd /sys/fs/cgroup/hullvm.slice/hullvm-run.scope &&
               cat /proc/self/cgroup memory.max pids.max' 2>&1) ||
        { WHY="systemd-run --scope failed: $out"; return 1; }
    eq "systemd-run --scope output" "$(echo "$out" | tr '\n' ' ')" \
        "0::/hullvm.slice/hullvm-run.scope 16777216 7 "
}

# --- 2. hull with its cgroupfs driver (no --systemd-cgroup) ---------------------------------

# cgfs_limits RUNTIME ID CGROUPS_PATH WANT: create container ID from the "limits" template
# with CGROUPS_PATH; its init must be in cgroup WANT with the limits written there; delete
# must remove WANT.
cgfs_limits() {
    local rt=$1 id=$2 want=$4 b pid ok=1
    b=$(bundle limits "$3")
    "$rt" create -b "$b" "$id" </dev/null >"$WORK/$id.out" 2>&1 ||
        { WHY="$rt create failed: $(cat "$WORK/$id.out")"; return 1; }
    pid=$(pid_of "$rt" "$id")
    eq "the init's cgroup" "$(sed -n 's/^0:://p' "/proc/$pid/cgroup")" "$want" || ok=0
    [ $ok = 0 ] || check_limits "$CGROOT$want" "$pid" || ok=0
    "$rt" delete --force "$id" >"$WORK/$id.out" 2>&1 ||
        { [ $ok = 0 ] || WHY="$rt delete --force failed: $(cat "$WORK/$id.out")"; ok=0; }
    [ $ok = 0 ] || wait_for 5 test ! -e "$CGROOT$want" || { WHY="delete left $want behind"; ok=0; }
    [ $ok = 1 ]
}

# An absolute cgroupsPath in the test unit's delegated subtree, beside the runner's leaf:
# hull enables the controllers down the path and writes the limits.
t_hull_cgroupfs_absolute() { cgfs_limits hull abs "$UNIT_CG/ctr-abs" "$UNIT_CG/ctr-abs"; }

# No cgroupsPath. runc 1.1 on pure cgroup v2 (fs2 defaultDirPath) puts the container below
# the PARENT of its own cgroup: its own cgroup holds processes (itself, at least), so no
# domain controller (memory, io) can be enabled for children there. With the runner in
# <unit>/runner, that is <unit>/ID, where the limits work.
t_runc_cgroupfs_default_path() { cgfs_limits runc refdef "" "$UNIT_CG/refdef"; }

# Without cgroupsPath, hull (like runc's fs2 manager) puts the container below the parent of
# its own cgroup on cgroup v2: <unit>/ID, not <unit>/runner/ID (the runner leaf holds
# processes, so memory could not be enabled for its children).
t_hull_cgroupfs_default_path() {
    cgfs_limits hull hulldef "" "$UNIT_CG/hulldef"
}
# Undo what a failed default-path create may have done to the runner's leaf.
reset_runner_leaf() {
    rmdir "$CGROOT$UNIT_CG/runner/$1" 2>/dev/null
    echo "-cpu -io -memory -pids" >"$CGROOT$UNIT_CG/runner/cgroup.subtree_control" 2>/dev/null
}

# check_limits DIR PID: the "limits" template's values in cgroup DIR, which holds PID.
check_limits() {
    [ -n "$2" ] || { WHY="no init pid"; return 1; }
    eq "$1/cgroup.procs" "$(cat "$1/cgroup.procs" 2>&1)" "$2" || return 1
    eq "$1/memory.max" "$(cat "$1/memory.max" 2>&1)" 67108864 || return 1
    eq "$1/pids.max" "$(cat "$1/pids.max" 2>&1)" 32 || return 1
    eq "$1/cpu.max" "$(cat "$1/cpu.max" 2>&1)" "50000 100000" || return 1
    eq "$1/cpu.weight (from 512 shares)" "$(cat "$1/cpu.weight" 2>&1)" 20
}

# --- 3. The systemd cgroup driver (--systemd-cgroup) ----------------------------------------
#
# sd_scope_lifecycle runs a container with `RUNTIME --systemd-cgroup` and cgroupsPath
# "SLICE:RUNTIME:NAME" and checks what systemd made of it: the scope's cgroup files and
# systemd's own view of the unit, `update`, and that delete removes the scope. runc 1.1.5 is
# the reference. More tests: call sd_scope_lifecycle with other slices, or write new checks
# with bundle TEMPLATE "SLICE:PREFIX:NAME", sd_cgroup_dir and check_limits; the driver's
# wider tests live in guest-systemd-driver.sh.

# sd_cgroup_dir SLICE UNIT: where systemd puts UNIT of SLICE ("a-b.slice" nests in a.slice).
sd_cgroup_dir() {
    local path="" prefix="" part
    for part in $(echo "${1%.slice}" | tr '-' ' '); do
        prefix=${prefix:+$prefix-}$part
        path=$path/$prefix.slice
    done
    echo "$CGROOT$path/$2"
}
sd_unit_gone() { [ "$(systemctl show -P LoadState "$1")" = not-found ]; }

# sd_scope_lifecycle RUNTIME SLICE NAME: create container NAME from the "limits" template
# with `RUNTIME --systemd-cgroup` and cgroupsPath SLICE:RUNTIME:NAME; check the scope
# RUNTIME-NAME.scope (sd_check_scope); delete; check the scope and its cgroup are gone.
sd_scope_lifecycle() {
    local rt=$1 slice=$2 name=$3 unit dir b ok=1
    unit=$rt-$name.scope
    dir=$(sd_cgroup_dir "$slice" "$unit")
    b=$(bundle limits "$slice:$rt:$name")
    "$rt" --systemd-cgroup create -b "$b" "$name" </dev/null >"$WORK/$name.out" 2>&1 ||
        { WHY="$rt --systemd-cgroup create failed: $(cat "$WORK/$name.out")"; return 1; }
    sd_check_scope "$rt" "$name" "$unit" "$dir" || ok=0
    "$rt" --systemd-cgroup delete --force "$name" >"$WORK/$name.out" 2>&1 ||
        { [ $ok = 0 ] || WHY="$rt delete --force failed: $(cat "$WORK/$name.out")"; ok=0; }
    [ $ok = 0 ] || wait_for 10 test ! -d "$dir" || { WHY="$dir still exists after delete"; ok=0; }
    [ $ok = 0 ] || wait_for 10 sd_unit_gone "$unit" ||
        { WHY="systemd still has $unit after delete: $(systemctl show -P ActiveState "$unit")"; ok=0; }
    [ $ok = 1 ]
}

# sd_check_scope RUNTIME NAME UNIT DIR: the init is in DIR, the limits are in DIR's files
# and in systemd's properties of UNIT; `update --memory` changes both.
sd_check_scope() {
    local rt=$1 name=$2 unit=$3 dir=$4 pid
    pid=$(pid_of "$rt" "$name")
    eq "/proc/<init>/cgroup" "$(sed -n 's/^0:://p' "/proc/$pid/cgroup")" "${dir#"$CGROOT"}" || return 1
    check_limits "$dir" "$pid" || return 1
    eq "ActiveState of $unit" "$(systemctl show -P ActiveState "$unit")" active || return 1
    eq "systemd's MemoryMax of $unit" "$(systemctl show -P MemoryMax "$unit")" 67108864 || return 1
    eq "systemd's TasksMax of $unit" "$(systemctl show -P TasksMax "$unit")" 32 || return 1
    eq "systemd's CPUQuotaPerSecUSec of $unit" \
        "$(systemctl show -P CPUQuotaPerSecUSec "$unit")" 500ms || return 1
    eq "Delegate of $unit" "$(systemctl show -P Delegate "$unit")" yes || return 1
    info "$rt's $unit:" "$(systemctl show -p Slice,Description,Delegate,DefaultDependencies \
        -p DevicePolicy,MemoryAccounting,TasksAccounting,CPUWeight,MemoryMax,TasksMax \
        -p CPUQuotaPerSecUSec,CPUQuotaPeriodUSec "$unit" | tr '\n' ' ')"
    "$rt" --systemd-cgroup update --memory 33554432 "$name" >"$WORK/$name.out" 2>&1 ||
        { WHY="$rt update --memory failed: $(cat "$WORK/$name.out")"; return 1; }
    eq "memory.max after update" "$(cat "$dir/memory.max")" 33554432 || return 1
    eq "systemd's MemoryMax after update" "$(systemctl show -P MemoryMax "$unit")" 33554432
}

t_runc_systemd_scope() {
    info "reference runtime: $(runc --version | head -n1)"
    sd_scope_lifecycle runc system.slice refsys || return 1
    sd_scope_lifecycle runc hullvm-nested.slice refnest
}

t_hull_systemd_scope() {
    sd_scope_lifecycle hull system.slice hullsys || return 1
    sd_scope_lifecycle hull hullvm-nested.slice hullnest
}

run_test systemd_is_pid1 t_systemd_is_pid1
run_test system_running t_system_running
run_test cgroup_v2_unified t_cgroup_v2_unified
run_test runner_in_delegated_leaf t_runner_in_delegated_leaf
run_test dbus_sockets_and_busctl t_dbus_sockets
run_test busctl_start_transient_scope t_busctl_transient_scope
run_test systemd_run_scope t_systemd_run_scope
# section NAME: run.sh --only named it, or named nothing (every section runs).
section() { [ ! -s "$PAYLOAD/only" ] || grep -qw "$1" "$PAYLOAD/only"; }
if section systemd; then
    run_test hull_cgroupfs_absolute_path_limits t_hull_cgroupfs_absolute
    run_test runc_cgroupfs_default_path_reference t_runc_cgroupfs_default_path
    run_test hull_cgroupfs_default_path t_hull_cgroupfs_default_path
    reset_runner_leaf hulldef
    run_test runc_systemd_scope_reference t_runc_systemd_scope
    run_test hull_systemd_scope t_hull_systemd_scope
    # The driver's own tests (guest-systemd-driver.sh): OOM, update, pause/ps/exec/kill on
    # the scope, taken unit names, failed creates, slice units, annotations, features.
    . "$PAYLOAD/guest-systemd-driver.sh"
    run_systemd_driver_tests
fi
# checkpoint / restore with Debian's criu (guest-checkpoint.sh): works on this 6.1 kernel.
if section checkpoint; then
    . "$PAYLOAD/guest-checkpoint.sh"
    run_checkpoint_tests
fi
# The same through containerd 1.6 and ctr (guest-containerd.sh), with runc's shim and
# runc, runc's shim and hull, and hull's own shim.
if section containerd; then
    . "$PAYLOAD/guest-containerd.sh"
    run_containerd_tests
fi

summary
