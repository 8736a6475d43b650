//! What the caller decided for every command (runc's global flags), as the library sees
//! it: the CLI builds one `Runtime` and passes it down; nothing below the CLI knows clap.

use std::path::PathBuf;

/// runc's `--rootless true|false|auto`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Rootless {
    #[default]
    Auto,
    Yes,
    No,
}

impl std::str::FromStr for Rootless {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> anyhow::Result<Rootless> {
        match s {
            "auto" => Ok(Rootless::Auto),
            "true" => Ok(Rootless::Yes),
            "false" => Ok(Rootless::No),
            other => anyhow::bail!("--rootless {other:?}: use true, false or auto"),
        }
    }
}

/// The runtime's context for one command.
#[derive(Debug, Clone, Default)]
pub struct Runtime {
    /// The state root (`--root`, or the default for who runs hull).
    pub root: PathBuf,
    /// `--systemd-cgroup`: cgroups through systemd.
    pub systemd_cgroup: bool,
    pub rootless: Rootless,
    /// `--criu`: the criu binary for checkpoint and restore (a path, or a name in PATH).
    pub criu: PathBuf,
}

impl Runtime {
    /// Whether cgroup permission errors are tolerated: `auto` means hull is not root, or
    /// root only inside a user namespace (rootless podman), as runc decides it.
    pub fn is_rootless(&self) -> bool {
        match self.rootless {
            Rootless::Yes => true,
            Rootless::No => false,
            Rootless::Auto => crate::rootless::auto_rootless(nix::unistd::geteuid().is_root()),
        }
    }

    /// The criu binary: `--criu`, or `criu` from PATH.
    pub fn criu_binary(&self) -> &std::path::Path {
        if self.criu.as_os_str().is_empty() {
            std::path::Path::new("criu")
        } else {
            &self.criu
        }
    }

    /// The store under the state root.
    pub fn store(&self) -> anyhow::Result<crate::state::Store> {
        crate::state::Store::open(&self.root)
    }
}
