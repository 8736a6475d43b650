# Shared by both VM suites' guest scripts (integration/vm/guest-tests.sh under busybox sh,
# integration/vm/systemd/guest-tests.sh under bash): the counters, `eq`, `run_test` and the
# summary line the host-side verdict (integration/vm/verdict.sh) parses. POSIX sh.
P=0 F=0 X=0 S=0

# eq WHAT GOT WANT
eq() { [ "$2" = "$3" ] && return 0; WHY="$1 is '$2', want '$3'"; return 1; }

# run_test NAME FUNCTION [CONTAINER-ID...]: run, report, then `cleanup` each container id.
# FUNCTION sets WHY and returns non-zero on failure; WHY set on success means SKIP; XF set
# means a known gap (failure -> XFAIL, pass -> XPASS).
run_test() {
    local name=$1 fn=$2
    shift 2
    WHY="" XF=""
    if $fn; then
        if [ -n "$WHY" ]; then
            echo "RESULT SKIP $name: $WHY"; S=$((S + 1))
        elif [ -n "$XF" ]; then
            echo "RESULT XPASS $name: known gap now works: $XF (turn the XFAIL into a PASS)"
            P=$((P + 1))
        else
            echo "RESULT PASS $name"; P=$((P + 1))
        fi
    elif [ -n "$XF" ]; then
        echo "RESULT XFAIL $name: $WHY"; X=$((X + 1))
    else
        echo "RESULT FAIL $name: $WHY"; F=$((F + 1))
    fi
    for id in "$@"; do cleanup "$id"; done
}

# The last line of the guest's output.
summary() { echo "$P passed, $F failed ($X xfail, $S skipped)"; }
