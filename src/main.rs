//! The `hull` binary: parse the command line, run the subcommand, map errors to exit 1.

fn main() {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let prog = hull::program_name(&args);
    let cli = match hull::cli::Cli::parse_from(args) {
        Ok(c) => c,
        // Usage errors exit 1 as in runc; --help exits 0.
        Err(e) => {
            let code = if e.use_stderr() { 1 } else { 0 };
            match hull::cli::unknown_command(&e, &prog) {
                Some(msg) => eprintln!("{msg}"),
                None => {
                    let _ = e.print();
                }
            }
            std::process::exit(code);
        }
    };
    if cli.top.version {
        hull::cli::print(&hull::cli::version_text(&prog));
        return;
    }
    let mut g = cli.top.global;
    if let Err(e) = hull::logging::init(g.log.as_deref(), g.log_format, g.debug) {
        eprintln!("hull: {e:#}");
        std::process::exit(1);
    }
    if let Err(e) = g.resolve() {
        hull::logging::error(&format!("{e:#}"));
        std::process::exit(1);
    }
    let Some(cmd) = cli.command else {
        eprintln!("hull: no command given; see `hull --help`");
        std::process::exit(1);
    };
    let failed_as = hull::cli::failure_prefix(&prog, &cmd);
    let code = match hull::cli::dispatch(&g, cmd) {
        Ok(code) => code,
        Err(e) => {
            match failed_as {
                Some(p) => hull::logging::error_named(&format!("{p}: {e:#}")),
                None => hull::logging::error(&format!("{e:#}")),
            }
            1
        }
    };
    std::process::exit(code);
}
