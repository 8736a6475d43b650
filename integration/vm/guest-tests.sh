#!/bin/sh
# hull's tests on a pure cgroup v2 host, run inside the VM by /init (busybox sh). Each test
# asserts values read from the container's cgroup files or printed inside the container, and
# prints one `RESULT PASS|FAIL|XFAIL|XPASS|SKIP name[: why]` line; the last line is
# `N passed, M failed (...)`. Bundles (config.json per test) come from bundles.py.
export PATH=/bin
CG=/sys/fs/cgroup/hullvm
B=/bundles
. /vm/guest-lib.sh

hull() { timeout 30 /bin/hull "$@"; }
status() { hull state "$1" 2>/dev/null | grep -o '"status": *"[a-z]*"' | grep -o '[a-z]*"$' | tr -d '"'; }
# wait_status ID WANT: poll `hull state` for up to 20 s.
wait_status() {
    i=0
    while [ $i -lt 200 ]; do
        [ "$(status "$1")" = "$2" ] && return 0
        sleep 0.1; i=$((i + 1))
    done
    WHY="$1: status $(status "$1"), want $2"; return 1
}
cleanup() { hull delete --force "$1" >/dev/null 2>&1; }

t_run_exit_code() {
    out=$(hull run -b $B/exit3 exit3 2>&1); rc=$?
    eq "run exit status (output: $out)" "$rc" 3 || return 1
    eq "/proc/self/cgroup inside (no cgroup ns)" "$out" "0::/hullvm/exit3" || return 1
    [ ! -e $CG/exit3 ] || { WHY="run left $CG/exit3 behind"; return 1; }
}

t_create_start_kill_delete() {
    hull create -b $B/life life || { WHY="create failed"; return 1; }
    eq "status after create" "$(status life)" created || return 1
    pid=$(hull state life | sed -n 's/.*"pid": *\([0-9]*\).*/\1/p')
    eq "cgroup.procs after create" "$(cat $CG/life/cgroup.procs)" "$pid" || return 1
    hull start life || { WHY="start failed"; return 1; }
    eq "status after start" "$(status life)" running || return 1
    hull kill life KILL || { WHY="kill failed"; return 1; }
    wait_status life stopped || return 1
    hull delete life || { WHY="delete of a stopped container failed"; return 1; }
    if hull state life >/dev/null 2>&1; then WHY="state still works after delete"; return 1; fi
    [ ! -e $CG/life ] || { WHY="delete left $CG/life behind"; return 1; }
}

t_controllers_enabled() {
    for f in /sys/fs/cgroup/cgroup.subtree_control $CG/cgroup.subtree_control; do
        for c in cpu io memory pids; do
            grep -qw $c $f || { WHY="$f lacks $c: '$(cat $f)'"; return 1; }
        done
    done
}

t_memory_max_and_oom_kill() {
    out=$(hull run -b $B/oom oom 2>&1); rc=$?
    eq "exit status of the init filling /dev/shm past 20 MiB (output: $out)" "$rc" 137 || return 1
    eq "memory.max inside the container" "$(echo "$out" | head -n1)" 20971520 || return 1
    # The container's cgroup is gone with `run`; its parent's memory.events is hierarchical.
    k=$(awk '$1 == "oom_kill" {print $2}' $CG/oom/memory.events)
    [ "${k:-0}" -ge 1 ] || { WHY="memory.events oom_kill is '$k', want >= 1"; return 1; }
    # dd wrote 60 MiB; the peak stays near the limit (plus kernel memory reparented to the
    # parent when the container's cgroup went away).
    if [ -e $CG/oom/memory.peak ]; then
        pk=$(cat $CG/oom/memory.peak)
        [ "$pk" -lt 25165824 ] || { WHY="memory.peak $pk: well past the 20 MiB limit"; return 1; }
    fi
}

t_pids_max() {
    hull create -b $B/pids pids || { WHY="create failed"; return 1; }
    eq "pids.max" "$(cat $CG/pids/pids.max)" 10 || return 1
    hull start pids || { WHY="start failed"; return 1; }
    wait_status pids stopped || { WHY="$WHY (pids.current $(cat $CG/pids/pids.current))"; return 1; }
    m=$(awk '$1 == "max" {print $2}' $CG/pids/pids.events)
    [ "${m:-0}" -ge 1 ] || { WHY="pids.events max is '$m' after 20 forks, want >= 1"; return 1; }
}

# A cgroup holding a process cannot give memory to a child (no internal processes), and
# enabling only cpu/pids there would make it a threaded domain whose domain children take no
# process. hull must enable nothing there: create fails naming the memory limit, and the
# busy cgroup stays a plain domain.
t_busy_parent_stays_a_domain() {
    mkdir -p $CG/busy
    sleep 1000 &
    sp=$!
    echo $sp > $CG/busy/cgroup.procs || { WHY="cannot move a sleeper into $CG/busy"; kill $sp; return 1; }
    out=$(hull create -b $B/busy busy 2>&1); rc=$?
    # While the sleeper is still in it: a thread root with no tasks reads "domain" again.
    ty=$(cat $CG/busy/cgroup.type)
    kill $sp; wait $sp 2>/dev/null
    [ $rc -ne 0 ] || { WHY="create succeeded below a busy cgroup"; return 1; }
    case "$out" in *memory*) ;; *) WHY="error does not name the memory limit: $out"; return 1 ;; esac
    eq "cgroup.type of the busy parent" "$ty" domain || return 1
    [ ! -e $CG/busy/ctr ] || { WHY="failed create left $CG/busy/ctr"; return 1; }
    rmdir $CG/busy
}

t_cpu_max_and_weight() {
    hull create -b $B/cpu cpu || { WHY="create failed"; return 1; }
    eq "cpu.max" "$(cat $CG/cpu/cpu.max)" "50000 100000" || return 1
    eq "cpu.weight from shares 512" "$(cat $CG/cpu/cpu.weight)" 20 || return 1
}

t_io_max() {
    if [ "$(cat /sys/block/loop0/dev 2>/dev/null)" != "7:0" ]; then
        WHY="skipped: no block device 7:0 (loop0) in the guest"; return 0
    fi
    hull create -b $B/io io || { WHY="create failed"; return 1; }
    l=$(grep '^7:0 ' $CG/io/io.max)
    eq "io.max line for 7:0" "$l" "7:0 rbps=1048576 wbps=max riops=max wiops=max" || return 1
}

t_pause_resume_freeze() {
    hull pause freeze || { WHY="pause failed"; return 1; }
    eq "status after pause" "$(status freeze)" paused || return 1
    eq "cgroup.freeze after pause" "$(cat $CG/freeze/cgroup.freeze)" 1 || return 1
    grep -qx 'frozen 1' $CG/freeze/cgroup.events || { WHY="cgroup.events not frozen 1"; return 1; }
    hull resume freeze || { WHY="resume failed"; return 1; }
    eq "status after resume" "$(status freeze)" running || return 1
    eq "cgroup.freeze after resume" "$(cat $CG/freeze/cgroup.freeze)" 0 || return 1
    grep -qx 'frozen 0' $CG/freeze/cgroup.events || { WHY="cgroup.events not frozen 0"; return 1; }
}

t_update_memory() {
    eq "memory.max before update" "$(cat $CG/freeze/memory.max)" 67108864 || return 1
    hull update --memory 33554432 --pids-limit 20 freeze || { WHY="update failed"; return 1; }
    eq "memory.max after update --memory" "$(cat $CG/freeze/memory.max)" 33554432 || return 1
    eq "pids.max after update --pids-limit" "$(cat $CG/freeze/pids.max)" 20 || return 1
}

t_events_stats() {
    out=$(hull events --stats freeze 2>&1) || { WHY="events --stats failed: $out"; return 1; }
    j=$(echo "$out" | tr -d ' \n')
    for want in '"type":"stats"' '"id":"freeze"' '"pids":{"current":1,"limit":20}' \
        '"limit":33554432'; do
        case "$j" in *"$want"*) ;; *) WHY="events --stats lacks $want: $out"; return 1 ;; esac
    done
    # memory.usage: {"failcnt":..,"limit":33554432,["max":..,]"usage":N}, N > 0
    u=$(echo "$j" | grep -o '"limit":33554432[^}]*}' | grep -o '"usage":[0-9]*' | head -n1)
    case "$u" in '"usage":'[1-9]*) ;;
        *) WHY="events --stats memory usage is '$u', want > 0: $out"; return 1 ;; esac
}

t_ps() {
    pid=$(hull state freeze | sed -n 's/.*"pid": *\([0-9]*\).*/\1/p')
    eq "ps --format json" "$(hull ps --format json freeze 2>&1)" "[$pid]"
}

t_exec_joins_cgroup() {
    out=$(hull exec freeze cat /proc/self/cgroup 2>&1) || {
        case "$out" in *"not implemented"*) WHY="skipped: $out"; return 0 ;; esac
        WHY="exec failed: $out"; return 1
    }
    eq "/proc/self/cgroup of an exec'd process" "$out" "0::/hullvm/freeze"
}

t_kill_all() {
    hull run -d -b $B/killall killall </dev/null >/dev/null 2>&1 || { WHY="run -d failed"; return 1; }
    i=0
    while [ "$(wc -l < $CG/killall/cgroup.procs)" -lt 3 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
    eq "processes in cgroup.procs" "$(wc -l < $CG/killall/cgroup.procs)" 3 || return 1
    hull kill --all killall KILL || { WHY="kill --all failed"; return 1; }
    i=0
    # cgroup.events says "populated 0" once the last task has fully exited.
    while ! grep -qx 'populated 0' $CG/killall/cgroup.events && [ $i -lt 100 ]; do
        sleep 0.1; i=$((i + 1))
    done
    grep -qx 'populated 0' $CG/killall/cgroup.events ||
        { WHY="still populated 10 s after kill --all: $(cat $CG/killall/cgroup.procs)"; return 1; }
    wait_status killall stopped
}

t_cgroup_namespace_and_mount() {
    out=$(hull run -b $B/cgns cgns 2>&1) || { WHY="run failed: $out"; return 1; }
    eq "/proc/self/cgroup inside" "$(echo "$out" | sed -n 1p)" "0::/" || return 1
    eq "/sys/fs/cgroup/memory.max inside" "$(echo "$out" | sed -n 2p)" 50331648 || return 1
    case "$(echo "$out" | sed -n 3p)" in
        *" - cgroup2 "*) ;;
        *) WHY="/sys/fs/cgroup inside is not a cgroup2 mount: $out"; return 1 ;;
    esac
}

# linux.resources.devices on v2 is enforced by hull's BPF_CGROUP_DEVICE program.
t_device_denied() {
    # The verdict is the last line; the shell's own "can't create" message may precede it.
    out=$(hull run -b $B/devices devices 2>&1); rc=$?
    case "$rc:$(echo "$out" | tail -n 1)" in
        0:denied) return 0 ;;
        0:allowed) WHY="write to /dev/hullfake (c 1:11, denied) succeeded: no device filter"; return 1 ;;
        *) WHY="run exited $rc: $out"; return 1 ;;
    esac
}

run_test run_exit_code t_run_exit_code exit3
run_test create_start_kill_delete t_create_start_kill_delete life
run_test controllers_enabled_by_hull t_controllers_enabled
run_test memory_max_and_oom_kill t_memory_max_and_oom_kill oom
rmdir $CG/oom 2>/dev/null
run_test pids_max t_pids_max pids
run_test cpu_max_and_weight t_cpu_max_and_weight cpu
run_test io_max t_io_max io
if hull run -d -b $B/freeze freeze </dev/null >/dev/null 2>&1; then
    run_test pause_resume_cgroup_freeze t_pause_resume_freeze
    run_test update_memory t_update_memory
    run_test events_stats t_events_stats
    run_test ps_lists_the_init t_ps
    run_test exec_joins_the_cgroup t_exec_joins_cgroup freeze
else
    for t in pause_resume_cgroup_freeze update_memory events_stats ps_lists_the_init \
        exec_joins_the_cgroup; do
        echo "RESULT FAIL $t: run -d of the freeze bundle failed"; F=$((F + 1))
    done
fi
run_test busy_parent_stays_a_domain t_busy_parent_stays_a_domain busy
run_test kill_all_cgroup_kill t_kill_all killall
run_test cgroup_namespace_and_mount t_cgroup_namespace_and_mount cgns
run_test device_denied_on_v2 t_device_denied devices

summary
