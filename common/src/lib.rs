//! What hull and hull-shim both need, in one place so the two never drift: the shim's exit
//! record (`exit.json`), the OOM kill counter of a memory cgroup, RFC 3339 timestamps,
//! pidfds, and the sealed view of hull's binary that containers may reach.

pub mod clock;
pub mod exit_record;
pub mod oom;
pub mod pidfd;
pub mod sealed_view;
