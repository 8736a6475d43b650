//! Thin `unsafe` syscall wrappers, each with a `// SAFETY:` line.
pub mod mount_api;
pub mod openat2;
