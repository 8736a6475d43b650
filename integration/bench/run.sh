#!/usr/bin/env bash
# The benchmark: hull vs runc (and crun, when it can run here) side by side in one run.
#
#   bash integration/bench/run.sh            # build the shipping (static) hull, measure, print the table,
#                                            # write integration/bench/RESULTS.md
#   bash integration/bench/run.sh --quick    # fewer runs and containers, for trying changes
#
# Run as root. Everything it makes lives under /tmp/hull-bench-$$ (bundles, state roots) and the
# cgroup parent /hull-bench-$$ in every hierarchy; both are removed on exit, also on failure or
# Ctrl-C. It never asserts timings: it is a benchmark, not a test.
set -euo pipefail
cd "$(dirname "$0")/../.."

[ "$(id -u)" = 0 ] || { echo "integration/bench/run.sh: run as root" >&2; exit 1; }
[ -x /bin/busybox ] || { echo "integration/bench/run.sh: needs busybox-static (/bin/busybox)" >&2; exit 1; }

# The binary hull ships: release profile, statically linked (integration/build-static.sh).
bin=$(bash integration/build-static.sh)
tag="hull-bench-$$"
driver="$PWD/integration/bench/bench.py"
# The driver cleans up itself; this catches what a killed driver left behind (idempotent).
trap 'python3 "$driver" --cleanup-only --tag "$tag" --hull "$bin/hull"' EXIT

python3 "$driver" --tag "$tag" --hull "$bin/hull" \
    --results "$PWD/integration/bench/RESULTS.md" --command "bash integration/bench/run.sh${*:+ $*}" "$@"
