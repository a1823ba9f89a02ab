//! `forgesafe blueprint lint|render|run` and `forgesafe template render`: arguments to one call
//! into `blueprint` each.

use crate::blueprint::commands::{self, LintOptions, RenderOptions, TemplateOptions};
use crate::blueprint::executor::tracing_sink;
use crate::blueprint::run::{self, RunOptions};
use anyhow::Result;
use clap::{Args, Subcommand};

#[derive(Args)]
pub struct BlueprintArgs {
    #[command(subcommand)]
    command: BlueprintCommand,
}

#[derive(Subcommand)]
enum BlueprintCommand {
    /// Report every problem as file:line:col: message; exit non-zero if any.
    Lint(LintOptions),
    /// Run an action: phases in order, deferPhase always, output artifacts printed as JSON.
    Run(RunOptions),
    /// Print an action's phases with rendered objects and args, and its rendered outputArtifacts, as JSON.
    Render(RenderOptions),
}

#[derive(Args)]
pub struct TemplateArgs {
    #[command(subcommand)]
    command: TemplateCommand,
}

#[derive(Subcommand)]
enum TemplateCommand {
    /// Render one Go template read from stdin and print the result.
    Render(TemplateOptions),
}

pub fn run_blueprint(args: BlueprintArgs) -> Result<()> {
    // Not locked for the whole command: threads of a run may write to stdout meanwhile.
    let out = &mut std::io::stdout();
    match args.command {
        BlueprintCommand::Lint(options) => commands::lint_files(&options, out),
        BlueprintCommand::Run(options) => run::run(&options, out, tracing_sink()).map(drop),
        BlueprintCommand::Render(options) => commands::render_file(&options, out),
    }
}

pub fn run_template(args: TemplateArgs) -> Result<()> {
    match args.command {
        TemplateCommand::Render(options) => commands::render_template(
            &options,
            &mut std::io::stdin().lock(),
            &mut std::io::stdout(),
        ),
    }
}
