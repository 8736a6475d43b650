//! Thin `unsafe` syscall wrappers, each with a `// SAFETY:` line.
