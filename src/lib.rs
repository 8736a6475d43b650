//! hull: an OCI low-level container runtime, a drop-in for runc.
//!
//! Layers (see README "Design"): `cli` parses flags and maps errors to exit codes; `spec`
//! turns config.json into a validated `Plan`; `state` owns `ROOT/ID/`; `container` holds the
//! lifecycle operations; `process` is the create path (parent and child); `rootfs`,
//! `cgroups`, `security`, `namespaces`, `hooks` each own one concern; `sys` holds the thin
//! `unsafe` syscall wrappers.

// unsafe lives in sys/ only, each block with a SAFETY line (clippy checks that too).
#![deny(unsafe_code)]
#![deny(clippy::undocumented_unsafe_blocks)]

pub mod cgroups;
pub mod cli;
pub(crate) mod container;
pub(crate) mod criu;
pub mod dbus;
pub(crate) mod error_text;
pub(crate) mod fault;
pub(crate) mod hooks;
pub(crate) mod id;
pub(crate) mod kfile;
pub mod logging;
pub(crate) mod mountinfo;
pub(crate) mod namespaces;
pub(crate) mod netdev;
pub(crate) mod process;
pub(crate) mod procfs;
pub(crate) mod procinfo;
pub mod rootfs;
pub(crate) mod rootless;
pub(crate) mod runtime;
pub mod security;
pub(crate) mod signal;
pub mod spec;
pub mod state;
#[allow(unsafe_code)]
pub mod sys;
pub(crate) mod sysctl;

/// The program's own name (help, errors and logs say the name it was invoked as).
pub const NAME: &str = "hull";

/// The name hull was invoked as: `hull`, or `runc` through a link named so. Help,
/// `--version`, a failed run's error and the debug log say it, as runc's say `runc`, so a
/// caller that matches `NAME version`, `$(basename $RUNC) create` or `runc run failed` in
/// them finds what it looks for.
pub fn program_name(args: &[std::ffi::OsString]) -> String {
    args.first()
        .and_then(|a| std::path::Path::new(a).file_name())
        .and_then(|n| n.to_str())
        .filter(|n| !n.is_empty())
        .unwrap_or(NAME)
        .to_string()
}

/// Version printed by `hull --version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The runtime-spec version hull implements.
pub const OCI_VERSION: &str = "1.2.1";
