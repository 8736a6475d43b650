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
