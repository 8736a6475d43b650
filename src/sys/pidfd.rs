//! pidfds: wait for a process that is not our child to exit, without pid-reuse races
//! (shared with hull-shim: hull_common::pidfd).

pub use hull_common::pidfd::{open, send_signal};
