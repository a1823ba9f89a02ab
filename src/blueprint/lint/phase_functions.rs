//! The one registry of Kanister phase functions lint knows, with the
//! arguments forgesafe needs for the functions it runs itself.

pub struct PhaseFunction {
    pub name: &'static str,
    /// Required arguments, checked only for the functions forgesafe executes
    /// (for the others we do not claim to know the contract).
    pub required_args: &'static [&'static str],
}

const fn func(name: &'static str) -> PhaseFunction {
    PhaseFunction {
        name,
        required_args: &[],
    }
}

/// Kanister's registered functions (pkg/function). KubeTask's `namespace`
/// is optional (it defaults to the controller's namespace).
pub const PHASE_FUNCTIONS: &[PhaseFunction] = &[
    PhaseFunction {
        name: "KubeExec",
        required_args: &["namespace", "pod", "command"],
    },
    PhaseFunction {
        name: "KubeExecAll",
        required_args: &["namespace", "pods", "containers", "command"],
    },
    PhaseFunction {
        name: "KubeTask",
        required_args: &["image", "command"],
    },
    PhaseFunction {
        name: "ScaleWorkload",
        required_args: &["replicas"],
    },
    func("KubeTaskParallel"),
    func("MultiContainerRun"),
    func("BackupData"),
    func("BackupDataAll"),
    func("BackupDataStats"),
    func("BackupDataUsingKopiaServer"),
    func("RestoreData"),
    func("RestoreDataAll"),
    func("RestoreDataUsingKopiaServer"),
    func("CopyVolumeData"),
    func("DeleteData"),
    func("DeleteDataAll"),
    func("DeleteDataUsingKopiaServer"),
    func("PrepareData"),
    func("CheckRepository"),
    func("KubeOps"),
    func("Wait"),
    func("WaitV2"),
    func("WaitForSnapshotCompletion"),
    func("CreateVolumeSnapshot"),
    func("DeleteVolumeSnapshot"),
    func("CreateVolumeFromSnapshot"),
    func("CreateCSISnapshot"),
    func("CreateCSISnapshotStatic"),
    func("RestoreCSISnapshot"),
    func("DeleteCSISnapshot"),
    func("DeleteCSISnapshotContent"),
    func("CreateRDSSnapshot"),
    func("ExportRDSSnapshotToLocation"),
    func("RestoreRDSSnapshot"),
    func("DeleteRDSSnapshot"),
    func("PrepareAWSForRDS"),
    func("CreateDRSnapshot"),
    func("KopiaSnapshotRestore"),
    func("ExportPostgres"),
    func("Delete"),
];

pub fn find(name: &str) -> Option<&'static PhaseFunction> {
    PHASE_FUNCTIONS.iter().find(|f| f.name == name)
}
