//! Process security: capabilities, rlimits, no_new_privs, user and groups, seccomp.

pub mod capabilities;
pub mod rlimits;
