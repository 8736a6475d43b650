//! `hull checkpoint` / `hull restore`: runc's criu commands. hull has no criu support; the
//! commands exist so that help lists them and `CMD -h` works as with runc, and so that a
//! caller that tries them gets a clear refusal instead of "unknown command".

use clap::Args;

use super::Global;

#[derive(Args, Debug, Clone)]
pub struct CriuArgs {
    /// runc's flags and the container id (accepted, then refused: no criu support)
    #[arg(
        value_name = "ARGS",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub args: Vec<String>,
}

pub fn run(_g: &Global, what: &str, _a: CriuArgs) -> anyhow::Result<i32> {
    anyhow::bail!(
        "{what} needs criu, which this version of hull does not support; \
         stop and re-create the container instead"
    )
}
