# hull checkpoint / restore with Debian's criu 3.17 on Debian's 6.1 kernel (where it works;
# the development hosts' 6.18 kernel is too new for it), in the systemd VM
# (integration/vm/systemd). Not a script of its own: guest-tests.sh sources it after its
# helpers (run_test, eq, info, wait_for, pid_of, hull, $WORK, $CGROOT, $UNIT_CG) and then
# calls run_checkpoint_tests.
#
# Every container counts on its stdout (a pipe, read into $CK/NAME/out by a cat, as runc's
# callers give it; a FIFO is checked through containerd in guest-containerd.sh), one
# number every 0.2 s, so that
# "restored" means "goes on counting from where it stopped": the numbers in the output are
# checked to rise by exactly one, with no restart from 1 and no repeat.

CK=$WORK/ck
RECVTTY=$PAYLOAD/bin/recvtty
# The counter: process.args items for ck_bundle.
COUNTER='"sh", "-c", "i=0; while :; do i=$((i+1)); echo $i; sleep 0.2; done"'
# Restores and checkpoints take 2-5 s under TCG; criu's first use builds its feature cache.
ckhull() { timeout 120 "$PAYLOAD/bin/hull" "$@"; }

# ck_bundle NAME ARGS [RESOURCES] [MOUNTS] [CGROUP]: a bundle in $CK/NAME/bundle from
# `hull spec` on the payload's busybox rootfs, terminal off, cgroupsPath $UNIT_CG/ck-NAME
# (or ck-CGROUP). RESOURCES: JSON members with a trailing comma; MOUNTS: mount objects with
# a trailing comma, put first in mounts[].
ck_bundle() {
    local d=$CK/$1/bundle
    mkdir -p "$d" && (cd "$d" && ckhull spec) || return 1
    sed -i -e 's/"terminal": true/"terminal": false/' \
        -e "s#^\t\t\t\"sh\"\$#\t\t\t$2#" \
        -e 's#"path": "rootfs"#"path": "/hullvm/rootfs"#' \
        -e "s#\"linux\": {#\"linux\": {\"cgroupsPath\": \"$UNIT_CG/ck-${5:-$1}\",#" \
        -e "s#\"resources\": {#\"resources\": {$3#" \
        -e "s#\"mounts\": \[#\"mounts\": [$4#" "$d/config.json"
    echo "$d"
}

# ck_stdio NAME: new pipes for a container's stdio: CK_IN (stdin, already at EOF) and
# CK_OUT (stdout and stderr), read by a background cat appending to $CK/NAME/out.
ck_stdio() {
    local p r w
    mkdir -p "$CK/$1"
    exec {p}<> <(:)
    exec {CK_IN}</proc/self/fd/$p {w}>/proc/self/fd/$p {p}>&-
    exec {w}>&-
    exec {p}<> <(:)
    exec {r}</proc/self/fd/$p {CK_OUT}>/proc/self/fd/$p {p}>&-
    cat <&$r >>"$CK/$1/out" {CK_OUT}>&- {CK_IN}<&- &
    exec {r}<&-
}
ck_stdio_done() { exec {CK_IN}<&- {CK_OUT}>&-; }

# ck_errors NAME: what is not a number in NAME's output (hull's own messages).
ck_errors() { grep -Ev '^[0-9]+$' "$CK/$1/out" 2>/dev/null | tail -n 5 | tr '\n' ' '; }
ck_count() { grep -E '^[0-9]+$' "$CK/$1/out" 2>/dev/null | tail -n 1; }
ck_past() { local c; c=$(ck_count "$1"); [ -n "$c" ] && [ "$c" -ge "$2" ]; }

# ck_counts_on NAME FROM: the counter passes FROM+2, every step +1 (no restart, no repeat).
ck_counts_on() {
    local want=$(($2 + 2)) bad
    wait_for 30 ck_past "$1" "$want" ||
        { WHY="$1's counter stuck at '$(ck_count "$1")' (want >= $want) $(ck_errors "$1")"; return 1; }
    bad=$(grep -E '^[0-9]+$' "$CK/$1/out" | awk 'NR > 1 && $1 != prev + 1 {print prev " then " $1; exit} {prev = $1}')
    [ -z "$bad" ] || { WHY="$1's counter jumped: $bad"; return 1; }
}

# ck_run NAME BUNDLE [ARGS]: `run -d` with stdio on pipes; waits for the counter.
ck_run() {
    local name=$1 b=$2 rc
    shift 2
    ck_stdio "$name"
    ckhull run -d -b "$b" "$@" "$name" <&$CK_IN >&$CK_OUT 2>&$CK_OUT
    rc=$?
    ck_stdio_done
    [ $rc = 0 ] || { WHY="run $name failed: $(ck_errors "$name")"; return 1; }
    wait_for 20 ck_past "$name" 3 || { WHY="$name does not count: $(ck_errors "$name")"; return 1; }
}

# ck_checkpoint NAME ARGS...: checkpoint, timed (INFO line).
ck_checkpoint() {
    local name=$1 t0 out
    shift
    t0=$(date +%s%N)
    out=$(ckhull checkpoint "$@" "$name" 2>&1) ||
        { WHY="checkpoint $* $name failed: $out"; return 1; }
    info "checkpoint $* $name: $((($(date +%s%N) - t0) / 1000000)) ms"
}

# ck_restore NAME ARGS...: `restore -d` with new stdio pipes, timed (INFO line).
ck_restore() {
    local name=$1 t0 rc
    shift
    t0=$(date +%s%N)
    ck_stdio "$name"
    ckhull restore -d "$@" "$name" <&$CK_IN >&$CK_OUT 2>&$CK_OUT
    rc=$?
    ck_stdio_done
    [ $rc = 0 ] || { sleep 0.5; WHY="restore $* $name failed: $(ck_errors "$name")"; return 1; }
    info "restore -d $* $name: $((($(date +%s%N) - t0) / 1000000)) ms"
}

# ck_running NAME [CGROUP]: `state` says running, and the init it names is the one process
# at the top of the container's cgroup ($UNIT_CG/ck-NAME, or ck-CGROUP) besides its children.
ck_running() {
    local pid st cg=$CGROOT$UNIT_CG/ck-${2:-$1}
    st=$(ckhull state "$1" 2>&1)
    case $st in *'"status": "running"'*) ;; *) WHY="state $1: $st"; return 1 ;; esac
    pid=$(pid_of ckhull "$1")
    grep -qx "$pid" "$cg/cgroup.procs" 2>/dev/null ||
        { WHY="$1's init $pid is not in $cg ($(cat "$cg/cgroup.procs" 2>&1 | tr '\n' ' '))"; return 1; }
}

# ck_gone NAME [CGROUP]: no state, no cgroup, no criu-root mount.
ck_gone() {
    local cg=$CGROOT$UNIT_CG/ck-${2:-$1}
    ckhull state "$1" >/dev/null 2>&1 && { WHY="$1 still exists"; return 1; }
    wait_for 5 test ! -d "$cg" || { WHY="$cg is still there"; return 1; }
    ! grep -q "hull~criu~$1" /proc/self/mountinfo || { WHY="criu-root of $1 still mounted"; return 1; }
}

# ck_delete NAME [CGROUP]: delete --force, and nothing is left.
ck_delete() {
    local out
    out=$(ckhull delete --force "$1" 2>&1) || { WHY="delete $1: $out"; return 1; }
    ck_gone "$@"
}

ck_cleanup() {
    local id
    for id in "$@"; do ckhull delete --force "$id" >/dev/null 2>&1; done
    return 0
}

# A checkpoint ends the container; a restore under the same id goes on counting and is a
# container like any other: state, exec, pause, resume, delete.
t_ck_basic() {
    local b img=$CK/basic/img n out pid hooks=$CK/basic/hooks h
    b=$(ck_bundle basic "$COUNTER") || { WHY="no bundle"; return 1; }
    # prestart and createRuntime hooks log their state: at create, and again at restore
    # (when criu has set up the namespaces, with the restored init's pid), as with runc.
    printf '#!/bin/sh\necho "$1 $(tr -d " \\n")" >>%s\n' "$hooks" >"$CK/basic/hook"
    h="{\"path\": \"/bin/sh\", \"args\": [\"sh\", \"$CK/basic/hook\", \"KIND\"]}"
    sed -i "s#\"linux\": {#\"hooks\": {\"prestart\": [${h//KIND/prestart}], \"createRuntime\": [${h//KIND/createRuntime}]}, \"linux\": {#" \
        "$b/config.json"
    ck_run basic "$b" || return 1
    ck_checkpoint basic --image-path "$img" || return 1
    ck_gone basic || { WHY="after checkpoint: $WHY"; return 1; }
    [ -f "$img/inventory.img" ] || { WHY="no inventory.img in $img"; return 1; }
    n=$(ck_count basic)
    ck_restore basic -b "$b" --image-path "$img" || return 1
    ck_running basic || return 1
    pid=$(pid_of ckhull basic)
    eq "prestart hook runs" "$(grep -c '^prestart .*"status":"creating"' "$hooks")" 2 || return 1
    eq "createRuntime hook runs" "$(grep -c '^createRuntime .*"status":"creating"' "$hooks")" 2 ||
        return 1
    grep -q "^prestart .*\"pid\":$pid," "$hooks" ||
        { WHY="no prestart hook saw the restored init $pid: $(tail -n 2 "$hooks")"; return 1; }
    ck_counts_on basic "$n" || return 1
    out=$(ckhull exec basic echo ok 2>&1)
    eq "exec in the restored container" "$out" ok || return 1
    out=$(ckhull pause basic 2>&1) || { WHY="pause of the restored container: $out"; return 1; }
    case $(ckhull state basic) in *'"status": "paused"'*) ;; *) WHY="not paused after pause"; return 1 ;; esac
    out=$(ckhull resume basic 2>&1) || { WHY="resume of the restored container: $out"; return 1; }
    ck_running basic || return 1
    ck_delete basic
}

t_ck_leave_running() {
    local b img=$CK/lr/img n
    b=$(ck_bundle lr "$COUNTER") || { WHY="no bundle"; return 1; }
    ck_run lr "$b" || return 1
    ck_checkpoint lr --leave-running --image-path "$img" || return 1
    ck_running lr || { WHY="after checkpoint --leave-running: $WHY"; return 1; }
    n=$(ck_count lr)
    ck_counts_on lr "$n" || return 1
    [ -f "$img/inventory.img" ] || { WHY="no inventory.img in $img"; return 1; }
    ck_delete lr
}

t_ck_pre_dump() {
    local b n
    b=$(ck_bundle pd "$COUNTER") || { WHY="no bundle"; return 1; }
    ck_run pd "$b" || return 1
    ck_checkpoint pd --pre-dump --image-path "$CK/pd/parent" || return 1
    ck_running pd || { WHY="after --pre-dump: $WHY"; return 1; }
    ck_checkpoint pd --image-path "$CK/pd/img" --parent-path ../parent || return 1
    [ -L "$CK/pd/img/parent" ] || { WHY="$CK/pd/img/parent is not criu's link to the pre-dump"; return 1; }
    n=$(ck_count pd)
    ck_restore pd -b "$b" --image-path "$CK/pd/img" || return 1
    ck_running pd || return 1
    ck_counts_on pd "$n" || return 1
    ck_delete pd
}

# Under another id, in another cgroup (criu's cgroup roots follow the new container), with
# --pid-file.
t_ck_new_id_pid_file() {
    local b b2 n pid
    b=$(ck_bundle nid "$COUNTER") || { WHY="no bundle"; return 1; }
    ck_run nid "$b" || return 1
    ck_checkpoint nid --image-path "$CK/nid/img" || return 1
    n=$(ck_count nid)
    b2=$(ck_bundle nid2 "$COUNTER") || { WHY="no bundle"; return 1; }
    cp "$CK/nid/out" "$CK/nid2/out"
    ck_restore nid2 -b "$b2" --image-path "$CK/nid/img" --pid-file "$CK/nid/pid" || return 1
    ck_running nid2 || return 1
    pid=$(pid_of ckhull nid2)
    eq "--pid-file" "$(cat "$CK/nid/pid" 2>&1)" "$pid" || return 1
    ckhull state nid >/dev/null 2>&1 && { WHY="the old id nid exists again"; return 1; }
    ck_counts_on nid2 "$n" || return 1
    ck_delete nid2
}

t_ck_bind_mount() {
    local b n m
    mkdir -p "$CK/bind/data"
    m="{\"destination\": \"/data\", \"type\": \"bind\", \"source\": \"$CK/bind/data\", \"options\": [\"rbind\", \"rw\"]},"
    b=$(ck_bundle bind '"sh", "-c", "i=0; while :; do i=$((i+1)); echo $i; echo $i >/data/n; sleep 0.2; done"' "" "$m") ||
        { WHY="no bundle"; return 1; }
    ck_run bind "$b" || return 1
    ck_checkpoint bind --image-path "$CK/bind/img" || return 1
    n=$(cat "$CK/bind/data/n")
    ck_restore bind -b "$b" --image-path "$CK/bind/img" || return 1
    ck_running bind || return 1
    ck_counts_on bind "$n" || return 1
    [ "$(cat "$CK/bind/data/n")" -gt "$n" ] ||
        { WHY="the bind mount's file stays at $(cat "$CK/bind/data/n") (was $n)"; return 1; }
    ck_delete bind
}

# A terminal: the master goes to --console-socket (recvtty) at run and, criu's new one, at
# restore; the counter goes on on the new terminal.
t_ck_tty() {
    local b n first out
    b=$(ck_bundle tty "$COUNTER") || { WHY="no bundle"; return 1; }
    sed -i 's/"terminal": false/"terminal": true/' "$b/config.json"
    "$RECVTTY" "$CK/tty/sock1" "$CK/tty/tty1" &
    wait_for 5 test -S "$CK/tty/sock1" || { WHY="recvtty did not listen"; return 1; }
    out=$(ckhull run -d -b "$b" --console-socket "$CK/tty/sock1" tty </dev/null 2>&1) ||
        { WHY="run: $out"; return 1; }
    wait_for 20 grep -q '^3' "$CK/tty/tty1" || { WHY="nothing counted on the terminal"; return 1; }
    ck_checkpoint tty --image-path "$CK/tty/img" || return 1
    n=$(tr -d '\r' <"$CK/tty/tty1" | grep -E '^[0-9]+$' | tail -n 1)
    "$RECVTTY" "$CK/tty/sock2" "$CK/tty/tty2" &
    wait_for 5 test -S "$CK/tty/sock2" || { WHY="recvtty did not listen"; return 1; }
    out=$(ckhull restore -d -b "$b" --image-path "$CK/tty/img" --console-socket "$CK/tty/sock2" tty </dev/null 2>&1) ||
        { WHY="restore: $out"; return 1; }
    ck_running tty || return 1
    wait_for 20 grep -q . "$CK/tty/tty2" || { WHY="nothing on the restored terminal"; return 1; }
    sleep 1
    first=$(tr -d '\r' <"$CK/tty/tty2" | grep -E '^[0-9]+$' | head -n 1)
    [ -n "$first" ] && [ "$first" -gt "$n" ] && [ "$first" -le $((n + 2)) ] ||
        { WHY="the restored terminal starts at '$first', the checkpoint was at $n"; return 1; }
    ck_delete tty
}

t_ck_paused() {
    local b n st
    b=$(ck_bundle paused "$COUNTER") || { WHY="no bundle"; return 1; }
    ck_run paused "$b" || return 1
    st=$(ckhull pause paused 2>&1) || { WHY="pause: $st"; return 1; }
    n=$(ck_count paused)
    ck_checkpoint paused --image-path "$CK/paused/img" || return 1
    ck_gone paused || return 1
    ck_restore paused -b "$b" --image-path "$CK/paused/img" || return 1
    st=$(ckhull state paused 2>&1)
    case $st in
        *'"status": "paused"'*)
            info "a paused container's checkpoint restores paused"
            ckhull resume paused || { WHY="resume after restore failed"; return 1; }
            ;;
        *) info "a paused container's checkpoint restores running" ;;
    esac
    ck_running paused || return 1
    ck_counts_on paused "$n" || return 1
    ck_delete paused
}

t_ck_memory_limit() {
    local b n cg=$CGROOT$UNIT_CG/ck-mem
    b=$(ck_bundle mem "$COUNTER" '"memory": {"limit": 67108864},') || { WHY="no bundle"; return 1; }
    ck_run mem "$b" || return 1
    eq "memory.max before" "$(cat "$cg/memory.max")" 67108864 || return 1
    ck_checkpoint mem --image-path "$CK/mem/img" || return 1
    n=$(ck_count mem)
    ck_restore mem -b "$b" --image-path "$CK/mem/img" || return 1
    ck_running mem || return 1
    eq "memory.max after restore" "$(cat "$cg/memory.max" 2>&1)" 67108864 || return 1
    ck_counts_on mem "$n" || return 1
    ck_delete mem
}

# Under --systemd-cgroup (as podman on a systemd host calls it): restore starts the
# container's scope again with criu in it, with the limit as a unit property, and records
# the new unit (delete stops it).
t_ck_systemd() {
    local b n pid unit=hullck-sd.scope cg=$CGROOT/system.slice/hullck-sd.scope
    b=$(ck_bundle sd "$COUNTER" '"memory": {"limit": 67108864},') || { WHY="no bundle"; return 1; }
    sed -i "s#\"cgroupsPath\": \"[^\"]*\"#\"cgroupsPath\": \"system.slice:hullck:sd\"#" "$b/config.json"
    ck_run sd "$b" --systemd-cgroup || return 1
    eq "scope before" "$(systemctl show -P ActiveState $unit)" active || return 1
    ck_checkpoint sd --systemd-cgroup --image-path "$CK/sd/img" || return 1
    wait_for 10 sh -c "[ \"\$(systemctl show -P ActiveState $unit)\" != active ]" ||
        { WHY="$unit still active after checkpoint"; return 1; }
    n=$(ck_count sd)
    ck_restore sd --systemd-cgroup -b "$b" --image-path "$CK/sd/img" || return 1
    pid=$(pid_of ckhull sd)
    eq "scope after restore" "$(systemctl show -P ActiveState $unit)" active || return 1
    grep -qx "$pid" "$cg/cgroup.procs" 2>/dev/null ||
        { WHY="restored init $pid not in $cg ($(cat "$cg/cgroup.procs" 2>&1 | tr '\n' ' '))"; return 1; }
    eq "MemoryMax of the scope" "$(systemctl show -P MemoryMax $unit)" 67108864 || return 1
    eq "memory.max after restore" "$(cat "$cg/memory.max" 2>&1)" 67108864 || return 1
    ck_counts_on sd "$n" || return 1
    ckhull --systemd-cgroup delete --force sd >/dev/null 2>&1 || { WHY="delete failed"; return 1; }
    wait_for 10 sh -c "[ \"\$(systemctl show -P ActiveState $unit)\" != active ]" ||
        { WHY="$unit still active after delete"; return 1; }
    ckhull state sd >/dev/null 2>&1 && { WHY="sd still exists"; return 1; }
    return 0
}

# ck_cgroups_mode MODE: checkpoint and restore with --manage-cgroups-mode MODE.
ck_cgroups_mode() {
    local name=cg$1 b n
    b=$(ck_bundle "$name" "$COUNTER" '"pids": {"limit": 20},') || { WHY="no bundle"; return 1; }
    ck_run "$name" "$b" || return 1
    ck_checkpoint "$name" --manage-cgroups-mode "$1" --image-path "$CK/$name/img" || return 1
    n=$(ck_count "$name")
    ck_restore "$name" -b "$b" --manage-cgroups-mode "$1" --image-path "$CK/$name/img" || return 1
    ck_running "$name" || return 1
    eq "pids.max after restore" "$(cat "$CGROOT$UNIT_CG/ck-$name/pids.max" 2>&1)" 20 || return 1
    ck_counts_on "$name" "$n" || return 1
    ck_delete "$name"
}
t_ck_cgroups_ignore() { ck_cgroups_mode ignore; }
t_ck_cgroups_soft() { ck_cgroups_mode soft; }
t_ck_cgroups_full() { ck_cgroups_mode full; }

# Without --detach, restore waits like `run`: it ends with the container's status (137 on
# SIGKILL) and the container is removed.
t_ck_restore_attached() {
    local b n rc pidr
    b=$(ck_bundle att "$COUNTER") || { WHY="no bundle"; return 1; }
    ck_run att "$b" || return 1
    ck_checkpoint att --image-path "$CK/att/img" || return 1
    n=$(ck_count att)
    ck_stdio att
    ckhull restore -b "$b" --image-path "$CK/att/img" att <&$CK_IN >&$CK_OUT 2>&$CK_OUT &
    pidr=$!
    ck_stdio_done
    wait_for 60 ck_past att $((n + 2)) || { WHY="the restored container does not count: $(ck_errors att)"; return 1; }
    ck_running att || return 1
    ckhull kill att KILL || { WHY="kill failed"; return 1; }
    wait $pidr
    rc=$?
    eq "attached restore's exit status" "$rc" 137 || return 1
    ck_gone att
}

t_ck_bad_parent_path() {
    local b out
    b=$(ck_bundle bp "$COUNTER") || { WHY="no bundle"; return 1; }
    ck_run bp "$b" || return 1
    out=$(ckhull checkpoint --image-path "$CK/bp/img" --parent-path ../nope bp 2>&1) &&
        { WHY="checkpoint with a missing --parent-path succeeded"; return 1; }
    case $out in *"--parent-path"*) ;; *) WHY="error does not name --parent-path: $out"; return 1 ;; esac
    eq "lines of the error" "$(echo "$out" | wc -l)" 1 || return 1
    [ ! -e "$CK/bp/img" ] || { WHY="$CK/bp/img was made"; return 1; }
    ck_running bp || return 1
    ck_delete bp
}

t_ck_bad_image_path() {
    local b out
    b=$(ck_bundle bi "$COUNTER") || { WHY="no bundle"; return 1; }
    mkdir -p "$CK/bi/notimg"
    out=$(ckhull restore -d -b "$b" --image-path "$CK/bi/notimg" bi </dev/null 2>&1) &&
        { WHY="restore from an empty directory succeeded"; return 1; }
    case $out in *"not a checkpoint"*) ;; *) WHY="error: $out"; return 1 ;; esac
    eq "lines of the error" "$(echo "$out" | wc -l)" 1 || return 1
    ck_gone bi
}

t_ck_restore_existing_id() {
    local b out pid
    b=$(ck_bundle ex "$COUNTER") || { WHY="no bundle"; return 1; }
    ck_run ex "$b" || return 1
    ck_checkpoint ex --leave-running --image-path "$CK/ex/img" || return 1
    pid=$(pid_of ckhull ex)
    out=$(ckhull restore -d -b "$b" --image-path "$CK/ex/img" ex </dev/null 2>&1) &&
        { WHY="restore over a running container succeeded"; return 1; }
    case $out in *"already exists"*) ;; *) WHY="error: $out"; return 1 ;; esac
    eq "lines of the error" "$(echo "$out" | wc -l)" 1 || return 1
    ck_running ex || return 1
    eq "the running container's pid" "$(pid_of ckhull ex)" "$pid" || return 1
    ! grep -q 'hull~criu~' /proc/self/mountinfo || { WHY="a criu-root is mounted"; return 1; }
    ck_delete ex
}

t_ck_criu_check() {
    local out t0
    t0=$(date +%s%N)
    out=$(timeout 120 criu check 2>&1) || { WHY="criu check: $out"; return 1; }
    info "criu $(criu --version | sed -n 's/^Version: //p'): criu check in" \
        "$((($(date +%s%N) - t0) / 1000000)) ms: $out"
}

run_checkpoint_tests() {
    local t0=$(date +%s)
    mkdir -p "$CK"
    run_test criu_check t_ck_criu_check
    run_test hull_ck_checkpoint_restore t_ck_basic
    ck_cleanup basic
    run_test hull_ck_leave_running t_ck_leave_running
    ck_cleanup lr
    run_test hull_ck_pre_dump_parent_path t_ck_pre_dump
    ck_cleanup pd
    run_test hull_ck_new_id_pid_file t_ck_new_id_pid_file
    ck_cleanup nid nid2
    run_test hull_ck_bind_mount t_ck_bind_mount
    ck_cleanup bind
    run_test hull_ck_tty_console_socket t_ck_tty
    ck_cleanup tty
    run_test hull_ck_paused t_ck_paused
    ck_cleanup paused
    run_test hull_ck_memory_limit t_ck_memory_limit
    ck_cleanup mem
    run_test hull_ck_systemd_cgroup t_ck_systemd
    ckhull --systemd-cgroup delete --force sd >/dev/null 2>&1
    run_test hull_ck_restore_attached t_ck_restore_attached
    ck_cleanup att
    run_test hull_ck_bad_parent_path t_ck_bad_parent_path
    ck_cleanup bp
    run_test hull_ck_bad_image_path t_ck_bad_image_path
    ck_cleanup bi
    run_test hull_ck_restore_existing_id t_ck_restore_existing_id
    ck_cleanup ex
    # Last: criu's soft and full modes may touch the cgroup2 mount's options (runc's own
    # tests use ignore for that reason: checkpoint-restore/criu#3029).
    run_test hull_ck_cgroups_mode_ignore t_ck_cgroups_ignore
    ck_cleanup cgignore
    run_test hull_ck_cgroups_mode_soft t_ck_cgroups_soft
    ck_cleanup cgsoft
    run_test hull_ck_cgroups_mode_full t_ck_cgroups_full
    ck_cleanup cgfull
    info "checkpoint tests took $(($(date +%s) - t0)) s"
}
