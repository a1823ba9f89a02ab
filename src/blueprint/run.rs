//! `blueprint run`: one action of a blueprint file, run as Kanister's controller would, without
//! one. Lint first (a blueprint with a known mistake never starts), then the template context
//! (cluster, context file, profile, options, input artifacts), then the action, then the output
//! artifacts as JSON.

use crate::blueprint::context::{self, inputs, ClusterInputs, ObjectRef};
use crate::blueprint::executor::{run_action, BuiltinFunctions, LogSink, RunOutcome, RunRequest};
use crate::blueprint::{lint, model::Blueprint};
use crate::kube::Cluster;
use anyhow::{anyhow, bail, Context as _, Result};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone, Default, clap::Args)]
pub struct RunOptions {
    pub file: PathBuf,
    #[arg(long)]
    pub action: String,
    /// The workload the action is bound to, KIND/NAMESPACE/NAME (Deployment or StatefulSet): its
    /// pods, containers and volumes are read from the cluster into the template context.
    #[arg(long)]
    pub object: Option<String>,
    /// Kanister Profile JSON (or @FILE) for `.Profile` (else FORGESAFE_PROFILE / FORGESAFE_PROFILE_FILE, if set).
    #[arg(short = 'p', long)]
    pub profile: Option<String>,
    /// A Kanister Profile custom resource, NAMESPACE/NAME, resolved with its Secret.
    #[arg(long)]
    pub profile_ref: Option<String>,
    /// Input artifacts (a file, or inline JSON) as `run` prints them: {"name": {"keyValue": {...}, "kopiaSnapshot": "..."}}.
    #[arg(long)]
    pub artifacts_in: Option<String>,
    /// Also write the output artifacts to this file.
    #[arg(long)]
    pub artifacts_out: Option<PathBuf>,
    /// An ActionSet option for `.Options`, KEY=VALUE (repeatable).
    #[arg(long = "option", value_name = "KEY=VALUE")]
    pub options: Vec<String>,
    /// More template parameters, as JSON (merged under the above).
    #[arg(long)]
    pub context: Option<PathBuf>,
    /// The action's time limit (e.g. 30m); default Kasten's: backup 45m, restore 600m, delete 45m.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub timeout: Option<Duration>,
    /// Run every KubeExec command here, whatever pod it names (a sidecar running its own actions).
    #[arg(long)]
    pub local: bool,
}

/// Runs the action on a tokio runtime of its own and writes the output artifacts (pretty JSON)
/// to `out` and to `--artifacts-out`. Repository work stays in child processes (`forgesafe
/// location …` run by KubeExec), never on the runtime's threads, where the object-store client
/// would panic.
pub fn run(options: &RunOptions, out: &mut dyn Write, log: LogSink) -> Result<RunOutcome> {
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(run_async(options, out, log))
}

/// [`run`] on the caller's runtime.
pub async fn run_async(
    options: &RunOptions,
    out: &mut dyn Write,
    log: LogSink,
) -> Result<RunOutcome> {
    let (blueprint, action) = checked_action(options)?;
    let cluster = connect(options).await?;
    let context = template_context(options, &action, cluster.as_ref()).await?;
    let mut functions = BuiltinFunctions::new()
        .local(options.local)
        .this_pod(std::env::var("POD_NAME").ok());
    if let Some(c) = cluster {
        functions = functions.with_cluster(c);
    }
    let mut request = RunRequest::new(blueprint, &options.action, context, Arc::new(functions));
    request.log = log;
    if let Some(t) = options.timeout {
        request.timeout = t;
    }
    let outcome = run_action(request).await?;
    let text = serde_json::to_string_pretty(&outcome.artifacts)?;
    if let Some(path) = &options.artifacts_out {
        std::fs::write(path, &text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    writeln!(out, "{text}")?;
    Ok(outcome)
}

/// The blueprint, lint-clean, and the action asked for.
fn checked_action(options: &RunOptions) -> Result<(Blueprint, crate::blueprint::model::Action)> {
    let file = &options.file;
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let findings = lint::lint(&file.display().to_string(), &text, None);
    if let Some(first) = findings.first() {
        bail!(
            "{first} ({} problem(s); run forgesafe blueprint lint {})",
            findings.len(),
            file.display()
        );
    }
    let blueprint =
        Blueprint::from_yaml(&text).map_err(|e| anyhow!("{}: {e:#}", file.display()))?;
    let action = blueprint
        .actions
        .get(&options.action)
        .cloned()
        .ok_or_else(|| {
            let known: Vec<&str> = blueprint.actions.keys().map(String::as_str).collect();
            anyhow!(
                "{} has no action {:?}: it has {}",
                file.display(),
                options.action,
                known.join(", ")
            )
        })?;
    Ok((blueprint, action))
}

/// The cluster, unless the run is local. Without one, a run that needs nothing from the
/// cluster still goes ahead: its phases that need it will say so.
async fn connect(options: &RunOptions) -> Result<Option<Cluster>> {
    if options.local {
        return Ok(None);
    }
    match Cluster::from_environment().await {
        Ok(c) => Ok(Some(c)),
        Err(e) if options.object.is_none() && options.profile_ref.is_none() => {
            tracing::debug!("no Kubernetes API ({e:#}); phases that need it will say so");
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// The context file, under what the cluster gives (`--object`, `--profile-ref`), under
/// `--profile`, `--option` and `--artifacts-in`.
async fn template_context(
    options: &RunOptions,
    action: &crate::blueprint::model::Action,
    cluster: Option<&Cluster>,
) -> Result<serde_json::Value> {
    let mut ctx = inputs::load_context_file(options.context.as_deref())?;
    let needs_cluster = |flag: &str, what: &str| {
        cluster.ok_or_else(|| anyhow!("{flag} reads {what} from the cluster: drop --local, or give the context with --context"))
    };
    if let Some(object) = &options.object {
        let object = ObjectRef::parse(object)?;
        let cluster = needs_cluster("--object", "the workload")?;
        let wanted = ClusterInputs {
            secret_names: &action.secret_names,
            config_map_names: &action.config_map_names,
        };
        inputs::merge_into(
            &mut ctx,
            context::build_context(cluster, &object, &wanted).await?,
        );
    }
    if let Some(reference) = &options.profile_ref {
        let (namespace, name) = reference
            .split_once('/')
            .ok_or_else(|| anyhow!("--profile-ref {reference:?} is not NAMESPACE/NAME"))?;
        ctx["Profile"] = context::cluster::read_profile(
            needs_cluster("--profile-ref", "the Profile")?,
            namespace,
            name,
        )
        .await?;
    }
    if let Some((text, origin)) = crate::profile::load_text_if_given(options.profile.as_deref())? {
        inputs::set_profile(&mut ctx, &text, &origin)?;
    }
    inputs::set_options(&mut ctx, &options.options)?;
    if let Some(artifacts) = &options.artifacts_in {
        inputs::set_artifacts_in(&mut ctx, artifacts)?;
    }
    Ok(ctx)
}
