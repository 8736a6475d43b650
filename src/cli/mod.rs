//! Command-line surface, shaped like runc's: the same global flags, subcommands, flags and
//! argument names, so callers written for runc (containerd, conmon, scripts) work unchanged.
//! Each subcommand lives in its own file and returns the process exit code.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::logging::Format;

mod attach;
mod create;
mod delete;
mod events;
mod exec;
mod features;
mod kill;
mod list;
mod pause;
mod ps;
mod run;
mod spec;
mod start;
mod state;
mod update;
mod wait;

#[derive(Parser, Debug)]
#[command(
    name = "hull",
    about = "hull: an OCI low-level container runtime (runc-compatible)",
    disable_version_flag = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    /// Print the version
    #[arg(short = 'v', long = "version", global = false)]
    pub version: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Flags that come before the subcommand, as with runc.
#[derive(Args, Debug, Clone)]
pub struct Global {
    /// Root directory for storage of container state (should be on tmpfs) [default:
    /// /run/hull, or $XDG_RUNTIME_DIR/hull when not run as root]
    #[arg(long = "root", global = true, value_name = "ROOT")]
    pub root_arg: Option<PathBuf>,
    /// The state root in effect (set by `resolve`).
    #[arg(skip)]
    pub root: PathBuf,
    /// Also write log lines to this file
    #[arg(long, global = true)]
    pub log: Option<PathBuf>,
    /// Log format for --log: text or json
    #[arg(long = "log-format", value_enum, default_value = "text", global = true)]
    pub log_format: Format,
    /// Enable debug logging
    #[arg(long, global = true)]
    pub debug: bool,
    /// Use systemd for cgroups (cgroupsPath "slice:prefix:name")
    #[arg(long = "systemd-cgroup", global = true)]
    pub systemd_cgroup: bool,
    /// Ignore cgroup permission errors: true, false or auto (before the subcommand only,
    /// as in runc; `spec --rootless` is a different flag)
    #[arg(long, default_value = "auto")]
    pub rootless: String,
    /// Path to criu (accepted for compatibility; checkpoint/restore is not supported)
    #[arg(long, default_value = "criu", global = true)]
    pub criu: String,
}

impl Global {
    /// Fill in what depends on who runs hull: the state root.
    pub fn resolve(&mut self) -> anyhow::Result<()> {
        self.root = match &self.root_arg {
            Some(r) => r.clone(),
            None if nix::unistd::geteuid().is_root() => PathBuf::from("/run/hull"),
            None => match std::env::var_os("XDG_RUNTIME_DIR").filter(|v| !v.is_empty()) {
                Some(x) => PathBuf::from(x).join("hull"),
                None => anyhow::bail!(
                    "not running as root and $XDG_RUNTIME_DIR is not set: pass --root DIR"
                ),
            },
        };
        Ok(())
    }

    /// Rootless mode (runc's --rootless): "auto" means hull is not running as root.
    pub fn rootless(&self) -> anyhow::Result<bool> {
        match self.rootless.as_str() {
            "true" => Ok(true),
            "false" => Ok(false),
            "auto" => Ok(!nix::unistd::geteuid().is_root()),
            other => anyhow::bail!("--rootless {other:?}: use true, false or auto"),
        }
    }
}

/// Each subcommand's arguments are built only when it is the one invoked (`defer`): building
/// all 17 with their flags cost every hull process ~0.25 ms and 60 page faults at start.
#[derive(Subcommand, Debug)]
#[command(defer = true)]
pub enum Command {
    /// Create a container
    Create(create::CreateArgs),
    /// Start the user process of a created container
    Start(start::StartArgs),
    /// Create and start a container
    Run(run::RunArgs),
    /// Output the state of a container
    State(state::StateArgs),
    /// Send a signal to the container's init (default SIGTERM)
    Kill(kill::KillArgs),
    /// Delete a container and every resource it holds
    Delete(delete::DeleteArgs),
    /// List containers under --root
    List(list::ListArgs),
    /// Execute a new process inside the container
    Exec(exec::ExecArgs),
    /// Display the processes running inside a container
    Ps(ps::PsArgs),
    /// Suspend all processes inside the container
    Pause(pause::PauseArgs),
    /// Resume all processes suspended by pause
    Resume(pause::PauseArgs),
    /// Update container resource constraints
    Update(update::UpdateArgs),
    /// Display container events and resource statistics
    Events(events::EventsArgs),
    /// Create a new specification file (config.json)
    Spec(spec::SpecArgs),
    /// Show the enabled features (runtime-spec features.md JSON)
    Features,
    /// Attach to a container run by hull-shim (detach with ctrl-p ctrl-q)
    Attach(attach::AttachArgs),
    /// Wait for a container run by hull-shim to exit; print and return its exit code
    Wait(wait::WaitArgs),
}

/// The first line is parsed by callers (podman) as `NAME version X.Y.Z`.
pub fn version_text() -> String {
    format!(
        "hull version {}\nspec: {}\n",
        crate::VERSION,
        crate::OCI_VERSION
    )
}

/// Run the parsed command; returns the exit code.
pub fn dispatch(g: &Global, cmd: Command) -> anyhow::Result<i32> {
    match cmd {
        Command::Create(a) => create::run(g, a),
        Command::Start(a) => start::run(g, a),
        Command::Run(a) => run::run(g, a),
        Command::State(a) => state::run(g, a),
        Command::Kill(a) => kill::run(g, a),
        Command::Delete(a) => delete::run(g, a),
        Command::List(a) => list::run(g, a),
        Command::Exec(a) => exec::run(g, a),
        Command::Ps(a) => ps::run(g, a),
        Command::Pause(a) => pause::run(g, a, true),
        Command::Resume(a) => pause::run(g, a, false),
        Command::Update(a) => update::run(g, a),
        Command::Events(a) => events::run(g, a),
        Command::Spec(a) => spec::run(g, a),
        Command::Features => features::run(g),
        Command::Attach(a) => attach::run(g, a),
        Command::Wait(a) => wait::run(g, a),
    }
}

/// Write command output to stdout. A reader that went away (`hull list | head`) is not
/// an error worth a panic: the output is simply cut.
pub fn print(s: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(s.as_bytes()).and_then(|_| out.flush());
}

/// The error for a subcommand whose behaviour has not landed: exit 1, never fake success.
pub fn not_implemented(what: &str) -> anyhow::Error {
    anyhow::anyhow!("{what} is not implemented in this version of hull")
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// clap's own consistency checks over every subcommand (deferred ones are built for it),
    /// and each keeps the about text of its variant, not that of a flattened flag struct.
    #[test]
    fn the_command_line_definition_is_consistent() {
        let mut cmd = Cli::command();
        cmd.build();
        cmd.clone().debug_assert();
        let about = |name: &str| {
            let mut sub = cmd.find_subcommand(name).unwrap().clone();
            sub.build();
            sub.get_about().map(|a| a.to_string()).unwrap_or_default()
        };
        assert_eq!(about("create"), "Create a container");
        assert_eq!(about("run"), "Create and start a container");
        for sub in cmd.get_subcommands() {
            assert!(sub.get_about().is_some(), "{} has no about", sub.get_name());
        }
    }
}
