//! `forgesafe blueprint lint|render` and `forgesafe template render`: Kanister blueprints checked
//! and rendered without a cluster.

use crate::blueprint::{lint, model::Blueprint, render, template};
use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Subcommand};
use std::io::Read;
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct BlueprintArgs {
    #[command(subcommand)]
    command: BlueprintCommand,
}

#[derive(Subcommand)]
enum BlueprintCommand {
    /// Report every problem as file:line:col: message; exit non-zero if any.
    Lint {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// The kind of workload the actions are bound to (Deployment, StatefulSet, …).
        #[arg(long)]
        kind: Option<String>,
    },
    /// Print an action's phases with rendered objects and args, and its rendered outputArtifacts, as JSON.
    Render {
        file: PathBuf,
        #[arg(long)]
        action: String,
        /// Kanister's template parameters by their Go names, as JSON.
        #[arg(long)]
        context: Option<PathBuf>,
    },
}

#[derive(Args)]
pub struct TemplateArgs {
    #[command(subcommand)]
    command: TemplateCommand,
}

#[derive(Subcommand)]
enum TemplateCommand {
    /// Render one Go template read from stdin and print the result.
    Render {
        #[arg(long)]
        context: Option<PathBuf>,
    },
}

pub fn run_blueprint(args: BlueprintArgs) -> Result<()> {
    match args.command {
        BlueprintCommand::Lint { files, kind } => {
            let mut findings = 0;
            for file in &files {
                let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
                for finding in lint::lint(&file.display().to_string(), &text, kind.as_deref()) {
                    println!("{finding}");
                    findings += 1;
                }
            }
            if findings > 0 {
                bail!("{findings} problem(s) found in {} blueprint(s)", files.len());
            }
            tracing::info!(files = files.len(), "no problems found");
            Ok(())
        }
        BlueprintCommand::Render { file, action, context } => {
            let text = std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let blueprint = Blueprint::from_yaml(&text).map_err(|e| anyhow!("{}: {e:#} (run forgesafe blueprint lint for details)", file.display()))?;
            let rendered = render::render_action(&blueprint, &action, &load_context(context.as_deref())?)?;
            println!("{}", serde_json::to_string_pretty(&rendered)?);
            Ok(())
        }
    }
}

pub fn run_template(args: TemplateArgs) -> Result<()> {
    match args.command {
        TemplateCommand::Render { context } => {
            let mut text = String::new();
            std::io::stdin().read_to_string(&mut text).context("cannot read the template from stdin")?;
            let out = template::render(&text, &load_context(context.as_deref())?).map_err(|e| anyhow!("{e}"))?;
            print!("{out}");
            Ok(())
        }
    }
}

fn load_context(path: Option<&Path>) -> Result<serde_json::Value> {
    match path {
        None => Ok(serde_json::json!({})),
        Some(p) => {
            let text = std::fs::read_to_string(p).with_context(|| format!("cannot read the context {}", p.display()))?;
            serde_json::from_str(&text).map_err(|e| anyhow!("{}: not valid JSON ({e})", p.display()))
        }
    }
}
