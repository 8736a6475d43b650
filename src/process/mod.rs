//! The create path: the parent side (clone, sync, bookkeeping) and the child side (the
//! container init: namespaces, rootfs, process setup, wait for start, execve).
