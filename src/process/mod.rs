//! The create path. The parent side (`spawn`) prepares everything that can fail for a
//! boring reason, clones the init into its namespaces with one `clone3`, maps ids, places
//! it in its cgroups and answers its requests; the child side (`init`) performs syscalls in
//! a fixed order, reports `Created`, blocks on the exec fifo until `start`, then execve's.
//! `exec` (parent) and `exec_child` run an extra process in an existing container: the
//! process is built by `exec_process`, the init's namespaces opened by `exec_join`.

pub mod attached;
pub mod child;
pub mod console;
pub mod exec;
mod exec_child;
pub mod exec_fifo;
pub mod exec_join;
pub mod exec_process;
pub mod idmap;
pub mod init;
pub mod lookup;
mod mount_source;
pub mod sealed_exe;
pub mod setup;
pub mod spawn;
pub mod sync;
