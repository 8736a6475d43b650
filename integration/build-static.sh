#!/usr/bin/env bash
# Build the binaries hull ships: hull and hull-shim, release profile (fat LTO), statically
# linked (glibc with crt-static; hull needs no other C library). Prints the directory that
# holds them. Its own target dir keeps the RUSTFLAGS change from invalidating the other builds.
#
#   bash integration/build-static.sh      -> target/static/x86_64-unknown-linux-gnu/release
set -euo pipefail
cd "$(dirname "$0")/.."
triple=x86_64-unknown-linux-gnu
# --target keeps RUSTFLAGS off build scripts and proc-macros (which cannot be static).
RUSTFLAGS="-C target-feature=+crt-static" CARGO_TARGET_DIR=target/static \
    cargo build --release --quiet --target $triple --workspace --bins
out="$PWD/target/static/$triple/release"
for b in hull hull-shim; do
    case "$(ldd "$out/$b" 2>&1 || true)" in
        *"not a dynamic executable"* | *"statically linked"*) ;;
        *) echo "build-static.sh: $out/$b is not static" >&2; exit 1 ;;
    esac
done
echo "$out"
