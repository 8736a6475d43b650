# hull's systemd cgroup driver (--systemd-cgroup) against real systemd 252, in the systemd
# VM (integration/vm/systemd). Not a script of its own: guest-tests.sh sources it after its
# helpers (run_test, eq, info, wait_for, pid_of, bundle, check_limits, sd_cgroup_dir,
# sd_unit_gone, hull, $WORK, $CGROOT) and then calls run_systemd_driver_tests. It adds to
# section 3's sd_scope_lifecycle (scope, limits in files and properties, update --memory,
# delete): runc's default unit name, an OOM kill seen by `run` and by `events`, update of
# pids and CPU quota through systemd, pause/ps/exec/kill on the scope, a unit name already
# taken, a failed create leaving no unit, a slice unit, org.systemd.property.* annotations,
# `features`, and quick create/update/delete cycles that must not stall.
#
# Containers that need other args or limits than bundles.py's templates come from
# `hull spec` edited with sed (the guest has no python or jq).

# sdd_bundle CGROUPS_PATH RESOURCES ARGS: a bundle from `hull spec` on the payload's busybox
# rootfs. RESOURCES is JSON members with a trailing comma ('"pids": {"limit": 9},'), put
# before the default device rules; ARGS replaces the "sh" line ('"sleep", "1000"').
sdd_bundle() {
    local d
    d=$(mktemp -d "$WORK/sdd.XXXXXX")
    (cd "$d" && hull spec) || return 1
    sed -i -e 's/"terminal": true/"terminal": false/' \
        -e "s#^\t\t\t\"sh\"\$#\t\t\t$3#" \
        -e 's#"path": "rootfs"#"path": "/hullvm/rootfs"#' \
        -e "s#\"linux\": {#\"linux\": {\"cgroupsPath\": \"$1\",#" \
        -e "s#\"resources\": {#\"resources\": {$2#" "$d/config.json"
    echo "$d"
}

# sdd_create NAME BUNDLE: hull --systemd-cgroup create, output in $WORK/NAME.out.
sdd_create() {
    hull --systemd-cgroup create -b "$2" "$1" </dev/null >"$WORK/$1.out" 2>&1 ||
        { WHY="create $1 failed: $(cat "$WORK/$1.out")"; return 1; }
}

# sdd_gone UNIT: systemd no longer runs UNIT. A scope is unloaded once stopped; a slice
# always shows as loaded (systemd makes one up for any slice name), so it must be inactive.
sdd_gone() {
    case $1 in
        *.slice) [ "$(systemctl show -P ActiveState "$1")" = inactive ] ;;
        *) sd_unit_gone "$1" ;;
    esac
}

# sdd_delete NAME UNIT: delete --force; the unit and its cgroup must go. Keeps an earlier WHY.
sdd_delete() {
    hull --systemd-cgroup delete --force "$1" >"$WORK/$1.out" 2>&1 ||
        { WHY=${WHY:-"delete $1 failed: $(cat "$WORK/$1.out")"}; return 1; }
    wait_for 10 sdd_gone "$2" ||
        { WHY=${WHY:-"systemd still has $2 after delete: $(systemctl show -P ActiveState "$2")"}; return 1; }
}

# No cgroupsPath: runc's default unit runc-NAME.scope in system.slice.
t_hull_sd_default_unit_name() {
    local name=sddef unit=runc-sddef.scope b pid ok=1
    b=$(sdd_bundle "" "" '"sleep", "1000"') || { WHY="hull spec failed"; return 1; }
    sdd_create $name "$b" || return 1
    pid=$(pid_of hull $name)
    eq "the init's cgroup" "$(sed -n 's/^0:://p' /proc/$pid/cgroup)" "/system.slice/$unit" || ok=0
    [ $ok = 0 ] || eq "Description of $unit" "$(systemctl show -P Description $unit)" \
        "hull container $name" || ok=0
    [ $ok = 0 ] || eq "DefaultDependencies of $unit" \
        "$(systemctl show -P DefaultDependencies $unit)" no || ok=0
    [ $ok = 0 ] || eq "DevicePolicy of $unit" "$(systemctl show -P DevicePolicy $unit)" strict ||
        ok=0
    sdd_delete $name $unit || ok=0
    [ $ok = 1 ]
}

# The init itself is OOM-killed: `run` exits 137 like with the cgroupfs driver, and the
# kernel counted the kill in the scope while it existed.
t_hull_sd_oom_run_exit() {
    local name=sdoomrun b rc
    b=$(sdd_bundle "system.slice:hull:$name" '"memory": {"limit": 16777216},' \
        '"dd", "if=/dev/zero", "of=/dev/shm/fill", "bs=1M", "count=64"') ||
        { WHY="hull spec failed"; return 1; }
    hull --systemd-cgroup run -b "$b" $name </dev/null >"$WORK/$name.out" 2>&1
    rc=$?
    eq "exit status of run (dd past 16 MiB)" "$rc" 137 || { WHY="$WHY: $(cat "$WORK/$name.out")"; return 1; }
    wait_for 10 sd_unit_gone hull-$name.scope ||
        { WHY="hull-$name.scope still loaded after run"; return 1; }
}

# An OOM kill inside a running container: `events` reports it from the scope's
# memory.events, and systemd keeps the scope (the init survives).
t_hull_sd_oom_events() {
    local name=sdoomev unit=hull-sdoomev.scope b ev ok=1
    b=$(sdd_bundle "system.slice:hull:$name" '"memory": {"limit": 16777216},' \
        '"sh", "-c", "sleep 1; dd if=/dev/zero of=/dev/shm/fill bs=1M count=64; sleep 1000"') ||
        { WHY="hull spec failed"; return 1; }
    sdd_create $name "$b" || return 1
    hull --systemd-cgroup start $name >"$WORK/$name.out" 2>&1 ||
        { WHY="start failed: $(cat "$WORK/$name.out")"; ok=0; }
    ev=$WORK/$name.events
    hull events --interval 100ms $name >"$ev" 2>&1 &
    local evpid=$!
    [ $ok = 0 ] || wait_for 15 grep -q '"type":"oom"' "$ev" ||
        { WHY="events reported no oom in 15 s: $(head -c 300 "$ev"); memory.events: $(cat $CGROOT/system.slice/$unit/memory.events 2>&1 | tr '\n' ' ')"; ok=0; }
    kill $evpid 2>/dev/null
    wait $evpid 2>/dev/null
    [ $ok = 0 ] || eq "ActiveState of $unit after the OOM kill" \
        "$(systemctl show -P ActiveState $unit)" active || ok=0
    [ $ok = 0 ] || info "after an OOM kill in $unit: memory.events:" \
        "$(tr '\n' ' ' <$CGROOT/system.slice/$unit/memory.events); state: $(hull state $name | tr -d ' \n')"
    sdd_delete $name $unit || ok=0
    [ $ok = 1 ]
}

# update of pids and CPU quota: systemd's properties and the files agree (the quota is
# rounded up to systemd's 10 ms steps: 12345/100000 -> 130 ms per second, 13000 written).
t_hull_sd_update_pids_and_quota() {
    local name=sdupd unit=hull-sdupd.scope dir b ok=1
    dir=$CGROOT/system.slice/$unit
    b=$(bundle limits "system.slice:hull:$name")
    sdd_create $name "$b" || return 1
    hull --systemd-cgroup update --pids-limit 40 --cpu-quota 12345 --cpu-period 100000 $name \
        >"$WORK/$name.out" 2>&1 || { WHY="update failed: $(cat "$WORK/$name.out")"; ok=0; }
    [ $ok = 0 ] || eq "pids.max" "$(cat $dir/pids.max)" 40 || ok=0
    [ $ok = 0 ] || eq "systemd's TasksMax" "$(systemctl show -P TasksMax $unit)" 40 || ok=0
    [ $ok = 0 ] || eq "cpu.max" "$(cat $dir/cpu.max)" "13000 100000" || ok=0
    [ $ok = 0 ] || eq "systemd's CPUQuotaPerSecUSec" \
        "$(systemctl show -P CPUQuotaPerSecUSec $unit)" 130ms || ok=0
    sdd_delete $name $unit || ok=0
    [ $ok = 1 ]
}

# pause/resume, ps, exec (joins the scope) and kill --all on a systemd scope.
t_hull_sd_pause_ps_exec_kill() {
    local name=sdops unit=hull-sdops.scope dir b pid ok=1
    dir=$CGROOT/system.slice/$unit
    b=$(bundle limits "system.slice:hull:$name")
    sdd_create $name "$b" || return 1
    hull start $name >"$WORK/$name.out" 2>&1 || { WHY="start: $(cat "$WORK/$name.out")"; ok=0; }
    [ $ok = 0 ] || { hull pause $name && eq "cgroup.freeze" "$(cat $dir/cgroup.freeze)" 1; } ||
        { WHY=${WHY:-pause failed}; ok=0; }
    [ $ok = 0 ] || eq "status" "$(hull state $name | tr -d ' \n' | sed -n 's/.*"status":"\([a-z]*\)".*/\1/p')" paused || ok=0
    [ $ok = 0 ] || { hull resume $name && eq "cgroup.freeze" "$(cat $dir/cgroup.freeze)" 0; } ||
        { WHY=${WHY:-resume failed}; ok=0; }
    pid=$(pid_of hull $name)
    [ $ok = 0 ] || hull ps --format json $name | grep -q "\b$pid\b" ||
        { WHY="ps --format json lacks the init $pid: $(hull ps --format json $name 2>&1)"; ok=0; }
    if [ $ok = 1 ]; then
        hull exec -d $name sleep 999 >"$WORK/$name.exec" 2>&1 ||
            { WHY="exec -d: $(cat "$WORK/$name.exec")"; ok=0; }
        [ $ok = 0 ] || wait_for 5 test "$(wc -l <$dir/cgroup.procs)" = 2 ||
            { WHY="the exec'd process is not in $unit: $(cat $dir/cgroup.procs | tr '\n' ' ')"; ok=0; }
    fi
    [ $ok = 0 ] || hull kill --all $name KILL || { WHY="kill --all failed"; ok=0; }
    [ $ok = 0 ] || wait_for 10 test "$(hull state $name | tr -d ' \n' | sed -n 's/.*"status":"\([a-z]*\)".*/\1/p')" = stopped ||
        { WHY="not stopped after kill --all"; ok=0; }
    sdd_delete $name $unit || ok=0
    [ $ok = 1 ]
}

# A second container whose unit name is taken fails with a clear error and leaves the first
# one alone.
t_hull_sd_unit_name_taken() {
    local unit=hull-sdtaken.scope b1 b2 out ok=1
    b1=$(bundle limits "system.slice:hull:sdtaken")
    b2=$(bundle limits "system.slice:hull:sdtaken")
    sdd_create sdtaken1 "$b1" || return 1
    if out=$(hull --systemd-cgroup create -b "$b2" sdtaken2 </dev/null 2>&1); then
        WHY="a second create with the same unit succeeded"; ok=0
        hull delete --force sdtaken2 >/dev/null 2>&1
    fi
    [ $ok = 0 ] || case "$out" in
        *"$unit"*"already exists"*) info "unit name taken: $out" ;;
        *) WHY="unexpected error: $out"; ok=0 ;;
    esac
    [ $ok = 0 ] || eq "ActiveState of the first $unit" "$(systemctl show -P ActiveState $unit)" active ||
        ok=0
    [ $ok = 0 ] || ! hull state sdtaken2 >/dev/null 2>&1 || { WHY="sdtaken2 left behind"; ok=0; }
    sdd_delete sdtaken1 $unit || ok=0
    [ $ok = 1 ]
}

# A create that fails after the unit started (no such executable) leaves no unit behind.
t_hull_sd_failed_create_leaves_no_unit() {
    local name=sdfail unit=hull-sdfail.scope b out
    b=$(sdd_bundle "system.slice:hull:$name" "" '"/no/such/binary"') ||
        { WHY="hull spec failed"; return 1; }
    if out=$(hull --systemd-cgroup create -b "$b" $name </dev/null 2>&1); then
        hull delete --force $name >/dev/null 2>&1
        WHY="create of a missing executable succeeded"; return 1
    fi
    info "failed create said: $out"
    wait_for 10 sd_unit_gone $unit ||
        { WHY="$unit left after the failed create: $(systemctl show -P ActiveState $unit)"; return 1; }
    [ ! -e $CGROOT/system.slice/$unit ] || { WHY="its cgroup is left"; return 1; }
    ! hull state $name >/dev/null 2>&1 || { WHY="the container's state is left"; return 1; }
}

# A name ending in .slice: the container's cgroup is that slice unit (systemd takes no pids
# for a slice, so hull places the init itself), nested by its name.
t_hull_sd_slice_unit() {
    local name=sdslice unit=hullvm-sdpod.slice dir b pid ok=1
    dir=$CGROOT/hullvm.slice/$unit
    b=$(bundle limits "system.slice:hull:$unit")
    sdd_create $name "$b" || return 1
    pid=$(pid_of hull $name)
    eq "the init's cgroup" "$(sed -n 's/^0:://p' /proc/$pid/cgroup)" "/hullvm.slice/$unit" || ok=0
    [ $ok = 0 ] || check_limits "$dir" "$pid" || ok=0
    [ $ok = 0 ] || eq "systemd's MemoryMax of $unit" "$(systemctl show -P MemoryMax $unit)" 67108864 ||
        ok=0
    sdd_delete $name $unit || ok=0
    [ $ok = 0 ] || wait_for 10 test ! -d "$dir" || { WHY="$dir left after delete"; ok=0; }
    [ $ok = 1 ]
}

# org.systemd.property.* annotations become unit properties (xxxSec in seconds).
t_hull_sd_annotations() {
    local name=sdann unit=hull-sdann.scope b ok=1
    b=$(bundle limits "system.slice:hull:$name")
    sed -i "s#\"ociVersion\"#\"annotations\": {\"org.systemd.property.TimeoutStopSec\": \"7\", \"org.systemd.property.CollectMode\": \"'inactive-or-failed'\"}, \"ociVersion\"#" \
        "$b/config.json"
    sdd_create $name "$b" || return 1
    eq "TimeoutStopUSec of $unit" "$(systemctl show -P TimeoutStopUSec $unit)" 7s || ok=0
    [ $ok = 0 ] || eq "CollectMode of $unit" "$(systemctl show -P CollectMode $unit)" \
        inactive-or-failed || ok=0
    sdd_delete $name $unit || ok=0
    [ $ok = 1 ]
}

# Quick create/update/delete cycles, each command given 5 s (systemd answers in
# milliseconds): pins the fix for the stall on /run/systemd/private (a first message that
# arrived together with BEGIN sat unprocessed in systemd's buffer for the 25 s call timeout;
# see src/dbus/auth.rs).
t_hull_sd_cycles_do_not_stall() {
    local i name b t0 t
    for i in 1 2 3 4 5 6; do
        name=sdcyc$i
        b=$(bundle limits "system.slice:hull:$name")
        for step in create update delete; do
            t0=$(date +%s%N)
            case $step in
                create) timeout 5 "$PAYLOAD/bin/hull" --systemd-cgroup create -b "$b" $name </dev/null ;;
                update) timeout 5 "$PAYLOAD/bin/hull" --systemd-cgroup update --pids-limit 40 \
                    --cpu-quota 12345 --cpu-period 100000 $name ;;
                delete) timeout 5 "$PAYLOAD/bin/hull" --systemd-cgroup delete --force $name ;;
            esac >"$WORK/$name.$step" 2>&1 ||
                { WHY="cycle $i: $step failed or took over 5 s: $(cat "$WORK/$name.$step")"; return 1; }
            t=$((($(date +%s%N) - t0) / 1000000))
            [ "$t" -lt 3000 ] || { WHY="cycle $i: $step took $t ms"; return 1; }
        done
    done
}

t_hull_sd_features() {
    local f
    f=$(hull features | tr -d ' \n')
    case "$f" in
        *'"systemd":true'*) ;;
        *) WHY="features does not report systemd: $(echo "$f" | grep -o '"cgroup":{[^}]*}')"; return 1 ;;
    esac
}

run_systemd_driver_tests() {
    run_test hull_sd_features t_hull_sd_features
    run_test hull_sd_default_unit_name t_hull_sd_default_unit_name
    run_test hull_sd_oom_run_exit t_hull_sd_oom_run_exit
    run_test hull_sd_oom_events t_hull_sd_oom_events
    run_test hull_sd_update_pids_and_quota t_hull_sd_update_pids_and_quota
    run_test hull_sd_pause_ps_exec_kill t_hull_sd_pause_ps_exec_kill
    run_test hull_sd_unit_name_taken t_hull_sd_unit_name_taken
    run_test hull_sd_failed_create_leaves_no_unit t_hull_sd_failed_create_leaves_no_unit
    run_test hull_sd_slice_unit t_hull_sd_slice_unit
    run_test hull_sd_annotations t_hull_sd_annotations
    run_test hull_sd_cycles_do_not_stall t_hull_sd_cycles_do_not_stall
}
