# integration/engines/containerd-config.sh: the config.toml of a private containerd, shared by
# the engines suite (containerd.sh, on the host) and the systemd VM's guest-containerd.sh
# (copied into its payload). Sourced; defines one function.

# containerd_config ROOT STATE SOCKET OPT: the TOML on stdout. No CRI and no snapshotters the
# tests do not use; gRPC on SOCKET, ttrpc on SOCKET.ttrpc, no debug or metrics listener.
containerd_config() {
    cat <<EOF2
version = 2
root = "$1"
state = "$2"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.aufs"]
[grpc]
  address = "$3"
[ttrpc]
  address = "$3.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$4"
EOF2
}
