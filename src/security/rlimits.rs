//! `process.rlimits`.
