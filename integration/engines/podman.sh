# integration/engines/podman.sh: podman + conmon driving the runtime under test
# (sourced by run.sh). Owns: a private podman store (containers.conf, storage, run and
# tmp dirs under $T, file locks, file events), the image import, and the podman checks.

POD_CHECKS=(run-echo exit-code missing-binary not-executable run-d-stop-rm memory security userns tty pause-unpause top-ps exec exec-tty)

podman_start() {
    local d=$T/podman
    mkdir -p "$d"/{storage,run,tmp,networks}
    cat >"$d/containers.conf" <<EOF
[containers]
netns = "none"
# podman's rootful default is nofile/nproc 1048576, and conmon runs with nproc 32768;
# this host cannot raise a hard limit (no CAP_SYS_RESOURCE in the bounding set), so runc
# and hull would both refuse the container. Ask for limits below both.
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]
[network]
network_config_dir = "$d/networks"
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$d/events.log"
lock_type = "file"
tmp_dir = "$d/tmp"
static_dir = "$d/storage/libpod"
volume_path = "$d/storage/volumes"
EOF
    export CONTAINERS_CONF=$d/containers.conf
    # No storage.conf from the host.
    export CONTAINERS_STORAGE_CONF=$d/storage.conf
    printf '[storage]\ndriver = "overlay"\nrunroot = "%s"\ngraphroot = "%s"\n' \
        "$d/run" "$d/storage" >"$d/storage.conf"
    podman_set_rt
    local out
    out=$(t 60 "${PODMAN[@]}" import "$IMGDIR/rootfs.tar" "$IMG" 2>&1) || {
        echo "podman import failed: $out"; return 1; }
    P images --format '{{.Repository}}:{{.Tag}}' | grep -qx "$IMG" || {
        echo "podman import did not produce $IMG:"; P images; return 1; }
}

# PODMAN: podman on the private store with the runtime under test and its own root;
# PRUN: the same, `run` with no network and a cgroup parent named for this run.
podman_set_rt() {
    PODMAN=(podman --root "$T/podman/storage" --runroot "$T/podman/run" --tmpdir "$T/podman/tmp"
        --runtime "$RT_PATH" --runtime-flag "root=$T/rtroot/podman-$RT_NAME"
        --cgroup-manager cgroupfs --events-backend file --storage-driver overlay)
    PRUN=("${PODMAN[@]}" run --network none --cgroup-parent "/$TAG/podman")
}
P() { "${PODMAN[@]}" "$@"; }
pstate() { P inspect -f '{{.State.Status}}' "$1" 2>/dev/null; }

pod_run_echo() {
    local out; out=$(t 60 "${PRUN[@]}" --rm "$IMG" echo hi-from-podman) || { echo "podman run exited $?: $out"; return 1; }
    expect_eq "podman run output" "$out" hi-from-podman
}

pod_exit_code() {
    local rc=0; t 60 "${PRUN[@]}" --rm "$IMG" sh -c 'exit 3' || rc=$?
    expect_eq "podman run exit status" "$rc" 3
}

# podman maps the runtime's create error text to 127 (no such file) as with runc.
pod_missing_binary() {
    local out rc=0
    out=$(t 60 "${PRUN[@]}" --rm "$IMG" /no/such/binary 2>&1) || rc=$?
    echo "$out"
    expect_eq "podman exit status" "$rc" 127 || return 1
    expect_has "podman's error" "$out" /no/such/binary
}

# ... and "permission denied" to 126.
pod_not_executable() {
    local out rc=0
    out=$(t 60 "${PRUN[@]}" --rm "$IMG" /etc/passwd 2>&1) || rc=$?
    echo "$out"
    expect_eq "podman exit status" "$rc" 126
}

pod_run_d_stop_rm() {
    local id=$RT_NAME-pd
    t 60 "${PRUN[@]}" -d --name "$id" "$IMG" sleep 1000 || { echo "podman run -d failed"; return 1; }
    expect_eq "state after run -d" "$(pstate "$id")" running || return 1
    t 60 "${PODMAN[@]}" stop -t 1 "$id" || { echo "podman stop failed"; return 1; }
    expect_eq "state after stop" "$(pstate "$id")" exited || return 1
    expect_eq "exit code after stop" "$(P inspect -f '{{.State.ExitCode}}' "$id")" 137 || return 1
    t 60 "${PODMAN[@]}" rm "$id" || { echo "podman rm failed"; return 1; }
    ! P inspect "$id" >/dev/null 2>&1 || { echo "container still there after rm"; return 1; }
}

pod_memory() {
    local out
    out=$(t 60 "${PRUN[@]}" --rm --memory 64m "$IMG" cat /sys/fs/cgroup/memory/memory.limit_in_bytes) || {
        echo "podman run --memory failed: $out"; return 1; }
    expect_eq "limit seen in the container" "$out" 67108864
}

# An unprivileged user, no capabilities, a read-only root: the container must see all three.
pod_security() {
    local out
    out=$(t 60 "${PRUN[@]}" --rm --user 1000:1000 --cap-drop ALL --read-only "$IMG" \
        sh -c 'id -u; grep CapEff /proc/self/status; touch /x 2>&1 || echo ro-ok') || {
        echo "podman run failed: $out"; return 1; }
    echo "$out"
    expect_eq "uid" "$(echo "$out" | sed -n 1p)" 1000 || return 1
    expect_eq "CapEff" "$(echo "$out" | awk '/CapEff/ {print $2}')" 0000000000000000 || return 1
    expect_has "write to /" "$out" ro-ok
}

# A user namespace: podman chowns the image for the mapping, the runtime creates it.
pod_userns() {
    local out
    out=$(t 90 "${PRUN[@]}" --rm --uidmap 0:200000:65536 --gidmap 0:200000:65536 "$IMG" \
        sh -c 'cat /proc/self/uid_map /proc/self/gid_map; id -u; stat -c %u /bin/busybox') || {
        echo "podman run --uidmap failed: $out"; return 1; }
    echo "$out"
    expect_eq "uid_map gid_map uid owner" "$(echo $out)" "0 200000 65536 0 200000 65536 0 0"
}

pod_tty() {
    local out
    out=$(t 60 script -qec "${PRUN[*]} -it --rm $IMG sh -c 'tty; echo tty-done'" /dev/null < <(sleep 3)) || { echo "failed ($?): $out"; return 1; }
    out=$(printf '%s' "$out" | tr -d '\r')
    echo "$out"
    expect_has "tty output" "$out" /dev/pts/ || return 1
    expect_has "tty output" "$out" tty-done
}

pod_pause_unpause() {
    local id=$RT_NAME-pp
    t 60 "${PRUN[@]}" -d --name "$id" "$IMG" sleep 1000 || { echo "podman run -d failed"; return 1; }
    t 30 "${PODMAN[@]}" pause "$id" || { echo "podman pause failed"; return 1; }
    expect_eq "state after pause" "$(pstate "$id")" paused || return 1
    t 30 "${PODMAN[@]}" unpause "$id" || { echo "podman unpause failed"; return 1; }
    expect_eq "state after unpause" "$(pstate "$id")" running
}

pod_top_ps() {
    local id=$RT_NAME-pp out
    out=$(t 30 "${PODMAN[@]}" top "$id" args) || { echo "podman top failed: $out"; return 1; }
    echo "$out"
    expect_has "podman top" "$out" "sleep 1000" || return 1
    out=$(t 30 "${PODMAN[@]}" ps --format '{{.Names}} {{.Status}}')
    echo "$out"
    expect_has "podman ps" "$out" "$id Up"
}

pod_exec() {
    local out; out=$(t 30 "${PODMAN[@]}" exec "$RT_NAME-pp" echo hi-from-exec) || { echo "podman exec failed: $out"; return 1; }
    expect_eq "exec output" "$out" hi-from-exec
}

pod_exec_tty() {
    local out rc=0
    out=$(t 60 script -qec "${PODMAN[*]} exec -it $RT_NAME-pp sh -c 'tty; exit 4'" /dev/null < <(sleep 3)) || rc=$?
    out=$(printf '%s' "$out" | tr -d '\r')
    echo "$out"
    expect_has "exec -it output" "$out" /dev/pts/ || return 1
    expect_eq "exec -it exit status" "$rc" 4
}

podman_checks() {
    podman_set_rt
    check podman run-echo -- pod_run_echo
    check podman exit-code -- pod_exit_code
    check podman missing-binary -- pod_missing_binary
    check podman not-executable -- pod_not_executable
    check podman run-d-stop-rm -- pod_run_d_stop_rm
    check podman memory -- pod_memory
    check podman security -- pod_security
    check podman userns -- pod_userns
    check podman tty -- pod_tty
    check podman pause-unpause -- pod_pause_unpause
    check podman top-ps -- pod_top_ps
    check podman exec -- pod_exec
    check podman exec-tty -- pod_exec_tty
    t 60 "${PODMAN[@]}" rm -f -t 0 "$RT_NAME-pp" >/dev/null 2>&1
}

podman_cleanup() {
    podman_set_rt; t 60 "${PODMAN[@]}" rm -a -f -t 0; t 30 "${PODMAN[@]}" system prune -f; t 30 "${PODMAN[@]}" rmi -a -f; }
