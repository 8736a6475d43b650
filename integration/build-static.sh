#!/usr/bin/env bash
# Build the binaries hull ships: hull, hull-shim and containerd-shim-hull-v2, release profile (fat LTO), statically
# linked (glibc with crt-static; hull needs no other C library), hull's and the containerd shim's
# hot code laid out first (integration/hot-text/). Prints the directory that holds the stripped
# binaries. Its own
# target dir keeps the RUSTFLAGS change from invalidating the other builds.
#
#   bash integration/build-static.sh      -> target/static/x86_64-unknown-linux-gnu/release/ship
#
# Next to ship/ stay the unstripped hull and shim and their link maps (hull.map,
# containerd-shim-hull-v2.map), which integration/hot-text/generate*.sh read.
set -euo pipefail
cd "$(dirname "$0")/.."
triple=x86_64-unknown-linux-gnu
rel="$PWD/target/static/$triple/release"
# --target keeps RUSTFLAGS off build scripts and proc-macros (which cannot be static).
# v0 mangling spells generic arguments out in symbol names (legacy mangling tells instances
# apart only by a hash), which is what lets hot-text.ld name one instance and not all of them.
export RUSTFLAGS="-C target-feature=+crt-static -C symbol-mangling-version=v0"
export CARGO_TARGET_DIR=target/static CARGO_PROFILE_RELEASE_STRIP=false
# The linker script goes in under a name that carries its content's hash: cargo reruns the
# link when the arguments change, and would not notice a changed file under the same name.
# -z pack-relative-relocs: the ~11,800 relative relocations of a static PIE as DT_RELR (3.6 KB
# instead of a 285 KB table that every start read and walked); glibc's static start-up applies
# them since 2.36 (bookworm). hull stays position-independent (ASLR). Measured: peak RSS of
# `run` 2.3 -> 1.9 MiB, `hull --version` 0.91x.
hot=integration/hot-text/hot-text.ld
mkdir -p "$rel"
ld="$rel/hot-text-$(sha256sum "$hot" | cut -c1-16).ld"
[ -e "$ld" ] || cp "$hot" "$ld"
cargo rustc --release --quiet --target $triple -p hull --bin hull -- \
    -C link-arg=-Wl,-T,"$ld" -C link-arg=-Wl,-Map,"$rel/hull.map" -C link-arg=-Wl,-z,pack-relative-relocs
# hot-text.ld names functions by their mangled names, which change with the code and the
# toolchain; a pattern that matches nothing is silently ignored by the linker. Say how much
# of the layout still applies (each pattern places at most a section or two), so a stale
# script shows up in every build, not only as a creeping RSS in the benchmark.
check_layout() { # SCRIPT MAP GENERATOR
    local patterns placed
    patterns=$(grep -c '^    \*' "$1")
    placed=$(awk 'NF>=5 && $5==".text.hot" {f=1; next}
        f && NF>=5 && $5 ~ /^\.[a-z]/ && $5 !~ /:\(/ {exit} f && /:\(/ {n++} END {print n+0}' "$2")
    echo "build-static.sh: ${1##*/} placed $placed input sections for its $patterns patterns" >&2
    if [ "$placed" -lt $((patterns * 9 / 10)) ]; then
        echo "build-static.sh: ${1##*/} looks stale: regenerate it (bash integration/hot-text/$3)" >&2
    fi
}
check_layout "$hot" "$rel/hull.map" generate.sh
cargo build --release --quiet --target $triple -p hull-shim --bins
# containerd's shim: static too (no libc.so mapped in every one of the per-pod shims), and
# linked at a fixed address (not PIE): its ~5,000 relative relocations would make .data.rel.ro
# (vtables, ~45 KiB) private dirty pages in every shim; unrelocated they stay clean pages of
# the file, shared by all shims. Measured with 10 shims: Pss 457 -> 421 KiB per shim. The shim's
# heap, stacks and mmaps stay randomized; hull itself stays PIE.
# Its start-up and serving code first, as hull's (integration/hot-text/generate-shim.sh): with
# one shim per pod, the text each one maps is what adds up.
shim_hot=integration/hot-text/shim-hot-text.ld
shim_ld=()
if [ -e "$shim_hot" ]; then
    shim_ld="$rel/shim-hot-text-$(sha256sum "$shim_hot" | cut -c1-16).ld"
    [ -e "$shim_ld" ] || cp "$shim_hot" "$shim_ld"
    shim_ld=(-C link-arg=-Wl,-T,"$shim_ld")
fi
cargo rustc --release --quiet --target $triple -p containerd-shim-hull-v2 --bin containerd-shim-hull-v2 -- \
    -C relocation-model=static "${shim_ld[@]}" -C link-arg=-Wl,-Map,"$rel/containerd-shim-hull-v2.map"
[ -e "$shim_hot" ] && check_layout "$shim_hot" "$rel/containerd-shim-hull-v2.map" generate-shim.sh
out="$rel/ship"
mkdir -p "$out"
for b in hull hull-shim containerd-shim-hull-v2; do
    strip -o "$out/.$b.tmp" "$rel/$b"
    mv "$out/.$b.tmp" "$out/$b"
    case "$(ldd "$out/$b" 2>&1 || true)" in
        *"not a dynamic executable"* | *"statically linked"*) ;;
        *) echo "build-static.sh: $out/$b is not static" >&2; exit 1 ;;
    esac
done
# A glibc older than 2.36 links DT_RELR but does not apply it: the binary would crash at start.
"$out/hull" --version >/dev/null ||
    { echo "build-static.sh: $out/hull does not start (glibc older than 2.36 and DT_RELR?)" >&2; exit 1; }
echo "$out"
