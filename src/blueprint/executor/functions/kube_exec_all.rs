//! KubeExecAll: run a command in every pod × container pair at once; outputs of all merged.

use super::exec_in_pod::exec_in_pod;
use super::outputs::outputs_from_stdout;
use super::{FunctionEnv, PhaseFunction};
use crate::blueprint::executor::args::{required_list, required_str, required_words};
use crate::blueprint::executor::phase_call::{Outputs, PhaseCall};
use anyhow::{bail, Result};
use futures::future::{join_all, BoxFuture};

pub const NAME: &str = "KubeExecAll";
pub const ARG_NAMESPACE: &str = "namespace";
pub const ARG_PODS: &str = "pods";
pub const ARG_CONTAINERS: &str = "containers";
pub const ARG_COMMAND: &str = "command";

pub const FUNCTION: PhaseFunction = PhaseFunction {
    name: NAME,
    required_args: &[ARG_NAMESPACE, ARG_PODS, ARG_CONTAINERS, ARG_COMMAND],
    run: Some(run),
};

pub fn run<'a>(env: &'a FunctionEnv, call: &'a PhaseCall<'a>) -> BoxFuture<'a, Result<Outputs>> {
    Box::pin(kube_exec_all(env, call))
}

async fn kube_exec_all(env: &FunctionEnv, call: &PhaseCall<'_>) -> Result<Outputs> {
    let namespace = required_str(call.args, ARG_NAMESPACE)?;
    let pods = required_words(call.args, ARG_PODS)?;
    let containers = required_words(call.args, ARG_CONTAINERS)?;
    let command = required_list(call.args, ARG_COMMAND)?;
    let pairs: Vec<(&String, &String)> = pods
        .iter()
        .flat_map(|p| containers.iter().map(move |c| (p, c)))
        .collect();
    let (namespace, command) = (&namespace, &command);
    let runs = pairs.iter().map(|&(pod, container)| async move {
        let captured = exec_in_pod(env, namespace, pod, Some(container), command, call.log).await?;
        let captured = captured.into_result(&format!(
            "command in pod {namespace}/{pod} container {container}"
        ))?;
        outputs_from_stdout(&captured.stdout)
    });
    let results = join_all(runs).await;
    // Merged in pod × container order, so a key set by several pairs keeps the last pair's value.
    let mut merged = Outputs::new();
    let mut failures = Vec::new();
    for result in results {
        match result {
            Ok(outputs) => merged.extend(outputs),
            Err(e) => failures.push(format!("{e:#}")),
        }
    }
    if !failures.is_empty() {
        bail!(
            "{} of {} commands failed:\n{}",
            failures.len(),
            pairs.len(),
            failures.join("\n")
        );
    }
    Ok(merged)
}
