# Sourced by both VM suites' run.sh (host side), after qemu wrote the serial log: the guest's
# result counts and the pass/fail verdict. Uses the caller's `say`.

# vm_results LOG: sets summary (the guest's last `N passed, M failed` line), results (RESULT
# lines) and fails (RESULT FAIL lines).
vm_results() {
    summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$1" | tail -n1 || true)
    results=$(grep -c '^RESULT ' "$1" || true)
    fails=$(grep -c '^RESULT FAIL ' "$1" || true)
}

# vm_verdict LOG: exit 1 unless the guest reported results, a summary, and no failure.
vm_verdict() {
    if [ "$results" = 0 ] || [ -z "$summary" ]; then
        say "FAILED: the guest reported no results or no summary (see $1)"
        tail -n 30 "$1" >&2
        exit 1
    fi
    if [ "$fails" != 0 ] || [ "${summary#* passed, 0 failed}" = "$summary" ]; then
        say "FAILED: $fails test(s) failed"
        exit 1
    fi
}
