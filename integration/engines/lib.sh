# integration/engines/lib.sh: helpers shared by the engine suite (sourced by run.sh).
# Owns: the bounded command runner, the check recorder and result table, and the
# cleanup of everything the suite started (processes by pid, mounts, cgroups, files).

# --- bounded commands -------------------------------------------------------------
# t SECONDS CMD...: run CMD with a hard time limit (TERM, then KILL 5 s later). CMD must
# be a program, not a shell function: engine commands are kept in arrays for this.
t() { local s=$1; shift; timeout -k 5 "$s" "$@"; }

# --- results ------------------------------------------------------------------------
# RESULTS[rt|engine|check] = PASS | FAIL | SKIP | PENDING ; ORDER keeps engine|check order.
declare -A RESULTS=()
declare -a ORDER=()
declare -A SEEN=()

record() { # record RT ENGINE CHECK VERDICT
    local key="$2|$3"
    RESULTS["$1|$key"]=$4
    if [ -z "${SEEN[$key]:-}" ]; then SEEN[$key]=1; ORDER+=("$key"); fi
}

# check ENGINE NAME [pending] -- FUNC ARGS...: run FUNC in a subshell, its output to a log.
# FUNC returns 0 (pass), 77 (skip, with a reason on its last line) or anything else (fail).
# A check marked "pending" (needs a hull feature being built elsewhere) that fails is
# recorded PENDING, not FAIL.
check() {
    local engine=$1 name=$2 pending=0
    shift 2
    if [ "$1" = pending ]; then pending=1; shift; fi
    [ "$1" = -- ] && shift
    local log="$LOGS/$RT_NAME.$engine.${name//[^A-Za-z0-9_.-]/_}.log" rc=0 t0=${EPOCHREALTIME/./}
    ( set +e; "$@" ) >"$log" 2>&1 || rc=$?
    local ms=$(( (${EPOCHREALTIME/./} - t0) / 1000 ))
    local verdict
    case $rc in
        0) verdict=PASS ;;
        77) verdict=SKIP ;;
        *) if [ $pending = 1 ]; then verdict=PENDING; else verdict=FAIL; fi ;;
    esac
    record "$RT_NAME" "$engine" "$name" "$verdict"
    printf '  %-8s %-15s %-34s %-8s %6d ms\n' "$RT_NAME" "$engine" "$name" "$verdict" "$ms"
    if [ "$verdict" != PASS ]; then
        { echo "--- [$RT_NAME] $engine / $name: $verdict (log ${log##*/})"; tail -n 15 "$log"; } >>"$DETAILS"
    fi
}

# skip_engine RT ENGINE REASON CHECK...: record every CHECK of ENGINE as SKIP.
skip_engine() {
    local rt=$1 engine=$2 reason=$3; shift 3
    local c
    for c in "$@"; do record "$rt" "$engine" "$c" SKIP; done
    echo "--- [$rt] $engine skipped: $reason" >>"$DETAILS"
}

# expect_eq WHAT GOT WANT: fail (return 1) with a message unless GOT == WANT.
expect_eq() {
    if [ "$2" = "$3" ]; then echo "ok: $1 = '$3'"; return 0; fi
    echo "FAIL: $1: got '$2', want '$3'"; return 1
}

# expect_has WHAT TEXT NEEDLE: fail unless TEXT contains NEEDLE.
expect_has() {
    case "$2" in *"$3"*) echo "ok: $1 contains '$3'"; return 0 ;; esac
    echo "FAIL: $1: '$3' not found in:"; printf '%s\n' "$2" | head -20; return 1
}

# wait_for SECONDS CMD...: poll CMD every 0.2 s until it succeeds or time runs out.
wait_for() {
    local end=$((SECONDS + $1)); shift
    until "$@" >/dev/null 2>&1; do
        [ $SECONDS -ge $end ] && return 1
        sleep 0.2
    done
}

print_table() {
    local rts=("$@") key rt line
    echo
    printf '%-15s %-34s' engine check
    for rt in "${rts[@]}"; do printf ' %-8s' "$rt"; done
    echo
    printf '%.0s-' {1..69}; echo
    for key in "${ORDER[@]}"; do
        printf '%-15s %-34s' "${key%%|*}" "${key#*|}"
        for rt in "${rts[@]}"; do printf ' %-8s' "${RESULTS[$rt|$key]:--}"; done
        echo
    done
    for rt in "${rts[@]}"; do
        local p=0 f=0 s=0 n=0
        for key in "${ORDER[@]}"; do
            case "${RESULTS[$rt|$key]:-}" in
                PASS) p=$((p+1)) ;; FAIL) f=$((f+1)) ;; SKIP) s=$((s+1)) ;; PENDING) n=$((n+1)) ;;
            esac
        done
        echo "$rt: $p pass, $f fail, $n pending, $s skip"
    done
}

# --- cleanup ------------------------------------------------------------------------
declare -a DAEMON_PIDS=()

# Pids of processes whose command line mentions the suite's private temp dir $T
# (daemons, shims, conmon): only processes this run started can name it.
pids_naming_tmp() {
    local p
    for p in /proc/[0-9]*; do
        [ "${p#/proc/}" = $$ ] && continue
        tr '\0' ' ' 2>/dev/null <"$p/cmdline" | grep -qF "$T/" && echo "${p#/proc/}"
    done
}

# Every cgroup directory this run made: named for $TAG on any mounted hierarchy, and the
# plain directories an engine's cgroup code makes for a controller this host does not mount
# (/sys/fs/cgroup is a tmpfs here: a mkdir of net_cls/X there succeeds and is no cgroup).
our_cgroups() {
    local m
    { awk '$9 == "cgroup" || $9 == "cgroup2" {print $5}' /proc/self/mountinfo
      find /sys/fs/cgroup -mindepth 1 -maxdepth 1 -type d 2>/dev/null; } | sort -u |
        while read -r m; do
            [ -d "$m/$TAG" ] && find "$m/$TAG" -depth -type d
        done
}

stop_pid() { # stop_pid PID: TERM, wait up to 10 s, then KILL.
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || return 0
    for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
}

cleanup() {
    set +e
    trap - EXIT INT TERM
    echo "== cleanup"
    [ -n "${KEEP_LOGS:-}" ] && mkdir -p "$KEEP_LOGS" && cp -r "$LOGS/." "$KEEP_LOGS/"
    [ -n "${ENGINE_CLEANUP:-}" ] && eval "$ENGINE_CLEANUP" >/dev/null 2>&1
    local pid cg
    for pid in "${DAEMON_PIDS[@]}"; do stop_pid "$pid"; done
    for pid in $(pids_naming_tmp); do stop_pid "$pid"; done
    # Container processes still alive in our cgroups (after a failed delete).
    for cg in $(our_cgroups); do
        [ -f "$cg/cgroup.procs" ] && for pid in $(cat "$cg/cgroup.procs"); do kill -KILL "$pid"; done
        [ -f "$cg/freezer.state" ] && echo THAWED >"$cg/freezer.state"
    done
    sleep 0.3
    # Mounts under $T, deepest first.
    awk -v t="$T/" 'index($5, t) == 1 {print $5}' /proc/self/mountinfo | sort -r |
        while read -r m; do umount "$m" 2>/dev/null || umount -l "$m"; done
    # conmon leaves files (tasks) in the plain directories on the tmpfs: those go whole.
    for cg in $(find /sys/fs/cgroup -mindepth 2 -maxdepth 2 -name "$TAG" -type d 2>/dev/null); do
        [ "$(stat -f -c %T "$cg")" = tmpfs ] && rm -rf "$cg"
    done
    for cg in $(our_cgroups); do rmdir "$cg" 2>/dev/null || echo "cleanup: cannot remove cgroup $cg"; done
    # Shim sockets containerd-shim-runc-v2 puts in /run/containerd/s (a fixed path).
    if [ "${RUN_CONTAINERD_EXISTED:-1}" = 0 ] && [ -d /run/containerd ]; then rm -rf /run/containerd; fi
    rm -rf "$T"
    local left
    left=$(pids_naming_tmp; our_cgroups; awk -v t="$T/" 'index($5, t) == 1' /proc/self/mountinfo)
    if [ -n "$left" ]; then echo "cleanup: LEFT BEHIND:"; echo "$left"; else echo "cleanup: nothing left behind"; fi
}
