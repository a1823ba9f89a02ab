//! `forgesafe output KEY VALUE`: byte-identical to `kando output`.

use clap::Args;

#[derive(Args)]
pub struct OutputArgs {
    key: String,
    value: String,
}

pub fn run(args: OutputArgs) -> anyhow::Result<()> {
    crate::phase_output::write_line(&mut std::io::stdout().lock(), &args.key, &args.value)
}
