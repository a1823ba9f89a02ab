//! The one registry of phase functions, shared by the executor and lint. Each entry has
//! Kanister's shape (`pkg/function`): a name, the arguments a phase must give, and the code that
//! runs it; each function's file declares its entry with its argument names as constants.
//! Kanister's other functions are known by name only, so lint accepts them and the executor can
//! say that it does not run them.

use super::{kube_exec, kube_exec_all, kube_task, scale_workload, FunctionEnv};
use crate::blueprint::executor::phase_call::{Outputs, PhaseCall};
use anyhow::{anyhow, bail, Result};
use futures::future::BoxFuture;
use serde_json::Value;

/// Runs one phase of a function.
pub type Runner = for<'a> fn(&'a FunctionEnv, &'a PhaseCall<'a>) -> BoxFuture<'a, Result<Outputs>>;

pub struct PhaseFunction {
    /// Kanister's name for it (`func:` in a phase).
    pub name: &'static str,
    /// Arguments a phase must give: lint reports each one missing, and the executor refuses to
    /// start the function without them. Known only for the functions forgesafe runs (for the
    /// others we do not claim to know the contract).
    pub required_args: &'static [&'static str],
    /// `None` for a Kanister function forgesafe knows by name but does not run.
    pub run: Option<Runner>,
}

/// Kanister's registered functions (pkg/function) that forgesafe does not run.
const KNOWN_BY_NAME_ONLY: &[&str] = &[
    "KubeTaskParallel",
    "MultiContainerRun",
    "BackupData",
    "BackupDataAll",
    "BackupDataStats",
    "BackupDataUsingKopiaServer",
    "RestoreData",
    "RestoreDataAll",
    "RestoreDataUsingKopiaServer",
    "CopyVolumeData",
    "DeleteData",
    "DeleteDataAll",
    "DeleteDataUsingKopiaServer",
    "PrepareData",
    "CheckRepository",
    "KubeOps",
    "Wait",
    "WaitV2",
    "WaitForSnapshotCompletion",
    "CreateVolumeSnapshot",
    "DeleteVolumeSnapshot",
    "CreateVolumeFromSnapshot",
    "CreateCSISnapshot",
    "CreateCSISnapshotStatic",
    "RestoreCSISnapshot",
    "DeleteCSISnapshot",
    "DeleteCSISnapshotContent",
    "CreateRDSSnapshot",
    "ExportRDSSnapshotToLocation",
    "RestoreRDSSnapshot",
    "DeleteRDSSnapshot",
    "PrepareAWSForRDS",
    "CreateDRSnapshot",
    "KopiaSnapshotRestore",
    "ExportPostgres",
    "Delete",
];

pub struct Registry {
    functions: Vec<PhaseFunction>,
}

/// Every phase function forgesafe knows, registered here and only here. Adding one that
/// forgesafe runs: a file beside this one declaring its `FUNCTION`, and a line below.
pub fn registry() -> Registry {
    let mut functions = vec![
        kube_exec::FUNCTION,
        kube_exec_all::FUNCTION,
        kube_task::FUNCTION,
        scale_workload::FUNCTION,
    ];
    functions.extend(KNOWN_BY_NAME_ONLY.iter().map(|&name| PhaseFunction {
        name,
        required_args: &[],
        run: None,
    }));
    Registry { functions }
}

impl Registry {
    pub fn find(&self, name: &str) -> Option<&PhaseFunction> {
        self.functions.iter().find(|f| f.name == name)
    }

    /// Every known name, the ones forgesafe runs first.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.functions.iter().map(|f| f.name)
    }

    /// The names of the functions forgesafe runs.
    pub fn runnable_names(&self) -> Vec<&'static str> {
        self.functions
            .iter()
            .filter(|f| f.run.is_some())
            .map(|f| f.name)
            .collect()
    }

    /// The code that runs `func`, once the phase's rendered `args` hold every required argument.
    pub fn runner(&self, func: &str, args: &serde_json::Map<String, Value>) -> Result<Runner> {
        let function = self.find(func).filter(|f| f.run.is_some()).ok_or_else(|| {
            anyhow!(
                "unknown phase function {func:?}: forgesafe runs {}",
                self.runnable_names().join(", ")
            )
        })?;
        if let Some(missing) = function
            .required_args
            .iter()
            .find(|a| args.get(**a).is_none_or(Value::is_null))
        {
            bail!("missing required argument {missing:?}");
        }
        Ok(function.run.expect("filtered on run above"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_name_is_registered_once_and_the_runnable_ones_first() {
        let r = registry();
        let mut names: Vec<&str> = r.names().collect();
        assert_eq!(
            &names[..4],
            ["KubeExec", "KubeExecAll", "KubeTask", "ScaleWorkload"]
        );
        names.sort();
        names.dedup();
        assert_eq!(names.len(), r.names().count(), "a name registered twice");
    }

    #[test]
    fn the_runner_needs_a_runnable_function_and_its_required_arguments() {
        let r = registry();
        let e = r
            .runner("BackupData", &Default::default())
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains(
                "unknown phase function \"BackupData\": forgesafe runs KubeExec, KubeExecAll"
            ),
            "{e}"
        );
        let args = json!({"namespace": "ns", "pod": null, "command": ["true"]});
        let e = r
            .runner("KubeExec", args.as_object().unwrap())
            .err()
            .unwrap()
            .to_string();
        assert_eq!(e, "missing required argument \"pod\"");
        let args = json!({"namespace": "ns", "pod": "p", "command": ["true"]});
        assert!(r.runner("KubeExec", args.as_object().unwrap()).is_ok());
    }
}
