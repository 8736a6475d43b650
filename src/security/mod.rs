//! Process security applied by the container init just before execve: rlimits, identity
//! (uid/gid/groups/umask), capability sets and no_new_privs.

pub mod capabilities;
pub mod identity;
pub mod lsm;
pub mod mempolicy;
pub mod rlimits;
pub mod sched;
pub mod seccomp;
