//! The action runner: Kanister's order of events for one action.
//!
//! 1. `.Time` fixed, context secrets registered for redaction.
//! 2. Each phase rendered just before it runs (it sees earlier outputs), run, outputs recorded;
//!    the first failure stops the rest. All of this under the action's timeout.
//! 3. The deferPhase, always (after success, failure or timeout); its failure is reported.
//! 4. Output artifacts, only when everything above succeeded.

use super::context_prep::{fix_time, record_phase, set_current_phase};
use super::log_sink::emit;
use super::phase_call::{Outputs, PhaseCall, PhaseFunctions};
use super::request::{PhaseOutcome, RunOutcome, RunRequest};
use crate::blueprint::context::register_secrets;
use crate::blueprint::model::Phase;
use crate::blueprint::render::{render_output_artifacts, render_phase};
use crate::blueprint::template::prepare_context;
use anyhow::{anyhow, bail, Context as _, Result};
use serde_json::{Map, Value};
use std::time::Duration;

pub async fn run_action(req: RunRequest) -> Result<RunOutcome> {
    let RunRequest {
        blueprint,
        action: action_name,
        mut context,
        functions,
        timeout,
        log,
    } = req;
    let action = blueprint.actions.get(&action_name).ok_or_else(|| {
        let known: Vec<&str> = blueprint.actions.keys().map(String::as_str).collect();
        anyhow!(
            "blueprint {:?} has no action {action_name:?} (actions: {})",
            blueprint.metadata.name,
            known.join(", ")
        )
    })?;
    fix_time(&mut context);
    register_secrets(&context);

    let mut runner = PhaseRunner {
        action: &action_name,
        functions: functions.as_ref(),
        log: &log,
        context,
        done: Vec::new(),
    };

    // `current` outlives the timed future, so a timeout can say which phase it interrupted.
    let mut current: Option<(String, String)> = None;
    let main = tokio::time::timeout(timeout, async {
        for phase in &action.phases {
            current = Some((phase.name.clone(), phase.func.clone()));
            runner.run(phase).await?;
        }
        Ok::<(), anyhow::Error>(())
    })
    .await;
    let main_result = match main {
        Ok(result) => result,
        Err(_) => {
            let (phase, func) = current.unwrap_or_default();
            Err(anyhow!(
                "action {action_name:?} timed out after {} in phase {phase:?} ({func})",
                format_duration(timeout)
            ))
        }
    };

    let defer_result = match &action.defer_phase {
        None => Ok(()),
        Some(defer) => match tokio::time::timeout(timeout, runner.run(defer)).await {
            Ok(result) => result.context("deferPhase failed"),
            Err(_) => Err(anyhow!(
                "action {action_name:?}, deferPhase {:?} ({}) timed out after {}",
                defer.name,
                defer.func,
                format_duration(timeout)
            )),
        },
    };

    match (main_result, defer_result) {
        (Ok(()), Ok(())) => {}
        (Err(main), Ok(())) => return Err(main),
        (Ok(()), Err(defer)) => return Err(defer),
        (Err(main), Err(defer)) => bail!("{main:#}\nand then the deferPhase failed too: {defer:#}"),
    }

    let artifacts = render_output_artifacts(
        &action_name,
        action,
        &prepare_context(runner.context.clone()),
    )?;
    Ok(RunOutcome {
        phases: runner.done,
        artifacts,
    })
}

/// Runs phases one by one against a context that grows with each phase's outputs.
struct PhaseRunner<'a> {
    action: &'a str,
    functions: &'a dyn PhaseFunctions,
    log: &'a super::log_sink::LogSink,
    context: Value,
    done: Vec<PhaseOutcome>,
}

impl PhaseRunner<'_> {
    async fn run(&mut self, phase: &Phase) -> Result<()> {
        let where_ = format!(
            "action {:?}, phase {:?}, function {}",
            self.action, phase.name, phase.func
        );
        set_current_phase(&mut self.context, &phase.name);
        let rendered = render_phase(self.action, phase, &prepare_context(self.context.clone()))
            .with_context(|| format!("{where_}: rendering the phase"))?;
        let args = object_field(&rendered, "args");
        let objects = object_field(&rendered, "objects");
        emit(
            self.log,
            &format!(
                "{where_}: running with args {}",
                Value::Object(args.clone())
            ),
        );

        let call = PhaseCall {
            action: self.action,
            phase: &phase.name,
            func: &phase.func,
            args: &args,
            objects: &objects,
            context: &self.context,
            log: self.log,
        };
        let outputs: Outputs = self
            .functions
            .run(call)
            .await
            .with_context(|| where_.clone())?;
        record_phase(&mut self.context, &phase.name, &outputs);
        emit(
            self.log,
            &format!(
                "{where_}: done, outputs {:?}",
                outputs.keys().collect::<Vec<_>>()
            ),
        );
        self.done.push(PhaseOutcome {
            name: phase.name.clone(),
            func: phase.func.clone(),
            output: outputs,
        });
        Ok(())
    }
}

fn object_field(v: &Value, field: &str) -> Map<String, Value> {
    v.get(field)
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

fn format_duration(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}
