//! What hull and hull-shim both need, in one place so the two never drift: the shim's exit
//! record (`exit.json`), the OOM kill counter of a memory cgroup, RFC 3339 timestamps, and
//! pidfds.

pub mod clock;
pub mod exit_record;
pub mod oom;
pub mod pidfd;
