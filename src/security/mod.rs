//! Process security applied by the container init just before execve: rlimits, identity
//! (uid/gid/groups/umask), capability sets and no_new_privs.

pub(crate) mod capabilities;
pub(crate) mod identity;
pub(crate) mod lsm;
pub(crate) mod mempolicy;
pub(crate) mod rlimits;
pub(crate) mod sched;
pub mod seccomp;
