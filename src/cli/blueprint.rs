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
    /// Run an action: phases in order, deferPhase always, output artifacts printed as JSON.
    Run(RunArgs),
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
struct RunArgs {
    file: PathBuf,
    #[arg(long)]
    action: String,
    /// The workload the action is bound to, KIND/NAMESPACE/NAME (Deployment or StatefulSet): its
    /// pods, containers and volumes are read from the cluster into the template context.
    #[arg(long)]
    object: Option<String>,
    /// Kanister Profile JSON (or @FILE) for `.Profile` (else FORGESAFE_PROFILE / FORGESAFE_PROFILE_FILE, if set).
    #[arg(short = 'p', long)]
    profile: Option<String>,
    /// A Kanister Profile custom resource, NAMESPACE/NAME, resolved with its Secret.
    #[arg(long)]
    profile_ref: Option<String>,
    /// Input artifacts (a file, or inline JSON) as `run` prints them: {"name": {"keyValue": {...}, "kopiaSnapshot": "..."}}.
    #[arg(long)]
    artifacts_in: Option<String>,
    /// Also write the output artifacts to this file.
    #[arg(long)]
    artifacts_out: Option<PathBuf>,
    /// An ActionSet option for `.Options`, KEY=VALUE (repeatable).
    #[arg(long = "option", value_name = "KEY=VALUE")]
    options: Vec<String>,
    /// More template parameters, as JSON (merged under the above).
    #[arg(long)]
    context: Option<PathBuf>,
    /// The action's time limit (e.g. 30m); default Kasten's: backup 45m, restore 600m, delete 45m.
    #[arg(long, value_parser = humantime::parse_duration)]
    timeout: Option<std::time::Duration>,
    /// Run every KubeExec command here, whatever pod it names (a sidecar running its own actions).
    #[arg(long)]
    local: bool,
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
        BlueprintCommand::Run(args) => run_action(args),
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

/// `blueprint run`: build the template context, run the action on a tokio runtime, print the
/// output artifacts. Repository work stays in child processes (`forgesafe location …` run by
/// KubeExec), never on the runtime's threads, where the object-store client would panic.
fn run_action(args: RunArgs) -> Result<()> {
    use crate::blueprint::executor::{run_action, BuiltinFunctions, RunRequest};
    let text = std::fs::read_to_string(&args.file).with_context(|| format!("cannot read {}", args.file.display()))?;
    let findings = lint::lint(&args.file.display().to_string(), &text, None);
    if let Some(first) = findings.first() {
        bail!("{first} ({} problem(s); run forgesafe blueprint lint {})", findings.len(), args.file.display());
    }
    let blueprint = Blueprint::from_yaml(&text).map_err(|e| anyhow!("{}: {e:#}", args.file.display()))?;
    let action = blueprint
        .actions
        .get(&args.action)
        .ok_or_else(|| anyhow!("{} has no action {:?}: it has {}", args.file.display(), args.action, blueprint.actions.keys().cloned().collect::<Vec<_>>().join(", ")))?
        .clone();

    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async {
        let cluster = if args.local {
            None
        } else {
            match crate::kube::Cluster::from_environment().await {
                Ok(c) => Some(c),
                Err(e) if args.object.is_none() && args.profile_ref.is_none() => {
                    tracing::debug!("no Kubernetes API ({e:#}); phases that need it will say so");
                    None
                }
                Err(e) => return Err(e),
            }
        };
        let mut context = load_context(args.context.as_deref())?;
        if let Some(object) = &args.object {
            let parts: Vec<&str> = object.splitn(3, '/').collect();
            let [kind, namespace, name] = parts.as_slice() else {
                bail!("--object {object:?} is not KIND/NAMESPACE/NAME (e.g. Deployment/forge/forge-backup)");
            };
            let profile_ref = match &args.profile_ref {
                Some(r) => Some(r.split_once('/').ok_or_else(|| anyhow!("--profile-ref {r:?} is not NAMESPACE/NAME"))?),
                None => None,
            };
            let object = crate::kube::ObjectRef { kind: kind.to_string(), namespace: namespace.to_string(), name: name.to_string() };
            let cluster = cluster.as_ref().ok_or_else(|| anyhow!("--object reads the workload from the cluster: drop --local, or give the context with --context"))?;
            let from_cluster = crate::kube::build_context(
                cluster,
                &object,
                &action.secret_names,
                &action.config_map_names,
                profile_ref,
            )
            .await?;
            merge_into(&mut context, from_cluster);
        }
        if let Some((text, origin)) = crate::profile::load_text_if_given(args.profile.as_deref())? {
            crate::profile::parse(&text).with_context(|| origin.clone())?; // one clear line for a bad profile, before any phase runs
            context["Profile"] = serde_json::from_str(&text)?;
        }
        for option in &args.options {
            let (k, v) = option.split_once('=').ok_or_else(|| anyhow!("--option {option:?} is not KEY=VALUE"))?;
            context["Options"][k] = serde_json::Value::String(v.to_string());
        }
        if let Some(input) = &args.artifacts_in {
            context["ArtifactsIn"] = artifacts_for_templates(&read_json_arg(input)?)?;
        }
        let mut functions = BuiltinFunctions::new().local(args.local).this_pod(std::env::var("POD_NAME").ok());
        if let Some(c) = cluster {
            functions = functions.with_cluster(c);
        }
        let mut request = RunRequest::new(blueprint, &args.action, context, std::sync::Arc::new(functions));
        request.log = crate::blueprint::executor::tracing_sink();
        if let Some(t) = args.timeout {
            request.timeout = t;
        }
        let outcome = run_action(request).await?;
        let text = serde_json::to_string_pretty(&outcome.artifacts)?;
        if let Some(path) = &args.artifacts_out {
            std::fs::write(path, &text).with_context(|| format!("cannot write {}", path.display()))?;
        }
        println!("{text}");
        Ok(())
    })
}

/// Artifacts as `run` prints them (Kanister's JSON: `keyValue`, `kopiaSnapshot`) become the
/// template parameter `.ArtifactsIn` (Go field names: `KeyValue`, `KopiaSnapshot`).
fn artifacts_for_templates(artifacts: &serde_json::Value) -> Result<serde_json::Value> {
    let map = artifacts.as_object().ok_or_else(|| anyhow!("--artifacts-in must be a JSON object of artifacts by name"))?;
    let mut out = serde_json::Map::new();
    for (name, artifact) in map {
        let get = |a: &str, b: &str| artifact.get(a).or_else(|| artifact.get(b)).cloned();
        let mut converted = serde_json::Map::new();
        converted.insert("KeyValue".into(), get("keyValue", "KeyValue").unwrap_or_else(|| serde_json::json!({})));
        if let Some(snapshot) = get("kopiaSnapshot", "KopiaSnapshot") {
            converted.insert("KopiaSnapshot".into(), snapshot);
        }
        out.insert(name.clone(), serde_json::Value::Object(converted));
    }
    Ok(serde_json::Value::Object(out))
}

fn read_json_arg(arg: &str) -> Result<serde_json::Value> {
    let text = if arg.trim_start().starts_with('{') {
        arg.to_string()
    } else {
        std::fs::read_to_string(arg).with_context(|| format!("cannot read {arg}"))?
    };
    serde_json::from_str(&text).map_err(|e| anyhow!("{arg}: not valid JSON ({e})"))
}

/// Adds `extra`'s top-level keys to `base` (the cluster's view wins over a context file's).
fn merge_into(base: &mut serde_json::Value, extra: serde_json::Value) {
    if let (Some(b), serde_json::Value::Object(e)) = (base.as_object_mut(), extra) {
        for (k, v) in e {
            b.insert(k, v);
        }
    }
}
