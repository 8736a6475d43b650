# integration/engines/podman-rootless.sh: rootless podman (an unprivileged user the suite
# creates, with subordinate id ranges) driving the runtime under test (sourced by run.sh).
# podman runs the runtime as uid 0 inside its own user namespace, with XDG_RUNTIME_DIR set
# and no runtime flags beyond --runtime: the runtime must find its state root and its
# rootless cgroup handling by itself (conmon's cleanup command passes no flags either).
# Owns: the user, its home (storage, containers.conf) and runtime dir under $T/rl, and the
# rootless podman checks. The user and everything it owns are removed at cleanup.

PODRL_CHECKS=(run-echo exit-code detached-exec exec-tty stop-rm keep-id loopback logs-wait
    bind-owner rm-all-clean)

PODRL_USER=hullrl$$
PODRL_ETC=(subuid subgid subuid- subgid- passwd- group- shadow- gshadow-)

podman-rootless_start() {
    local d=$T/rl f
    # The user must reach its home under $T (0700 by mktemp).
    chmod 711 "$T"
    mkdir -p "$d"/{bin,xdg,tmp}
    # /etc files useradd may create on a fresh host: removed again at cleanup if it did.
    PODRL_ETC_NEW=()
    for f in "${PODRL_ETC[@]}"; do [ -e "/etc/$f" ] || PODRL_ETC_NEW+=("$f"); done
    useradd -d "$d/home" -m -s /bin/sh "$PODRL_USER" || { echo "useradd $PODRL_USER failed"; return 1; }
    PODRL_UID=$(id -u "$PODRL_USER")
    if ! grep -q "^$PODRL_USER:" /etc/subuid 2>/dev/null || ! grep -q "^$PODRL_USER:" /etc/subgid 2>/dev/null; then
        usermod --add-subuids 400000-465535 --add-subgids 400000-465535 "$PODRL_USER" ||
            { echo "cannot give $PODRL_USER subordinate ids"; return 1; }
    fi
    # Runtimes the user can execute (the checkout may sit below a directory it cannot enter).
    cp "$HULL" "$d/bin/hull"; cp "$RUNC" "$d/bin/runc"; cp "$IMGDIR/rootfs.tar" "$d/rootfs.tar"
    chmod 755 "$d/bin" "$d/bin/hull" "$d/bin/runc"; chmod 644 "$d/rootfs.tar"
    local conf=$d/home/.config/containers
    mkdir -p "$conf" "$d/home/vol"
    # /dev/net/tun is 0600 here: no slirp4netns, so no network at all.
    cat >"$conf/containers.conf" <<EOF
[containers]
netns = "none"
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
    printf '[storage]\ndriver = "overlay"\n' >"$conf/storage.conf"
    chown -R "$PODRL_USER:$PODRL_USER" "$d/home" "$d/xdg" "$d/tmp"
    chmod 700 "$d/xdg"
    local out
    podrl_env
    out=$(t 120 "${PODRL_AS[@]}" podman import "$d/rootfs.tar" "$IMG" 2>&1) || {
        echo "rootless podman import failed: $out"; return 1; }
}

# PODRL_AS CMD...: CMD as the rootless user, in a login-like environment of its own (an
# array, so that `t` can run it), in its home: the caller's directory may be one the user
# cannot enter (a clone under a 0700 mktemp directory), and podman re-executes itself there.
podrl_env() {
    PODRL_AS=(setpriv --reuid="$PODRL_UID" --regid="$PODRL_UID" --init-groups
        env -i -C "$T/rl/home" HOME="$T/rl/home" USER="$PODRL_USER" LOGNAME="$PODRL_USER"
        XDG_RUNTIME_DIR="$T/rl/xdg" TMPDIR="$T/rl/tmp" PATH=/usr/local/bin:/usr/bin:/bin)
}
# RLP: rootless podman with the runtime under test, given by path alone.
podman-rootless_set_rt() { podrl_env; RLP=("${PODRL_AS[@]}" podman --runtime "$T/rl/bin/$RT_NAME"); }
rlp() { "${RLP[@]}" "$@"; }
rlstate() { rlp inspect -f '{{.State.Status}}' "$1" 2>/dev/null; }

podrl_run_echo() {
    local out; out=$(t 60 "${RLP[@]}" run --rm "$IMG" echo hi-rootless) || { echo "run exited $?: $out"; return 1; }
    expect_eq "run output" "$out" hi-rootless
}

podrl_exit_code() {
    local rc=0; t 60 "${RLP[@]}" run --rm "$IMG" sh -c 'exit 3' || rc=$?
    expect_eq "run exit status" "$rc" 3
}

podrl_detached_exec() {
    local id=$RT_NAME-rld out rc=0
    t 60 "${RLP[@]}" run -d --name "$id" "$IMG" sleep 1000 || { echo "run -d failed"; return 1; }
    expect_eq "state after run -d" "$(rlstate "$id")" running || return 1
    out=$(t 30 "${RLP[@]}" exec "$id" sh -c 'echo exec-ok; exit 5') || rc=$?
    expect_eq "exec output" "$out" exec-ok || return 1
    expect_eq "exec exit status" "$rc" 5
}

# Interactive exec under a pty of our own: podman passes "terminal": true in the process
# file and a console socket (conmon's).
podrl_exec_tty() {
    local out rc=0
    out=$(t 60 script -qec "${RLP[*]} exec -it $RT_NAME-rld sh -c 'tty; exit 4'" /dev/null < <(sleep 3)) || rc=$?
    out=$(printf '%s' "$out" | tr -d '\r')
    echo "$out"
    expect_has "exec -it output" "$out" /dev/pts/ || return 1
    expect_eq "exec -it exit status" "$rc" 4
}

podrl_stop_rm() {
    local id=$RT_NAME-rld
    t 60 "${RLP[@]}" stop -t 1 "$id" || { echo "stop failed"; return 1; }
    expect_eq "state after stop" "$(rlstate "$id")" exited || return 1
    t 60 "${RLP[@]}" rm "$id" || { echo "rm failed"; return 1; }
    ! rlp inspect "$id" >/dev/null 2>&1 || { echo "container still there after rm"; return 1; }
}

podrl_keep_id() {
    local out; out=$(t 60 "${RLP[@]}" run --rm --userns=keep-id "$IMG" id -u) || { echo "run --userns=keep-id failed: $out"; return 1; }
    expect_eq "uid inside with keep-id" "$out" "$PODRL_UID"
}

# lo up, and a listener on it reached by a client in the same container.
podrl_loopback() {
    local out
    out=$(t 60 "${RLP[@]}" run --rm "$IMG" sh -c 'ip link show lo | head -1;
        nc -l -p 4321 | sed s/^/got=/ & sleep 0.3; echo hello-lo | nc -w 1 127.0.0.1 4321; wait') || {
        echo "run failed: $out"; return 1; }
    echo "$out"
    expect_has "lo" "$out" "<LOOPBACK,UP,LOWER_UP>" || return 1
    expect_has "listener" "$out" got=hello-lo
}

podrl_logs_wait() {
    local id=$RT_NAME-rll out
    t 60 "${RLP[@]}" run -d --name "$id" "$IMG" sh -c 'echo logged-line; exit 7' >/dev/null || { echo "run -d failed"; return 1; }
    out=$(t 30 "${RLP[@]}" wait "$id") || { echo "wait failed: $out"; return 1; }
    expect_eq "wait" "$out" 7 || return 1
    out=$(t 30 "${RLP[@]}" logs "$id") || { echo "logs failed: $out"; return 1; }
    expect_eq "logs" "$out" logged-line || return 1
    t 30 "${RLP[@]}" rm "$id" >/dev/null
}

podrl_bind_owner() {
    local f=$T/rl/home/vol/made-$RT_NAME
    t 60 "${RLP[@]}" run --rm -v "$T/rl/home/vol:/vol" "$IMG" touch "/vol/made-$RT_NAME" || { echo "run failed"; return 1; }
    expect_eq "owner of the file on the host" "$(stat -c %u "$f" 2>&1)" "$PODRL_UID"
}

# The user's processes other than podman's own pause process (it holds the user
# namespace between podman commands, by design).
podrl_procs() { pgrep -u "$PODRL_UID" -a | grep -v 'catatonit\|podman pause' ; }
podrl_no_procs() { [ -z "$(podrl_procs)" ]; }

podrl_rm_all_clean() {
    t 60 "${RLP[@]}" run -d "$IMG" sleep 1000 >/dev/null || { echo "run -d failed"; return 1; }
    t 60 "${RLP[@]}" run -d "$IMG" sleep 1000 >/dev/null || { echo "run -d failed"; return 1; }
    t 60 "${RLP[@]}" rm -a -f -t 0 || { echo "rm -a -f failed"; return 1; }
    wait_for 15 podrl_no_procs || { echo "processes left:"; podrl_procs; return 1; }
    echo "ok: no container, conmon or runtime process of the user left"
    local state; state=$(ls -A "$T/rl/xdg/$RT_NAME" 2>/dev/null)
    expect_eq "entries left in \$XDG_RUNTIME_DIR/$RT_NAME" "$state" "" || return 1
    local socks; socks=$(find /tmp -maxdepth 1 -name 'conmon-term.*' -user "$PODRL_UID" 2>/dev/null)
    expect_eq "conmon sockets left" "$socks" ""
}

podman-rootless_checks() {
    podman-rootless_set_rt
    check podman-rootless run-echo -- podrl_run_echo
    check podman-rootless exit-code -- podrl_exit_code
    check podman-rootless detached-exec -- podrl_detached_exec
    check podman-rootless exec-tty -- podrl_exec_tty
    check podman-rootless stop-rm -- podrl_stop_rm
    check podman-rootless keep-id -- podrl_keep_id
    check podman-rootless loopback -- podrl_loopback
    check podman-rootless logs-wait -- podrl_logs_wait
    check podman-rootless bind-owner -- podrl_bind_owner
    check podman-rootless rm-all-clean -- podrl_rm_all_clean
    t 60 "${RLP[@]}" rm -a -f -t 0 >/dev/null 2>&1
}

# Everything the user ran or owns goes, then the user.
podman-rootless_cleanup() {
    [ -n "${PODRL_UID:-}" ] || return 0
    RT_NAME=runc podman-rootless_set_rt
    t 60 "${RLP[@]}" rm -a -f -t 0
    t 60 "${RLP[@]}" system reset -f
    pkill -KILL -u "$PODRL_UID"
    local i; for i in $(seq 50); do pgrep -u "$PODRL_UID" >/dev/null || break; sleep 0.1; done
    find /tmp -maxdepth 1 -name 'conmon-term.*' -user "$PODRL_UID" -delete
    rm -f "/dev/shm/libpod_rootless_lock_$PODRL_UID"
    userdel -r "$PODRL_USER" 2>/dev/null || userdel "$PODRL_USER"
    local f; for f in "${PODRL_ETC_NEW[@]}"; do
        # Only files our useradd created and that hold nothing else now.
        [ -e "/etc/$f" ] && ! [ -s "/etc/$f" ] && rm -f "/etc/$f"
        [ -e "/etc/$f" ] && [ "${f%-}" != "$f" ] && rm -f "/etc/$f"
    done
    rm -rf "$T/rl"
}
