//! Command-line surface, shaped like runc's: the same global flags, subcommands, flags and
//! argument names, so callers written for runc (containerd, conmon, scripts) work unchanged.
//! Each subcommand lives in its own file and returns the process exit code.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::logging::Format;
use crate::NAME;

/// `CriuFlags` from the criu flags `checkpoint` and `restore` both declare, under the same
/// names (each command keeps them where runc's `--help` lists them, so no shared struct).
macro_rules! criu_flags {
    ($a:expr) => {
        crate::container::CriuFlags {
            tcp_established: $a.tcp_established,
            ext_unix_sk: $a.ext_unix_sk,
            shell_job: $a.shell_job,
            file_locks: $a.file_locks,
            lazy_pages: $a.lazy_pages,
            manage_cgroups_mode: $a.manage_cgroups_mode,
            empty_ns: $a.empty_ns,
            auto_dedup: $a.auto_dedup,
        }
    };
}

mod attach;
mod checkpoint;
mod create;
mod delete;
mod events;
mod exec;
mod features;
mod kill;
mod list;
mod pause;
mod pidfd;
mod ps;
mod restore;
mod run;
mod spec;
mod start;
mod state;
mod update;
mod wait;

#[derive(Parser, Debug)]
#[command(name = NAME)]
pub struct Cli {
    #[command(flatten)]
    pub top: Top,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The command line without its subcommands: the global flags and --version.
#[derive(Args, Debug)]
#[command(
    about = "hull: an OCI low-level container runtime (runc-compatible)",
    disable_version_flag = true
)]
pub struct Top {
    #[command(flatten)]
    pub global: Global,
    /// Print the version
    #[arg(short = 'v', long = "version", global = false)]
    pub version: bool,
}

impl Cli {
    /// Parse `args` (argv, program name first). clap copies every global flag into every
    /// subcommand when it builds the command (7 flags x 17 subcommands: ~0.2 ms and 24 page
    /// faults of each hull process), so the command is built with only the subcommand the
    /// arguments name, found by skipping the global flags and their values the way the
    /// definition says; with none named (help, a typo) it is the whole command. Either way
    /// the same definitions parse, so the result is the same (see the tests).
    pub fn parse_from(args: Vec<std::ffi::OsString>) -> Result<Cli, clap::Error> {
        use clap::{CommandFactory, FromArgMatches};
        let full = Cli::command();
        let cmd = match invoked(&full, &args) {
            Some(sub) => Top::augment_args(clap::Command::new(NAME)).subcommand(sub),
            None => full,
        };
        let prog = crate::program_name(&args);
        let args = go_runc_spelling(args);
        Cli::from_arg_matches(&runc_style(cmd, &prog).try_get_matches_from(args)?)
    }
}

/// containerd's runc shim (go-runc) writes one flag of `restore` with a single dash,
/// `-no-subreaper`, which runc's flag parser reads as `--no-subreaper`: so does hull.
fn go_runc_spelling(mut args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    if args.iter().any(|a| a == "restore") {
        for a in args.iter_mut().filter(|a| *a == "-no-subreaper") {
            *a = "--no-subreaper".into();
        }
    }
    args
}

/// How a failed `run` or `create` begins its error, as runc's: `NAME run failed`
/// (callers and runc's tests match `runc run failed: unable to start container process`).
pub fn failure_prefix(prog: &str, cmd: &Command) -> Option<String> {
    match cmd {
        Command::Run(_) => Some(format!("{prog} run failed")),
        Command::Create(_) => Some(format!("{prog} create failed")),
        _ => None,
    }
}

/// The message for a command line naming no known command (`hull foo`, `hull foo -h`,
/// `hull help foo`): runc's words first, for callers that match them, then what to do.
pub fn unknown_command(e: &clap::Error, prog: &str) -> Option<String> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if e.kind() != ErrorKind::InvalidSubcommand {
        return None;
    }
    let Some(ContextValue::String(name)) = e.get(ContextKind::InvalidSubcommand) else {
        return None;
    };
    Some(format!(
        "{prog}: No help topic for '{name}': it is not a {prog} command; see `{prog} --help`"
    ))
}

/// Help laid out as runc's (urfave/cli): a `NAME:` header, then `PROG - what it is` on the
/// next line, for the top level and for every subcommand (`PROG create - Create a container`).
fn runc_style(cmd: clap::Command, prog: &str) -> clap::Command {
    let top = format!(
        "NAME:\n   {prog} - Open Container Initiative runtime\n\n\
         {prog} is hull, a runc-compatible command line client for running applications\n\
         packaged according to the Open Container Initiative (OCI) format.\n\n\
         USAGE:\n   {{usage}}\n\nCOMMANDS:\n{{subcommands}}\n\nGLOBAL OPTIONS:\n{{options}}\n"
    );
    cmd.bin_name(prog)
        .help_template(top)
        .mut_subcommands(|sub| {
            let t = format!(
                "NAME:\n   {prog} {} - {{about}}\n\nUSAGE:\n   {{usage}}\n\n{{all-args}}\n",
                sub.get_name()
            );
            sub.help_template(t)
        })
}

/// The subcommand `args` invoke: the first argument that is neither a flag nor a global
/// flag's value, if it names one of `full`'s subcommands.
fn invoked(full: &clap::Command, args: &[std::ffi::OsString]) -> Option<clap::Command> {
    let mut rest = args.iter().skip(1);
    while let Some(a) = rest.next() {
        let a = a.to_str()?;
        if a == "--" {
            return None;
        }
        if let Some(long) = a.strip_prefix("--") {
            if long.contains('=') {
                continue;
            }
            let flag = full.get_arguments().find(|f| f.get_long() == Some(long))?;
            if flag.get_action().takes_values() {
                rest.next();
            }
            continue;
        }
        if a.starts_with('-') {
            // Short flags at the top level take no value (-v, -h).
            continue;
        }
        return full.find_subcommand(a).cloned();
    }
    None
}

/// Flags that come before the subcommand, as with runc.
#[derive(Args, Debug, Clone)]
pub struct Global {
    /// Root directory for storage of container state (should be on tmpfs) [default:
    /// /run/hull, or $XDG_RUNTIME_DIR/hull when rootless]
    #[arg(long = "root", global = true, value_name = "ROOT")]
    pub root_arg: Option<PathBuf>,
    /// The state root in effect (set by `resolve`).
    #[arg(skip)]
    pub root: PathBuf,
    /// What the library gets of these flags (set by `resolve`).
    #[arg(skip)]
    pub rt: crate::runtime::Runtime,
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
    /// Path to the criu binary used by checkpoint and restore
    #[arg(long, default_value = "criu", global = true)]
    pub criu: String,
}

impl Global {
    /// Fill in what depends on who runs hull: the state root, and the library's context.
    pub fn resolve(&mut self) -> anyhow::Result<()> {
        self.root = match &self.root_arg {
            Some(r) => r.clone(),
            None => default_root()?,
        };
        self.rt = crate::runtime::Runtime {
            root: self.root.clone(),
            systemd_cgroup: self.systemd_cgroup,
            rootless: self.rootless.parse()?,
            criu: PathBuf::from(&self.criu),
        };
        Ok(())
    }
}

/// `/run/hull`, or `$XDG_RUNTIME_DIR/hull` where runc would use `$XDG_RUNTIME_DIR/runc`.
fn default_root() -> anyhow::Result<PathBuf> {
    let xdg = std::env::var_os("XDG_RUNTIME_DIR").filter(|v| !v.is_empty());
    let euid_root = nix::unistd::geteuid().is_root();
    let user = std::env::var("USER").ok();
    if crate::rootless::honors_xdg_runtime_dir(xdg.is_some(), euid_root, user.as_deref()) {
        return Ok(PathBuf::from(xdg.expect("checked")).join("hull"));
    }
    if euid_root {
        return Ok(PathBuf::from("/run/hull"));
    }
    anyhow::bail!("not running as root and $XDG_RUNTIME_DIR is not set: pass --root DIR")
}

// Each subcommand's arguments are built only when it is the one invoked (`defer`): building
// all 17 with their flags cost every hull process ~0.25 ms and 60 page faults at start.
// (Plain comments: a doc comment here would become the top-level about text.)
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
    /// Checkpoint a running container with criu
    Checkpoint(checkpoint::CheckpointArgs),
    /// Restore a container from a checkpoint with criu
    Restore(restore::RestoreArgs),
    /// Attach to a container run by hull-shim (detach with ctrl-p ctrl-q)
    Attach(attach::AttachArgs),
    /// Wait for a container run by hull-shim to exit; print and return its exit code
    Wait(wait::WaitArgs),
}

/// The first line is parsed by callers (podman) as `NAME version X.Y.Z`; then `commit:`
/// (the git commit given as HULL_COMMIT at build time) and `spec:`, as runc prints them.
pub fn version_text(prog: &str) -> String {
    format!(
        "{prog} version {}\ncommit: {}\nspec: {}\n",
        crate::VERSION,
        option_env!("HULL_COMMIT").unwrap_or("unknown"),
        crate::OCI_VERSION
    )
}

/// Run the parsed command; returns the exit code.
pub fn dispatch(g: &Global, cmd: Command) -> anyhow::Result<i32> {
    // Commands that put a process into a container re-execute hull from a read-only view
    // of its binary first (CVE-2019-5736), before they connect to any socket or make
    // anything: what they open before it would be lost with the re-exec.
    // `run --shim` only starts hull-shim, found next to this binary, which runs `hull create`.
    let enters = match &cmd {
        Command::Run(a) => !a.shim,
        Command::Create(_) | Command::Exec(_) => true,
        _ => false,
    };
    if enters {
        crate::process::sealed_exe::ensure()?;
    }
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
        Command::Checkpoint(a) => checkpoint::run(g, a),
        Command::Restore(a) => restore::run(g, a),
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

    #[test]
    fn restore_takes_go_runcs_single_dash_no_subreaper() {
        let args = [
            "hull",
            "restore",
            "--detach",
            "-no-subreaper",
            "--bundle",
            "/b",
            "x",
        ];
        let cli = Cli::parse_from(args.iter().map(Into::into).collect()).unwrap();
        match cli.command {
            Some(Command::Restore(r)) => assert!(r.no_subreaper && r.detach),
            other => panic!("parsed as {other:?}"),
        }
    }

    /// Parsing with only the named subcommand built gives what the whole command gives:
    /// the same values, or the same error (kind and text).
    #[test]
    fn parsing_with_only_the_invoked_subcommand_built_matches_the_whole_command() {
        use clap::FromArgMatches;
        let cases: &[&[&str]] = &[
            &["--root", "/r", "run", "--bundle", "b", "-d", "id"],
            &["run", "--root", "/r", "--keep", "id"],
            &["--root", "state", "state", "x"],
            &["--root=/r", "--debug", "delete", "--force", "x"],
            &["--log", "/l", "--log-format", "json", "kill", "x", "KILL"],
            &[
                "--systemd-cgroup",
                "--rootless",
                "true",
                "create",
                "--pid-file",
                "p",
                "x",
            ],
            &["exec", "x", "--", "ls", "--root", "state"],
            &["exec", "-t", "x", "sh", "-c", "echo"],
            &["--version"],
            &["state"],
            &["state", "--bogus", "x"],
            &["bogus"],
            &["--root"],
            &["--bogus", "list"],
            &["help", "run"],
            &["run", "--help"],
            &[],
        ];
        for case in cases {
            let args: Vec<std::ffi::OsString> = std::iter::once("hull")
                .chain(case.iter().copied())
                .map(Into::into)
                .collect();
            let whole = runc_style(Cli::command(), "hull")
                .try_get_matches_from(args.clone())
                .and_then(|m| Cli::from_arg_matches(&m));
            let narrowed = Cli::parse_from(args);
            match (whole, narrowed) {
                (Ok(a), Ok(b)) => assert_eq!(format!("{a:?}"), format!("{b:?}"), "{case:?}"),
                (Err(a), Err(b)) => {
                    assert_eq!(a.kind(), b.kind(), "{case:?}");
                    assert_eq!(a.render().to_string(), b.render().to_string(), "{case:?}");
                }
                (a, b) => panic!("{case:?}: whole {a:?}, narrowed {b:?}"),
            }
        }
    }

    #[test]
    fn the_invoked_subcommand_is_found_past_global_flags_and_their_values() {
        let full = Cli::command();
        let name = |args: &[&str]| {
            let v: Vec<std::ffi::OsString> = std::iter::once("hull")
                .chain(args.iter().copied())
                .map(Into::into)
                .collect();
            invoked(&full, &v).map(|c| c.get_name().to_string())
        };
        assert_eq!(name(&["--root", "state", "list"]).as_deref(), Some("list"));
        assert_eq!(name(&["--debug", "start", "x"]).as_deref(), Some("start"));
        assert_eq!(name(&["--root=/r", "ps", "x"]).as_deref(), Some("ps"));
        assert_eq!(name(&["--", "run"]), None);
        assert_eq!(name(&["bogus", "run"]), None);
        assert_eq!(name(&["--unknown", "run"]), None);
    }

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
