# integration/engines/containerd.sh: containerd + containerd-shim-runc-v2 + ctr driving
# the runtime under test (sourced by run.sh). Owns: a private containerd (own config,
# root, state and sockets under $T), the image import, and the containerd checks.

CTR_CHECKS=(run-echo exit-code missing-binary run-d task-ps pause-resume kill-delete kill-all
    memory-limit-host memory-limit-inside metrics tty exec exec-tty home)

containerd_start() {
    local d=$T/containerd
    mkdir -p "$d"/{root,state,opt}
    CSOCK=$d/c.sock
    cat >"$d/config.toml" <<EOF
version = 2
root = "$d/root"
state = "$d/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.aufs"]
[grpc]
  address = "$CSOCK"
[ttrpc]
  address = "$CSOCK.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$d/opt"
EOF
    containerd --config "$d/config.toml" >"$LOGS/containerd.log" 2>&1 &
    DAEMON_PIDS+=($!)
    CONTAINERD_PID=$!
    containerd_set_rt
    if ! wait_for 30 t 5 ctr -a "$CSOCK" version; then
        echo "containerd did not answer on $CSOCK within 30 s; its log:"
        tail -20 "$LOGS/containerd.log"
        return 1
    fi
    t 60 ctr -a "$CSOCK" -n "$NS" image import "$IMGDIR/oci.tar" >"$LOGS/ctr-import.log" 2>&1 &&
        t 20 ctr -a "$CSOCK" -n "$NS" image ls -q | grep -qx "$IMG" || {
        echo "ctr image import of the hand-made OCI archive failed:"; cat "$LOGS/ctr-import.log"; return 1; }
}

# c ARGS...: ctr on our socket and namespace (CTR is the same as an array, for `t`).
c() { "${CTR[@]}" "$@"; }
# `t S "${CTR[@]}" run "${CRUN[@]}" --cgroup "/$TAG/ctr-ID" ...`: ctr run with the runtime
# under test and its own runtime root.
containerd_set_rt() {
    CTR=(ctr -a "$CSOCK" -n "$NS")
    CRUN=(--runc-binary "$RT_PATH" --runc-root "$T/rtroot/ctr-$RT_NAME")
}
task_status() { c task ls | awk -v id="$1" '$1 == id {print $3}'; }
status_is() { [ "$(task_status "$1")" = "$2" ]; }
task_pid() { c task ls | awk -v id="$1" '$1 == id {print $2}'; }
ctr_gone() { # remove task and container ID whatever state they are in
    t 10 "${CTR[@]}" task kill -s SIGKILL "$1"; sleep 0.3; t 10 "${CTR[@]}" task delete -f "$1"; t 10 "${CTR[@]}" container rm "$1"
} >/dev/null 2>&1

ctr_run_echo() {
    local out; out=$(t 30 "${CTR[@]}" run "${CRUN[@]}" --cgroup "/$TAG/ctr-$RT_NAME-echo" --rm "$IMG" "$RT_NAME-echo" echo hi-from-ctr) || {
        echo "ctr run exited $?: $out"; return 1; }
    expect_eq "ctr run output" "$(printf '%s' "$out" | tr -d '\r')" hi-from-ctr
}

ctr_exit_code() {
    local rc=0; t 30 "${CTR[@]}" run "${CRUN[@]}" --cgroup "/$TAG/ctr-$RT_NAME-exit" --rm "$IMG" "$RT_NAME-exit" sh -c 'exit 3' || rc=$?
    expect_eq "ctr run exit status" "$rc" 3
}

# A create that fails: ctr must show the runtime's own reason (read from --log).
ctr_missing_binary() {
    local out rc=0
    out=$(t 30 "${CTR[@]}" run "${CRUN[@]}" --cgroup "/$TAG/ctr-$RT_NAME-nobin" --rm "$IMG" "$RT_NAME-nobin" \
        /no/such/binary 2>&1) || rc=$?
    echo "rc=$rc: $out"
    [ $rc != 0 ] || { echo "FAIL: ctr run of a missing binary succeeded"; return 1; }
    expect_has "ctr's error" "$out" /no/such/binary
}

ctr_run_d() {
    local id=$RT_NAME-d
    t 30 "${CTR[@]}" run "${CRUN[@]}" --cgroup "/$TAG/ctr-$id" -d "$IMG" "$id" sleep 1000 || { echo "ctr run -d failed"; return 1; }
    wait_for 10 status_is "$id" RUNNING || { echo "task not RUNNING:"; c task ls; return 1; }
    echo "task $id running, pid $(task_pid "$id")"
}

ctr_task_ps() {
    local id=$RT_NAME-d pid out
    pid=$(task_pid "$id"); [ -n "$pid" ] || { echo "no task $id"; return 1; }
    out=$(t 20 "${CTR[@]}" task ps "$id") || { echo "ctr task ps failed: $out"; return 1; }
    echo "$out"
    expect_eq "pids listed by ctr task ps" "$(echo "$out" | awk 'NR > 1 {print $1}' | xargs)" "$pid"
}

ctr_pause_resume() {
    local id=$RT_NAME-d pid fr
    pid=$(task_pid "$id"); [ -n "$pid" ] || { echo "no task $id"; return 1; }
    fr=/sys/fs/cgroup/freezer$(awk -F: '$2 == "freezer" {print $3}' "/proc/$pid/cgroup")
    t 20 "${CTR[@]}" task pause "$id" || { echo "ctr task pause failed"; return 1; }
    expect_eq "status after pause" "$(task_status "$id")" PAUSED || return 1
    expect_eq "freezer.state after pause" "$(cat "$fr/freezer.state")" FROZEN || return 1
    t 20 "${CTR[@]}" task resume "$id" || { echo "ctr task resume failed"; return 1; }
    expect_eq "status after resume" "$(task_status "$id")" RUNNING || return 1
    expect_eq "freezer.state after resume" "$(cat "$fr/freezer.state")" THAWED
}

ctr_metrics() {
    local id=$RT_NAME-d out
    out=$(t 20 "${CTR[@]}" task metrics "$id") || { echo "ctr task metrics failed: $out"; return 1; }
    echo "$out"
    expect_has "metrics" "$out" memory.usage_in_bytes || return 1
    local pids; pids=$(echo "$out" | awk '$1 == "pids.current" {print $2}')
    expect_eq "pids.current" "$pids" 1
}

ctr_exec() {
    local out; out=$(t 20 "${CTR[@]}" task exec --exec-id e1 "$RT_NAME-d" echo hi-from-exec) || {
        echo "ctr task exec failed: $out"; return 1; }
    expect_eq "exec output" "$out" hi-from-exec
}

# ctr task exec -t under a pty of our own: the shim passes "terminal": true in the process
# file and its console socket.
ctr_exec_tty() {
    local out rc=0
    out=$(t 30 script -qec "${CTR[*]} task exec -t --exec-id e2 $RT_NAME-d sh -c 'tty; exit 4'" \
        /dev/null < <(sleep 3)) || rc=$?
    out=$(printf '%s' "$out" | tr -d '\r')
    echo "$out"
    expect_has "exec -t output" "$out" /dev/pts/ || return 1
    expect_eq "exec -t exit status" "$rc" 4
}

# HOME is the runtime's to set (containerd leaves it out): from the image's passwd, for
# the container's process and for an exec'd one.
ctr_home() {
    local out
    out=$(t 30 "${CTR[@]}" run "${CRUN[@]}" --cgroup "/$TAG/ctr-$RT_NAME-home" --rm "$IMG" \
        "$RT_NAME-home" sh -c 'echo $HOME') || { echo "ctr run failed: $out"; return 1; }
    expect_eq "HOME of the container's process" "$out" /root || return 1
    out=$(t 20 "${CTR[@]}" task exec --exec-id e3 "$RT_NAME-d" sh -c 'echo $HOME') || {
        echo "ctr task exec failed: $out"; return 1; }
    expect_eq "HOME of an exec'd process" "$out" /root
}

ctr_kill_delete() {
    local id=$RT_NAME-d out
    t 20 "${CTR[@]}" task kill -s SIGKILL "$id" || { echo "ctr task kill failed"; return 1; }
    wait_for 10 status_is "$id" STOPPED || { echo "not STOPPED:"; c task ls; return 1; }
    out=$(t 20 "${CTR[@]}" task delete "$id" 2>&1) || { echo "ctr task delete failed: $out"; return 1; }
    echo "delete: $out"
    [ -z "$(task_status "$id")" ] || { echo "task still listed"; c task ls; return 1; }
    t 20 "${CTR[@]}" container rm "$id" || { echo "ctr container rm failed"; return 1; }
    [ ! -e "$T/rtroot/ctr-$RT_NAME/$NS/$id" ] || { echo "runtime state dir left behind"; return 1; }
}

# kill --all reaches the runtime as `kill --all ID 9`: every process in the cgroup dies.
ctr_kill_all() {
    local id=$RT_NAME-ka pid cg n
    t 30 "${CTR[@]}" run "${CRUN[@]}" --cgroup "/$TAG/ctr-$id" -d "$IMG" "$id" \
        sh -c 'sleep 1000 & sleep 1000 & wait' || { echo "run -d failed"; return 1; }
    wait_for 10 status_is "$id" RUNNING
    pid=$(task_pid "$id")
    cg=/sys/fs/cgroup/pids$(awk -F: '$2 == "pids" {print $3}' "/proc/$pid/cgroup")
    nprocs_is() { [ "$(wc -l <"$cg/cgroup.procs")" = 3 ]; }
    wait_for 5 nprocs_is || { echo "want 3 processes:"; cat "$cg/cgroup.procs"; }
    t 20 "${CTR[@]}" task kill --all -s SIGKILL "$id" || { echo "ctr task kill --all failed"; ctr_gone "$id"; return 1; }
    wait_for 10 status_is "$id" STOPPED || { echo "not STOPPED"; c task ls; ctr_gone "$id"; return 1; }
    n=$(wc -l <"$cg/cgroup.procs" 2>/dev/null || echo 0)
    ctr_gone "$id"
    expect_eq "processes left in the cgroup" "$n" 0
}

ctr_memory_host() {
    local id=$RT_NAME-mem pid m rc=0
    t 30 "${CTR[@]}" run "${CRUN[@]}" --cgroup "/$TAG/ctr-$id" -d --memory-limit 67108864 "$IMG" "$id" sleep 1000 || { echo "run -d failed"; return 1; }
    wait_for 10 status_is "$id" RUNNING
    pid=$(task_pid "$id")
    m=$(awk -F: '$2 == "memory" {print $3}' "/proc/$pid/cgroup")
    echo "memory cgroup of $pid: $m"
    expect_eq "cgroup path" "$m" "/$TAG/ctr-$id" || rc=1
    expect_eq "memory.limit_in_bytes" "$(cat "/sys/fs/cgroup/memory$m/memory.limit_in_bytes")" 67108864 || rc=1
    ctr_gone "$id"
    return $rc
}

# ctr's default spec has no cgroup mount: ask for one, as docker and podman do.
ctr_memory_inside() {
    local out
    out=$(t 30 "${CTR[@]}" run "${CRUN[@]}" --cgroup "/$TAG/ctr-$RT_NAME-memin" --rm --memory-limit 67108864 \
        --mount type=cgroup,src=cgroup,dst=/sys/fs/cgroup,options=ro:nosuid:noexec:nodev \
        "$IMG" "$RT_NAME-memin" \
        sh -c 'grep cgroup /proc/self/mountinfo; cat /sys/fs/cgroup/memory/memory.limit_in_bytes') || {
        echo "run failed: $out"; return 1; }
    echo "$out"
    expect_eq "limit seen in the container" "$(echo "$out" | tail -n1)" 67108864
}

ctr_tty() {
    local out
    out=$(t 30 script -qec "ctr -a $CSOCK -n $NS run -t --rm --runc-binary $RT_PATH \
        --runc-root $T/rtroot/ctr-$RT_NAME --cgroup /$TAG/ctr-$RT_NAME-tty $IMG $RT_NAME-tty \
        sh -c 'tty; stty size; echo tty-done'" /dev/null < <(sleep 3)) || { echo "failed ($?): $out"; return 1; }
    out=$(printf '%s' "$out" | tr -d '\r')
    echo "$out"
    expect_has "tty output" "$out" /dev/pts/ || return 1
    expect_has "tty output" "$out" tty-done
}

containerd_checks() {
    containerd_set_rt
    check containerd run-echo -- ctr_run_echo
    check containerd exit-code -- ctr_exit_code
    check containerd missing-binary -- ctr_missing_binary
    ctr_gone "$RT_NAME-nobin"
    check containerd run-d -- ctr_run_d
    check containerd task-ps -- ctr_task_ps
    check containerd pause-resume -- ctr_pause_resume
    check containerd metrics -- ctr_metrics
    check containerd exec -- ctr_exec
    check containerd exec-tty -- ctr_exec_tty
    check containerd home -- ctr_home
    check containerd kill-delete -- ctr_kill_delete
    ctr_gone "$RT_NAME-d"
    check containerd kill-all -- ctr_kill_all
    check containerd memory-limit-host -- ctr_memory_host
    check containerd memory-limit-inside -- ctr_memory_inside
    check containerd tty -- ctr_tty
}

containerd_cleanup() {
    containerd_set_rt
    local id
    for id in $(c task ls -q 2>/dev/null); do ctr_gone "$id"; done
    for id in $(c container ls -q 2>/dev/null); do t 10 "${CTR[@]}" container rm "$id"; done
}
