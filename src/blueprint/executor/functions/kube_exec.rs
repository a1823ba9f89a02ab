//! KubeExec: run a command in a container of a pod; outputs come from its stdout only.

use super::exec_in_pod::exec_in_pod;
use super::outputs::outputs_from_stdout;
use super::{FunctionEnv, PhaseFunction};
use crate::blueprint::executor::args::{optional_str, required_list, required_str};
use crate::blueprint::executor::phase_call::{Outputs, PhaseCall};
use anyhow::Result;
use futures::future::BoxFuture;

pub const NAME: &str = "KubeExec";
pub const ARG_NAMESPACE: &str = "namespace";
pub const ARG_POD: &str = "pod";
pub const ARG_CONTAINER: &str = "container";
pub const ARG_COMMAND: &str = "command";

pub const FUNCTION: PhaseFunction = PhaseFunction {
    name: NAME,
    required_args: &[ARG_NAMESPACE, ARG_POD, ARG_COMMAND],
    run: Some(run),
};

pub fn run<'a>(env: &'a FunctionEnv, call: &'a PhaseCall<'a>) -> BoxFuture<'a, Result<Outputs>> {
    Box::pin(kube_exec(env, call))
}

async fn kube_exec(env: &FunctionEnv, call: &PhaseCall<'_>) -> Result<Outputs> {
    let namespace = required_str(call.args, ARG_NAMESPACE)?;
    let pod = required_str(call.args, ARG_POD)?;
    let container = optional_str(call.args, ARG_CONTAINER)?.filter(|c| !c.is_empty());
    let command = required_list(call.args, ARG_COMMAND)?;
    let captured = exec_in_pod(
        env,
        &namespace,
        &pod,
        container.as_deref(),
        &command,
        call.log,
    )
    .await?;
    let captured = captured.into_result(&format!("command in pod {namespace}/{pod}"))?;
    outputs_from_stdout(&captured.stdout)
}
