//! `hull ps`: the processes of a container (table, or `--format json` host pids).

use clap::Args;

use super::Global;

#[derive(Args, Debug, Clone)]
pub struct PsArgs {
    /// Output format: table or json
    #[arg(short = 'f', long, default_value = "table")]
    pub format: String,
    /// Container id
    pub id: String,
    /// Arguments passed to ps(1) for the table format
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub ps_args: Vec<String>,
}

pub fn run(g: &Global, a: PsArgs) -> anyhow::Result<i32> {
    match a.format.as_str() {
        "json" => {
            let pids = crate::container::pids(&g.rt, &a.id)?;
            super::print(&format!("{}\n", serde_json::to_string(&pids)?));
        }
        "table" => super::print(&crate::container::ps_table(&g.rt, &a.id, &a.ps_args)?),
        other => anyhow::bail!("invalid format option {other:?}: use table or json"),
    }
    Ok(0)
}
