//! Thin `unsafe` syscall wrappers, each with a `// SAFETY:` line. Logic lives above them.

pub mod bpf;
pub(crate) mod clone;
pub(crate) mod exe;
pub(crate) mod fds;
pub(crate) mod mount_api;
pub(crate) mod netlink;
pub(crate) mod nsfs;
pub(crate) mod openat2;
pub mod pidfd;
pub(crate) mod poll;
pub(crate) mod prctl;
pub(crate) mod process_attrs;
pub(crate) mod pty;
pub(crate) mod sched;
pub mod scm;
pub(crate) mod signals;
pub(crate) mod stat;
