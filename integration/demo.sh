#!/usr/bin/env bash
# The main job: build hull, make a busybox bundle from Debian's busybox-static, and run a
# container in it. Run as root on a fresh Debian bookworm machine.
set -euo pipefail
cd "$(dirname "$0")/.."

[ "$(id -u)" = 0 ] || { echo "integration/demo.sh: run as root" >&2; exit 1; }
dpkg -s busybox-static >/dev/null 2>&1 || { apt-get update -qq; apt-get install -y -qq busybox-static; }

cargo build --release
hull="$PWD/target/release/hull"

bundle=$(mktemp -d /tmp/hull-demo.XXXXXX)
root=$(mktemp -d /tmp/hull-demo-root.XXXXXX)
trap 'rm -rf "$bundle" "$root"' EXIT
mkdir -p "$bundle/rootfs/bin" "$bundle/rootfs/proc" "$bundle/rootfs/sys" "$bundle/rootfs/dev"
cp /bin/busybox "$bundle/rootfs/bin/busybox"
for applet in $("$bundle/rootfs/bin/busybox" --list | grep -vx busybox); do
    ln -sf busybox "$bundle/rootfs/bin/$applet"
done

( cd "$bundle" && "$hull" spec )
# Not a terminal, and a command that shows the container from inside.
sed -i 's/"terminal": true/"terminal": false/' "$bundle/config.json"
sed -i 's|^\t\t\t"sh"$|\t\t\t"sh", "-c", "echo hello from a hull container; echo pid $$ on $(hostname); id; grep -E \\"^(Cap(Eff\|Bnd)\|NoNewPrivs)\\" /proc/self/status; cat /proc/self/cgroup \| head -3"|' "$bundle/config.json"

"$hull" --version
echo "--- hull run (bundle $bundle)"
"$hull" --root "$root" run --bundle "$bundle" "demo-$$"
echo "--- exit status $?"
