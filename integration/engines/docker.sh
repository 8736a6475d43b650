# integration/engines/docker.sh: dockerd (on the suite's containerd) driving the runtime
# under test through `--add-runtime` (sourced by run.sh). Owns: a private dockerd (data
# root, exec root, pid file, socket and empty config under $T; no bridge, no iptables),
# the image import, and the docker checks.

DOCKER_CHECKS=(run-echo exit-code missing-binary not-executable run-d-stop memory top pause-unpause update-memory limits restart config init tty host-namespaces exec exec-tty)

docker_start() {
    local d=$T/docker
    mkdir -p "$d"/{data,exec}
    DSOCK=$d/d.sock
    echo '{}' >"$d/daemon.json"
    # Every runtime the suite compares is registered under its own name.
    dockerd --config-file "$d/daemon.json" --data-root "$d/data" --exec-root "$d/exec" \
        --pidfile "$d/d.pid" -H "unix://$DSOCK" --containerd "$CSOCK" \
        --bridge none --iptables=false --ip6tables=false --ip-masq=false --userland-proxy=false \
        --cgroup-parent "/$TAG/docker" --storage-driver overlay2 \
        --add-runtime "hull=$HULL" --add-runtime "ctlrunc=$RUNC" >"$LOGS/dockerd.log" 2>&1 &
    DAEMON_PIDS+=($!)
    docker_set_rt
    if ! wait_for 60 t 5 "${DOCKER[@]}" version; then
        echo "dockerd did not answer on $DSOCK within 60 s; its log:"
        tail -20 "$LOGS/dockerd.log"
        return 1
    fi
    local out
    out=$(t 60 "${DOCKER[@]}" import "$IMGDIR/rootfs.tar" "$IMG" 2>&1) || { echo "docker import failed: $out"; return 1; }
}

# DOCKER: the docker client shipped with docker.io, on our socket, with a private config
# dir; DRUN: `docker run` with the runtime under test and no network.
docker_set_rt() {
    DOCKER=(env "DOCKER_CONFIG=$T/docker/client" /usr/bin/docker -H "unix://$DSOCK")
    DRUN=("${DOCKER[@]}" run --runtime "$DOCKER_RT" --network none)
}
D() { "${DOCKER[@]}" "$@"; }
dstate() { D inspect -f '{{.State.Status}}' "$1" 2>/dev/null; }

dock_run_echo() {
    local out; out=$(t 60 "${DRUN[@]}" --rm "$IMG" echo hi-from-docker) || { echo "docker run exited $?: $out"; return 1; }
    expect_eq "docker run output" "$out" hi-from-docker
}

dock_exit_code() {
    local rc=0; t 60 "${DRUN[@]}" --rm "$IMG" sh -c 'exit 3' || rc=$?
    expect_eq "docker run exit status" "$rc" 3
}

# docker maps the runtime's create error text to 127 (no such file) as with runc.
dock_missing_binary() {
    local out rc=0
    out=$(t 60 "${DRUN[@]}" --rm "$IMG" /no/such/binary 2>&1) || rc=$?
    echo "$out"
    expect_eq "docker exit status" "$rc" 127 || return 1
    expect_has "docker's error" "$out" /no/such/binary
}

# ... and "permission denied" to 126.
dock_not_executable() {
    local out rc=0
    out=$(t 60 "${DRUN[@]}" --rm "$IMG" /etc/passwd 2>&1) || rc=$?
    echo "$out"
    expect_eq "docker exit status" "$rc" 126
}

dock_run_d_stop() {
    local id=$RT_NAME-dd
    t 60 "${DRUN[@]}" -d --name "$id" "$IMG" sleep 1000 || { echo "docker run -d failed"; return 1; }
    expect_eq "state after run -d" "$(dstate "$id")" running || return 1
    t 60 "${DOCKER[@]}" stop -t 1 "$id" || { echo "docker stop failed"; return 1; }
    expect_eq "state after stop" "$(dstate "$id")" exited || return 1
    expect_eq "exit code after stop" "$(D inspect -f '{{.State.ExitCode}}' "$id")" 137 || return 1
    t 60 "${DOCKER[@]}" rm "$id" || { echo "docker rm failed"; return 1; }
}

dock_memory() {
    local out
    out=$(t 60 "${DRUN[@]}" --rm --memory 64m "$IMG" cat /sys/fs/cgroup/memory/memory.limit_in_bytes) || {
        echo "docker run --memory failed: $out"; return 1; }
    expect_eq "limit seen in the container" "$out" 67108864
}

# dock_bg NAME ARGS...: a detached `sleep 1000` container named NAME, running.
dock_bg() {
    local id=$1; shift
    t 60 "${DRUN[@]}" -d --name "$id" "$@" "$IMG" sleep 1000 || { echo "docker run -d failed"; return 1; }
    expect_eq "state after run -d" "$(dstate "$id")" running
}
dock_host_cgroup() { # dock_host_cgroup NAME CONTROLLER: the container's cgroup dir on the host
    local pid; pid=$(D inspect -f '{{.State.Pid}}' "$1")
    echo "/sys/fs/cgroup/$2$(awk -F: -v c="$2" '$2 == c {print $3}' "/proc/$pid/cgroup")"
}

dock_top() {
    local id=$RT_NAME-dt out rc=0
    dock_bg "$id" || return 1
    out=$(t 30 "${DOCKER[@]}" top "$id") || rc=1
    echo "$out"
    [ $rc = 0 ] && expect_has "docker top" "$out" "sleep 1000" || rc=1
    t 30 "${DOCKER[@]}" rm -f "$id" >/dev/null
    return $rc
}

dock_pause_unpause() {
    local id=$RT_NAME-dp fr rc=0
    dock_bg "$id" || return 1
    fr=$(dock_host_cgroup "$id" freezer)
    { t 30 "${DOCKER[@]}" pause "$id" &&
        expect_eq "state after pause" "$(dstate "$id")" paused &&
        expect_eq "freezer.state after pause" "$(cat "$fr/freezer.state")" FROZEN &&
        t 30 "${DOCKER[@]}" unpause "$id" &&
        expect_eq "state after unpause" "$(dstate "$id")" running &&
        expect_eq "freezer.state after unpause" "$(cat "$fr/freezer.state")" THAWED; } || rc=1
    t 30 "${DOCKER[@]}" rm -f "$id" >/dev/null
    return $rc
}

# docker update reaches the runtime as `update --resources - ID` (through the shim).
dock_update_memory() {
    local id=$RT_NAME-du m rc=0
    dock_bg "$id" --memory 64m --memory-swap 256m || return 1
    m=$(dock_host_cgroup "$id" memory)
    { expect_eq "memory.limit_in_bytes before" "$(cat "$m/memory.limit_in_bytes")" 67108864 &&
        t 30 "${DOCKER[@]}" update --memory 128m --memory-swap 256m "$id" &&
        expect_eq "memory.limit_in_bytes after update" "$(cat "$m/memory.limit_in_bytes")" 134217728 &&
        expect_eq "memory.memsw.limit_in_bytes after update" \
            "$(cat "$m/memory.memsw.limit_in_bytes" 2>/dev/null || echo no-swap-accounting)" 268435456; } || rc=1
    t 30 "${DOCKER[@]}" rm -f "$id" >/dev/null
    return $rc
}

dock_limits() {
    local id=$RT_NAME-dl rc=0 cpu pids
    dock_bg "$id" --pids-limit 50 --cpus 0.5 --cpu-shares 512 || return 1
    cpu=$(dock_host_cgroup "$id" cpu); pids=$(dock_host_cgroup "$id" pids)
    { expect_eq "pids.max" "$(cat "$pids/pids.max")" 50 &&
        expect_eq "cpu.cfs_quota_us" "$(cat "$cpu/cpu.cfs_quota_us")" 50000 &&
        expect_eq "cpu.cfs_period_us" "$(cat "$cpu/cpu.cfs_period_us")" 100000 &&
        expect_eq "cpu.shares" "$(cat "$cpu/cpu.shares")" 512; } || rc=1
    t 30 "${DOCKER[@]}" rm -f "$id" >/dev/null
    return $rc
}

# restart = kill, delete and create again under the same id.
dock_restart() {
    local id=$RT_NAME-dr pid1 pid2 rc=0
    dock_bg "$id" || return 1
    pid1=$(D inspect -f '{{.State.Pid}}' "$id")
    { t 60 "${DOCKER[@]}" restart -t 1 "$id" &&
        expect_eq "state after restart" "$(dstate "$id")" running &&
        pid2=$(D inspect -f '{{.State.Pid}}' "$id") &&
        { [ "$pid1" != "$pid2" ] && echo "ok: new init pid $pid2 (was $pid1)"; } &&
        expect_has "new init's command" "$(tr '\0' ' ' <"/proc/$pid2/cmdline")" "sleep 1000"; } || rc=1
    t 30 "${DOCKER[@]}" rm -f "$id" >/dev/null
    return $rc
}

# Hostname, workdir, env, a read-only bind mount and a tmpfs, all as docker writes them.
dock_config() {
    local vol=$T/docker/vol-$RT_NAME out
    mkdir -p "$vol" && echo from-host >"$vol/f"
    out=$(t 60 "${DRUN[@]}" --rm --hostname hx-$RT_NAME -w /tmp -e FOO=bar -v "$vol:/data:ro" \
        --tmpfs /scratch:size=1m --read-only "$IMG" \
        sh -c 'hostname; pwd; echo $FOO; cat /data/f; touch /data/g 2>/dev/null || echo data-ro;
               touch /x 2>/dev/null || echo root-ro; echo t >/scratch/t && echo scratch-rw') || {
        echo "docker run failed: $out"; return 1; }
    echo "$out"
    expect_eq "hostname, cwd, env, bind, ro bind, ro root, tmpfs" "$(echo $out)" \
        "hx-$RT_NAME /tmp bar from-host data-ro root-ro scratch-rw"
}

# --init bind-mounts docker-init (tini) into the container as its pid 1.
dock_init() {
    local out
    out=$(t 60 "${DRUN[@]}" --rm --init "$IMG" sh -c 'cat /proc/1/cmdline | tr "\0" " "; echo; echo $$') || {
        echo "docker run --init failed: $out"; return 1; }
    echo "$out"
    expect_has "pid 1" "$(echo "$out" | sed -n 1p)" "docker-init" || return 1
    [ "$(echo "$out" | sed -n 2p)" != 1 ] || { echo "FAIL: sh is pid 1 despite --init"; return 1; }
}

dock_tty() {
    local out
    out=$(t 60 script -qec "${DRUN[*]} -it --rm $IMG sh -c 'tty; echo tty-done'" /dev/null < <(sleep 3)) || {
        echo "failed ($?): $out"; return 1; }
    out=$(printf '%s' "$out" | tr -d '\r')
    echo "$out"
    expect_has "tty output" "$out" /dev/pts/ || return 1
    expect_has "tty output" "$out" tty-done
}

# --pid host and --network host: no new pid or net namespace.
dock_host_namespaces() {
    local out
    out=$(t 60 "${DOCKER[@]}" run --runtime "$DOCKER_RT" --rm --pid host --network host "$IMG" \
        sh -c 'readlink /proc/self/ns/pid; readlink /proc/self/ns/net') || { echo "docker run failed: $out"; return 1; }
    expect_eq "pid and net namespaces" "$(echo $out)" "$(readlink /proc/self/ns/pid /proc/self/ns/net | xargs)"
}

dock_exec() {
    local id=$RT_NAME-dx out
    t 60 "${DRUN[@]}" -d --name "$id" "$IMG" sleep 1000 || { echo "docker run -d failed"; return 1; }
    out=$(t 30 "${DOCKER[@]}" exec "$id" echo hi-from-exec); local rc=$?
    t 30 "${DOCKER[@]}" rm -f "$id" >/dev/null
    [ $rc = 0 ] || { echo "docker exec failed ($rc): $out"; return 1; }
    expect_eq "exec output" "$out" hi-from-exec
}

dock_exec_tty() {
    local id=$RT_NAME-dxt out rc=0
    t 60 "${DRUN[@]}" -d --name "$id" "$IMG" sleep 1000 >/dev/null || { echo "docker run -d failed"; return 1; }
    out=$(t 60 script -qec "${DOCKER[*]} exec -it $id sh -c 'tty; exit 4'" /dev/null < <(sleep 3)) || rc=$?
    t 30 "${DOCKER[@]}" rm -f "$id" >/dev/null
    out=$(printf '%s' "$out" | tr -d '\r')
    echo "$out"
    expect_has "exec -it output" "$out" /dev/pts/ || return 1
    expect_eq "exec -it exit status" "$rc" 4
}

docker_checks() {
    docker_set_rt
    check docker run-echo -- dock_run_echo
    check docker exit-code -- dock_exit_code
    check docker missing-binary -- dock_missing_binary
    check docker not-executable -- dock_not_executable
    check docker run-d-stop -- dock_run_d_stop
    check docker memory -- dock_memory
    check docker top -- dock_top
    check docker pause-unpause -- dock_pause_unpause
    check docker update-memory -- dock_update_memory
    check docker limits -- dock_limits
    check docker restart -- dock_restart
    check docker config -- dock_config
    check docker init -- dock_init
    check docker tty -- dock_tty
    check docker host-namespaces -- dock_host_namespaces
    check docker exec -- dock_exec
    check docker exec-tty -- dock_exec_tty
}

docker_cleanup() {
    docker_set_rt; local c; for c in $(D ps -aq); do t 30 "${DOCKER[@]}" rm -f "$c"; done; }
