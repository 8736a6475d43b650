//! `hull list`: runc's table, `--format json`, or ids only with `-q`.

use clap::Args;

use super::Global;

#[derive(Args, Debug, Clone)]
pub struct ListArgs {
    /// Output format: table or json
    #[arg(short = 'f', long, default_value = "table")]
    pub format: String,
    /// Display only container ids
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

pub fn run(g: &Global, a: ListArgs) -> anyhow::Result<i32> {
    // As runc: the default root may not exist yet (nothing was ever created: an empty
    // list), but a --root that names no directory is most likely a typo.
    if g.root_arg.is_some() {
        if let Err(e) = std::fs::metadata(&g.root) {
            anyhow::bail!(
                "--root {}: {}: pass the state directory the containers were created with",
                g.root.display(),
                e.raw_os_error()
                    .map_or(e.to_string(), |n| nix::errno::Errno::from_raw(n)
                        .desc()
                        .to_string())
            );
        }
    }
    let states = crate::container::list(&g.rt)?;
    let mut out = String::new();
    if a.quiet {
        for s in &states {
            out.push_str(&s.id);
            out.push('\n');
        }
    } else {
        match a.format.as_str() {
            "json" => {
                out = serde_json::to_string(&states)?;
                if states.is_empty() {
                    out = "null".into();
                }
                out.push('\n');
            }
            "table" => out = crate::container::list_table(&states),
            other => anyhow::bail!("invalid format option {other:?}: use table or json"),
        }
    }
    super::print(&out);
    Ok(0)
}
