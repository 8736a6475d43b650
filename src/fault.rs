//! Fault injection for crash-consistency tests: `point("NAME")` marks a place on a
//! multi-step path (the create path) where hull may die. Without the `fault-injection`
//! cargo feature it compiles to nothing. With it, when the environment variable
//! `HULL_FAULT` equals NAME, the process SIGKILLs itself there, exactly as an OOM kill or
//! a `kill -9` from a caller would, so tests can prove `delete --force` cleans up after
//! a create that died at that point.

/// The environment variable naming the point at which to die.
#[cfg(feature = "fault-injection")]
const ENV: &str = "HULL_FAULT";

/// Die here (SIGKILL to self) when `HULL_FAULT=name` and the feature is on.
#[cfg(feature = "fault-injection")]
#[inline(never)]
pub fn point(name: &str) {
    if std::env::var_os(ENV).is_some_and(|v| v == name) {
        // SIGKILL cannot be caught: this never returns.
        let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL);
    }
}

/// Compiled out: the feature is off.
#[cfg(not(feature = "fault-injection"))]
#[inline(always)]
pub fn point(_name: &str) {}

#[cfg(test)]
mod tests {
    #[test]
    fn point_with_another_name_returns() {
        super::point("a-point-nobody-sets");
    }
}
