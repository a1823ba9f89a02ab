//! `blueprint lint`, `blueprint render` and `template render`: blueprints checked and rendered
//! without a cluster. Each takes its options and its output sink, so tests call them in-process.

use crate::blueprint::context::{inputs, register_secrets};
use crate::blueprint::{lint, model::Blueprint, render, template};
use anyhow::{anyhow, bail, Context as _, Result};
use std::io::{Read, Write};
use std::path::PathBuf;

#[derive(Debug, Clone, Default, clap::Args)]
pub struct LintOptions {
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// The kind of workload the actions are bound to (Deployment, StatefulSet, …).
    #[arg(long)]
    pub kind: Option<String>,
}

/// Writes every finding as `file:line:col: message`, one a line; an error if there were any.
pub fn lint_files(options: &LintOptions, out: &mut dyn Write) -> Result<()> {
    let mut findings = 0;
    for file in &options.files {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read {}", file.display()))?;
        for finding in lint::lint(&file.display().to_string(), &text, options.kind.as_deref()) {
            writeln!(out, "{finding}")?;
            findings += 1;
        }
    }
    if findings > 0 {
        bail!(
            "{findings} problem(s) found in {} blueprint(s)",
            options.files.len()
        );
    }
    tracing::info!(files = options.files.len(), "no problems found");
    Ok(())
}

#[derive(Debug, Clone, Default, clap::Args)]
pub struct RenderOptions {
    pub file: PathBuf,
    #[arg(long)]
    pub action: String,
    /// Kanister's template parameters by their Go names, as JSON.
    #[arg(long)]
    pub context: Option<PathBuf>,
}

/// Writes the action's phases with rendered objects and args, and its rendered
/// outputArtifacts, as pretty JSON.
pub fn render_file(options: &RenderOptions, out: &mut dyn Write) -> Result<()> {
    let file = &options.file;
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let blueprint = Blueprint::from_yaml(&text).map_err(|e| {
        anyhow!(
            "{}: {e:#} (run forgesafe blueprint lint for details)",
            file.display()
        )
    })?;
    let context = inputs::load_context_file(options.context.as_deref())?;
    register_secrets(&context);
    let rendered = render::render_action(&blueprint, &options.action, &context)?;
    writeln!(out, "{}", serde_json::to_string_pretty(&rendered)?)?;
    Ok(())
}

#[derive(Debug, Clone, Default, clap::Args)]
pub struct TemplateOptions {
    #[arg(long)]
    pub context: Option<PathBuf>,
}

/// Renders one Go template read from `template` and writes the result. The context's secrets
/// are registered first, so that no log line or error can show them.
pub fn render_template(
    options: &TemplateOptions,
    template: &mut dyn Read,
    out: &mut dyn Write,
) -> Result<()> {
    let context = inputs::load_context_file(options.context.as_deref())?;
    register_secrets(&context);
    let mut text = String::new();
    template
        .read_to_string(&mut text)
        .context("cannot read the template from stdin")?;
    let rendered = template::render(&text, &context).map_err(|e| anyhow!("{e}"))?;
    write!(out, "{rendered}")?;
    Ok(())
}
