# integration/engines/containerd.sh: containerd + containerd-shim-runc-v2 + ctr driving
# the runtime under test (sourced by run.sh). Owns: a private containerd (own config,
# root, state and sockets under $T), the image import, and the containerd checks.
# The shim-* checks run the same through the runtime's containerd shim: for hull that is
# containerd-shim-hull-v2 (`ctr run --runtime io.containerd.hull.v2`, found on containerd's
# PATH in $T/bin), for runc the control, containerd-shim-runc-v2.

. "$(dirname "${BASH_SOURCE[0]}")/containerd-config.sh"

CTR_CHECKS=(run-echo exit-code missing-binary run-d task-ps pause-resume kill-delete kill-all
    memory-limit-host memory-limit-inside metrics tty exec exec-tty home
    shim-run-echo shim-exit-code shim-run-d shim-exec shim-exec-tty shim-exec-clash
    shim-pause-resume shim-metrics shim-update shim-unknown-id shim-kill-delete shim-oom
    shim-tty shim-bad-bundle shim-pod shim-restart)

containerd_start() {
    local d=$T/containerd
    mkdir -p "$d"/{root,state,opt}
    CSOCK=$d/c.sock
    containerd_config "$d/root" "$d/state" "$CSOCK" "$d/opt" >"$d/config.toml"
    # containerd finds a runtime's shim on its PATH: hull's is put in a directory of ours.
    mkdir -p "$T/bin"
    [ -x "$SHIM_HULL" ] && cp "$SHIM_HULL" "$T/bin/"
    containerd_up || return 1
    containerd_set_rt
    t 60 ctr -a "$CSOCK" -n "$NS" image import "$IMGDIR/oci.tar" >"$LOGS/ctr-import.log" 2>&1 &&
        t 20 ctr -a "$CSOCK" -n "$NS" image ls -q | grep -qx "$IMG" || {
        echo "ctr image import of the hand-made OCI archive failed:"; cat "$LOGS/ctr-import.log"; return 1; }
}

# containerd_up: start the configured containerd (again, after a restart check).
containerd_up() {
    PATH=$T/bin:$PATH containerd --config "$T/containerd/config.toml" >>"$LOGS/containerd.log" 2>&1 &
    DAEMON_PIDS+=($!)
    CONTAINERD_PID=$!
    if ! wait_for 30 t 5 ctr -a "$CSOCK" version; then
        echo "containerd did not answer on $CSOCK within 30 s; its log:"
        tail -20 "$LOGS/containerd.log"
        return 1
    fi
}

# c ARGS...: ctr on our socket and namespace (CTR is the same as an array, for `t`).
c() { "${CTR[@]}" "$@"; }
# `t S "${CTR[@]}" run "${CRUN[@]}" --cgroup "/$TAG/ctr-ID" ...`: ctr run with the runtime
# under test and its own runtime root.
containerd_set_rt() {
    CTR=(ctr -a "$CSOCK" -n "$NS")
    CRUN=(--runc-binary "$RT_PATH" --runc-root "$T/rtroot/ctr-$RT_NAME")
    # The runtime's own shim: hull's takes its binary and root from a runtime config file.
    if [ "$RT_NAME" = hull ]; then
        printf 'BinaryName = "%s"\nRoot = "%s"\n' "$RT_PATH" "$T/rtroot/shim-hull" >"$T/hull-shim.toml"
        SRUN=(--runtime io.containerd.hull.v2 --runtime-config-path "$T/hull-shim.toml")
        SHIM_ROOT=$T/rtroot/shim-hull/$NS SHIM_PROC=containerd-shim-hull-v2
    else
        SRUN=(--runc-binary "$RT_PATH" --runc-root "$T/rtroot/shim-runc")
        SHIM_ROOT=$T/rtroot/shim-runc/$NS SHIM_PROC=containerd-shim-runc-v2
    fi
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

# --- through the runtime's own containerd shim -------------------------------------
# shim_pids: the runtime's shim processes of this run.
shim_pids() { local p; for p in $(pids_naming_tmp); do
    [ "$(basename "$(readlink "/proc/$p/exe")")" = "$SHIM_PROC" ] && echo "$p"; done; }
# shim_socket ID: the ttrpc socket of the shim serving ID (its bundle's address file).
shim_socket() { cat "$T/containerd/state/io.containerd.runtime.v2.task/$NS/$1/address" 2>/dev/null; }
# shim_left ID: what a failed or deleted task ID left: its runtime state, mounts, cgroups.
shim_left() {
    [ -e "$SHIM_ROOT/$1" ] && echo "runtime state $SHIM_ROOT/$1"
    awk -v id="/$1/rootfs" 'index($5, id) {print "mount " $5}' /proc/self/mountinfo
    local m; for m in /sys/fs/cgroup/*/"$TAG/shim-$1"; do [ -d "$m" ] && echo "cgroup $m"; done
    return 0
}
no_shims() { [ -z "$(shim_pids)" ]; }
srun() { t 30 "${CTR[@]}" run "${SRUN[@]}" --cgroup "/$TAG/shim-$1" "${@:2}"; }

shim_run_echo() {
    local out; out=$(srun "$RT_NAME-secho" --rm "$IMG" "$RT_NAME-secho" echo hi-from-shim) || {
        echo "ctr run exited $?: $out"; return 1; }
    expect_eq "output" "$out" hi-from-shim
}

# --log-uri binary://: containerd's logging-binary protocol (nerdctl's detached containers
# use it): the logger gets stdout on fd 3, stderr on fd 4, closes fd 5 when ready, and
# CONTAINER_ID/CONTAINER_NAMESPACE in its environment.
shim_log_binary() {
    local id=$RT_NAME-slog log=$T/$RT_NAME-slog.log lg=$T/$RT_NAME-logger.sh
    printf '#!/bin/sh\necho "logger $CONTAINER_NAMESPACE/$CONTAINER_ID $1" >>%s\nexec 5>&-\ncat <&3 >>%s &\ncat <&4 >>%s\nwait\n' \
        "$log" "$log" "$log" >"$lg"
    chmod +x "$lg"
    srun "$id" -d --log-uri "binary://$lg?tag" "$IMG" "$id" sh -c 'echo out-line; echo err-line >&2' ||
        { echo "ctr run --log-uri failed"; return 1; }
    wait_for 10 grep -q err-line "$log" || { echo "no err-line in the log:"; cat "$log"; return 1; }
    wait_for 10 grep -q out-line "$log" || { echo "no out-line in the log:"; cat "$log"; return 1; }
    expect_eq "logger's first line" "$(head -n1 "$log")" "logger $NS/$id tag" || return 1
    ctr_gone "$id"
    local left; left=$(shim_left "$id")
    expect_eq "left behind" "$left" ""
}

shim_exit_code() {
    local rc=0; srun "$RT_NAME-sexit" --rm "$IMG" "$RT_NAME-sexit" sh -c 'exit 3' || rc=$?
    expect_eq "ctr run exit status" "$rc" 3
}

shim_run_d() {
    local id=$RT_NAME-sd n
    srun "$id" -d "$IMG" "$id" sleep 1000 || { echo "ctr run -d failed"; return 1; }
    wait_for 10 status_is "$id" RUNNING || { echo "task not RUNNING:"; c task ls; return 1; }
    n=$(shim_pids | wc -l)
    echo "task $id running, pid $(task_pid "$id"), $n $SHIM_PROC process(es)"
    expect_eq "$SHIM_PROC processes" "$n" 1
}

shim_exec() {
    local out rc=0; out=$(t 20 "${CTR[@]}" task exec --exec-id se1 "$RT_NAME-sd" echo hi-from-exec) || {
        echo "ctr task exec failed: $out"; return 1; }
    expect_eq "exec output" "$out" hi-from-exec || return 1
    t 20 "${CTR[@]}" task exec --exec-id se2 "$RT_NAME-sd" sh -c 'exit 5' || rc=$?
    expect_eq "exec exit status" "$rc" 5
}

shim_exec_tty() {
    local out rc=0
    out=$(t 30 script -qec "${CTR[*]} task exec -t --exec-id se3 $RT_NAME-sd sh -c 'tty; exit 4'" \
        /dev/null < <(sleep 3)) || rc=$?
    out=$(printf '%s' "$out" | tr -d '\r')
    echo "$out (rc $rc)"
    expect_has "exec -t output" "$out" /dev/pts/
}

# An exec id in use: the shim answers AlreadyExists, and the first exec is unharmed.
shim_exec_clash() {
    local out rc=0 id=$RT_NAME-sd
    t 30 "${CTR[@]}" task exec --exec-id sclash "$id" sleep 1000 >/dev/null 2>&1 &
    local first=$!
    wait_for 10 sh -c "ctr -a $CSOCK -n $NS task ps $id | grep -c . | grep -qx 3" || { echo "first exec did not start"; }
    out=$(t 20 "${CTR[@]}" task exec --exec-id sclash "$id" echo clash 2>&1) || rc=$?
    echo "second exec (rc $rc): $out"
    [ $rc != 0 ] || { kill "$first"; echo "FAIL: the clashing exec ran"; return 1; }
    expect_has "error" "$out" "already exists" || { kill "$first"; return 1; }
    t 10 "${CTR[@]}" task kill -s SIGKILL --exec-id sclash "$id" >/dev/null 2>&1
    wait "$first" 2>/dev/null
    expect_eq "processes after the clash" "$(c task ps "$id" | awk 'NR > 1' | wc -l)" 1
}

shim_pause_resume() {
    local id=$RT_NAME-sd pid fr
    pid=$(task_pid "$id"); [ -n "$pid" ] || { echo "no task $id"; return 1; }
    fr=/sys/fs/cgroup/freezer$(awk -F: '$2 == "freezer" {print $3}' "/proc/$pid/cgroup")
    t 20 "${CTR[@]}" task pause "$id" || { echo "ctr task pause failed"; return 1; }
    expect_eq "status after pause" "$(task_status "$id")" PAUSED || return 1
    expect_eq "freezer.state after pause" "$(cat "$fr/freezer.state")" FROZEN || return 1
    t 20 "${CTR[@]}" task resume "$id" || { echo "ctr task resume failed"; return 1; }
    expect_eq "status after resume" "$(task_status "$id")" RUNNING || return 1
    expect_eq "freezer.state after resume" "$(cat "$fr/freezer.state")" THAWED
}

shim_metrics() {
    local out; out=$(t 20 "${CTR[@]}" task metrics "$RT_NAME-sd") || { echo "ctr task metrics failed: $out"; return 1; }
    echo "$out"
    expect_has "metrics" "$out" memory.usage_in_bytes || return 1
    expect_eq "pids.current" "$(echo "$out" | awk '$1 == "pids.current" {print $2}')" 1
}

# ctr has no update: the suite's client sends Update (LinuxResources JSON) to the shim.
shim_update() {
    local id=$RT_NAME-sd sock out pid m
    [ -x "$SHIM_CALL" ] || { echo "no $SHIM_CALL (cargo build -p containerd-shim-hull-v2 --examples)"; return 1; }
    sock=$(shim_socket "$id"); [ -n "$sock" ] || { echo "no shim address for $id"; return 1; }
    out=$(echo '{"memory":{"limit":50331648}}' | t 20 "$SHIM_CALL" "$sock" update "$id") || { echo "update: $out"; return 1; }
    pid=$(task_pid "$id")
    m=$(awk -F: '$2 == "memory" {print $3}' "/proc/$pid/cgroup")
    expect_eq "memory.limit_in_bytes after update" "$(cat "/sys/fs/cgroup/memory$m/memory.limit_in_bytes")" 50331648 || return 1
    local rc=0; out=$(echo '[1' | t 20 "$SHIM_CALL" "$sock" update "$id") || rc=$?
    echo "update with bad resources (rc $rc): $out"
    [ $rc != 0 ] || { echo "FAIL: bad resources accepted"; return 1; }
    # hull's shim says what was wrong with the request; runc's answers Unknown.
    [ "$RT_NAME" != hull ] || expect_has "error code" "$out" INVALID_ARGUMENT || return 1
    expect_eq "memory.limit_in_bytes after the refused update" \
        "$(cat "/sys/fs/cgroup/memory$m/memory.limit_in_bytes")" 50331648
}

# A task id the shim does not serve: NotFound, from the shim itself.
shim_unknown_id() {
    local sock out rc=0
    [ -x "$SHIM_CALL" ] || { echo "no $SHIM_CALL"; return 1; }
    sock=$(shim_socket "$RT_NAME-sd"); [ -n "$sock" ] || { echo "no shim address"; return 1; }
    out=$(t 20 "$SHIM_CALL" "$sock" state no-such-task) || rc=$?
    echo "rc $rc: $out"
    expect_has "state of an unknown task" "$out" NOT_FOUND
}

# Kill and delete: the task's exit is reported, then its shim, socket, state, mount and
# cgroup are gone.
shim_kill_delete() {
    local id=$RT_NAME-sd sock
    sock=$(shim_socket "$id"); sock=${sock#unix://}
    t 20 "${CTR[@]}" task kill -s SIGKILL "$id" || { echo "ctr task kill failed"; return 1; }
    wait_for 10 status_is "$id" STOPPED || { echo "not STOPPED:"; c task ls; return 1; }
    t 20 "${CTR[@]}" task delete "$id" || { echo "ctr task delete failed"; return 1; }
    t 20 "${CTR[@]}" container rm "$id" || { echo "ctr container rm failed"; return 1; }
    wait_for 10 no_shims || { echo "FAIL: the shim of $id is still running"; return 1; }
    [ -z "$sock" ] || [ ! -e "$sock" ] || { echo "FAIL: shim socket $sock left"; return 1; }
    local left; left=$(shim_left "$id")
    expect_eq "left behind" "$left" ""
}

# An OOM kill is published as /tasks/oom and the exit is 137.
shim_oom() {
    local id=$RT_NAME-soom rc=0 ev=$T/events-$RT_NAME-oom.txt
    t 40 "${CTR[@]}" events >"$ev" 2>&1 &
    local evp=$!
    sleep 0.3
    srun "$id" --rm --memory-limit 16777216 "$IMG" "$id" \
        sh -c 'x=$(head -c 100000000 /dev/zero | tr "\000" a); echo survived' || rc=$?
    sleep 0.5; kill "$evp" 2>/dev/null; wait "$evp" 2>/dev/null
    grep -F "$id" "$ev"
    expect_eq "exit status" "$rc" 137 || return 1
    grep -q "/tasks/oom.*\"$id\"" "$ev" || { echo "FAIL: no /tasks/oom event for $id"; return 1; }
}

shim_tty() {
    local out
    out=$(t 30 script -qec "${CTR[*]} run -t --rm ${SRUN[*]} --cgroup /$TAG/shim-$RT_NAME-stty $IMG $RT_NAME-stty \
        sh -c 'tty; echo tty-done'" /dev/null < <(sleep 3)) || { echo "failed ($?): $out"; return 1; }
    out=$(printf '%s' "$out" | tr -d '\r')
    echo "$out"
    expect_has "tty output" "$out" /dev/pts/ || return 1
    expect_has "tty output" "$out" tty-done
}

# A create the runtime refuses: ctr shows the reason, and no shim, socket, state, mount or
# cgroup stays.
shim_bad_bundle() {
    local id=$RT_NAME-sbad out rc=0 before after
    before=$(ls /run/containerd 2>/dev/null)
    out=$(srun "$id" --rm "$IMG" "$id" /no/such/binary 2>&1) || rc=$?
    echo "rc=$rc: $out"
    t 10 "${CTR[@]}" container rm "$id" >/dev/null 2>&1
    [ $rc != 0 ] || { echo "FAIL: the create succeeded"; return 1; }
    expect_has "ctr's error" "$out" /no/such/binary || return 1
    sleep 0.5
    after=$(ls /run/containerd 2>/dev/null)
    expect_eq "sockets in /run/containerd" "$after" "$before" || return 1
    expect_eq "$SHIM_PROC processes" "$(shim_pids | wc -l)" 0 || return 1
    expect_eq "left behind" "$(shim_left "$id")" ""
}

# Two containers of one group (runc's group label, as a pod's sandbox id): one shim.
shim_pod() {
    local a=$RT_NAME-spa b=$RT_NAME-spb n rc=0
    local grp=(--annotation io.containerd.runc.v2.group=$RT_NAME-pod)
    srun "$a" -d "${grp[@]}" "$IMG" "$a" sleep 1000 || { echo "run $a failed"; return 1; }
    srun "$b" -d "${grp[@]}" "$IMG" "$b" sleep 1000 || { echo "run $b failed"; ctr_gone "$a"; return 1; }
    wait_for 10 status_is "$b" RUNNING
    n=$(shim_pids | wc -l)
    expect_eq "$SHIM_PROC processes for the pod" "$n" 1 || rc=1
    expect_eq "one socket" "$(shim_socket "$a")" "$(shim_socket "$b")" || rc=1
    # Deleting one keeps the shim for the other.
    ctr_gone "$a"
    expect_eq "status of $b after $a is gone" "$(task_status "$b")" RUNNING || rc=1
    out=$(t 20 "${CTR[@]}" task exec --exec-id p1 "$b" echo still-served) || rc=1
    expect_eq "exec in $b" "$out" still-served || rc=1
    ctr_gone "$b"
    sleep 0.5
    expect_eq "$SHIM_PROC processes after the pod" "$(shim_pids | wc -l)" 0 || rc=1
    return $rc
}

# containerd restarts: the task keeps running and is listed; one that exits while
# containerd is down is reported stopped, with its status, after it is back.
shim_restart() {
    local a=$RT_NAME-sra b=$RT_NAME-srb pa rc=0
    srun "$a" -d "$IMG" "$a" sleep 1000 || { echo "run $a failed"; return 1; }
    srun "$b" -d "$IMG" "$b" sh -c 'sleep 2; exit 7' || { echo "run $b failed"; ctr_gone "$a"; return 1; }
    wait_for 10 status_is "$a" RUNNING
    pa=$(task_pid "$a")
    stop_pid "$CONTAINERD_PID"
    sleep 3
    containerd_up || return 1
    expect_eq "status of $a after the restart" "$(task_status "$a")" RUNNING || rc=1
    expect_eq "pid of $a" "$(task_pid "$a")" "$pa" || rc=1
    wait_for 10 status_is "$b" STOPPED || { echo "FAIL: $b not STOPPED"; c task ls; rc=1; }
    local out; out=$(t 10 "${CTR[@]}" task rm "$b" 2>&1)
    echo "delete $b: $out"
    expect_has "exit status of $b" "$out" "exit code 7" || rc=1
    t 20 "${CTR[@]}" task kill -s SIGKILL "$a"
    wait_for 10 status_is "$a" STOPPED || { echo "FAIL: $a not STOPPED after kill"; rc=1; }
    ctr_gone "$a"; ctr_gone "$b"
    return $rc
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
    check containerd shim-run-echo -- shim_run_echo
    check containerd shim-exit-code -- shim_exit_code
    check containerd shim-log-binary -- shim_log_binary
    check containerd shim-run-d -- shim_run_d
    check containerd shim-exec -- shim_exec
    check containerd shim-exec-tty -- shim_exec_tty
    check containerd shim-exec-clash -- shim_exec_clash
    check containerd shim-pause-resume -- shim_pause_resume
    check containerd shim-metrics -- shim_metrics
    check containerd shim-update -- shim_update
    check containerd shim-unknown-id -- shim_unknown_id
    check containerd shim-kill-delete -- shim_kill_delete
    ctr_gone "$RT_NAME-sd"
    check containerd shim-oom -- shim_oom
    ctr_gone "$RT_NAME-soom"
    check containerd shim-tty -- shim_tty
    check containerd shim-bad-bundle -- shim_bad_bundle
    check containerd shim-pod -- shim_pod
    check containerd shim-restart -- shim_restart
}

containerd_cleanup() {
    containerd_set_rt
    local id
    for id in $(c task ls -q 2>/dev/null); do ctr_gone "$id"; done
    for id in $(c container ls -q 2>/dev/null); do t 10 "${CTR[@]}" container rm "$id"; done
}
