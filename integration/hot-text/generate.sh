#!/usr/bin/env bash
# Regenerate integration/hot-text/hot-text.ld from what hull runs, then rebuild with it.
#
#   bash integration/hot-text/generate.sh     # as root; needs gcc, busybox-static, python3
#
# Builds the shipping static hull (its unstripped copy and link map are what gets traced),
# compiles bptrace.c, runs generate.py (scenarios under bptrace, cleans up after itself),
# rebuilds, and prints the size of .text.hot against all of .text.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ "$(id -u)" = 0 ] || { echo "generate.sh: run as root" >&2; exit 1; }
[ -x /bin/busybox ] || { echo "generate.sh: needs busybox-static (/bin/busybox)" >&2; exit 1; }
ship=$(bash integration/build-static.sh)
rel=$(dirname "$ship")
tmp=$(mktemp -d /tmp/hull-bptrace.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
gcc -O2 -Wall -o "$tmp/bptrace" integration/hot-text/bptrace.c
python3 integration/hot-text/generate.py --hull "$rel/hull" --map "$rel/hull.map" \
    --bptrace "$tmp/bptrace" --out integration/hot-text/hot-text.ld
bash integration/build-static.sh >/dev/null
# readelf's "[ 7]" and "[13]" split differently: drop the index column first.
readelf -SW "$rel/hull" | sed 's/^ *\[ *[0-9]*\]//' | while read -r name _ _ _ size _; do
    case $name in .text*) echo "$name $(( 0x$size / 1024 )) KiB" ;; esac
done
