//! Integration tests: run the real `hull` binary as root on real bundles and check the
//! effects from outside and inside the container. Each test uses its own `--root`, unique
//! container ids and cleans up in `Drop`, even when it fails.

mod common;

mod bind_flags;
mod bpf_devices;
mod cgroup_ops;
mod cgroups;
mod checkpoint;
mod cli_surface;
mod container_setup;
mod cve;
mod cve_exe;
mod dbus_wire;
mod engines;
mod exec;
mod fake_systemd;
mod faults;
mod host_state;
mod idmapped_mounts;
mod lifecycle;
mod load;
mod process_setup;
mod random_kill;
mod reliability;
mod rootfs_setup;
mod rootless;
mod seccomp;
mod seccomp_container;
mod shared_volume;
mod shim;
mod spec_cmd;
mod spec_complete;
mod spec_fixtures;
mod state_store;
mod systemd_driver;
mod systemd_manager;
mod terminal;
