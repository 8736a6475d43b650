//! Capability sets from `process.capabilities`.
