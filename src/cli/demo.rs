//! `forgesafe demo`: the embedded default (see `crate::demo`).

use clap::Args;

#[derive(Args)]
pub struct DemoArgs {
    #[command(flatten)]
    options: crate::demo::DemoOptions,
}

pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    crate::demo::run(&args.options, &mut std::io::stdout().lock())
}
