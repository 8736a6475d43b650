//! Thin `unsafe` syscall wrappers, each with a `// SAFETY:` line. Logic lives above them.

pub mod bpf;
pub mod clone;
pub mod exe;
pub mod fds;
pub mod mount_api;
pub mod netlink;
pub mod nsfs;
pub mod openat2;
pub mod pidfd;
pub mod poll;
pub mod prctl;
pub mod process_attrs;
pub mod pty;
pub mod sched;
pub mod scm;
pub mod signals;
pub mod stat;
