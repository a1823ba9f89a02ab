//! manifests/: every kustomization renders offline with `kubectl kustomize`, every rendered object
//! validates strictly against Kubernetes' own schemas (kubernetes-validate) for the oldest version
//! we support and the newest the validator ships, the Kanister kinds carry exactly the fields
//! Kanister's CRDs declare and its controller needs, and the objects say what the issue asks:
//! Secrets only as mounted files, probes, limits, hardening, least privilege.

mod common;
#[path = "kanister/crd.rs"]
mod kanister_crd;

use common::require_tool;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The oldest Kubernetes we support: the API level forgesafe's own client is built for
/// (k8s-openapi feature `v1_30` in Cargo.toml). The newest: the last one kubernetes-validate ships.
const OLDEST: &str = "1.30";
const NEWEST: &str = "1.37";

const KUSTOMIZATIONS: [&str; 7] = [
    "base",
    "overlays/kasten",
    "overlays/kanister",
    "overlays/sidecar",
    "overlays/cronjob",
    "overlays/sharded",
    "overlays/scheduled",
];

fn manifests() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("manifests")
}

fn kubernetes_validate() -> PathBuf {
    if let Some(path) = std::env::var_os("FORGESAFE_TEST_KUBERNETES_VALIDATE") {
        return path.into();
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(".test-tools/kubernetes-validate-venv/bin/kubernetes-validate");
    if venv.is_file() {
        return venv;
    }
    require_tool("kubernetes-validate", "pip install kubernetes-validate")
}

/// `kubectl kustomize DIR` as text.
fn render_text(dir: &str) -> String {
    let kubectl = require_tool("kubectl", "install kubectl (it carries kustomize)");
    let out = common::ok(
        Command::new(kubectl)
            .arg("kustomize")
            .arg(manifests().join(dir)),
    );
    common::stdout(&out)
}

fn documents(yaml: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(yaml)
        .map(|doc| {
            serde_json::to_value(
                <serde_yaml::Value as serde::Deserialize>::deserialize(doc).unwrap(),
            )
            .unwrap()
        })
        .filter(|v| !v.is_null())
        .collect()
}

fn render(dir: &str) -> Vec<Value> {
    documents(&render_text(dir))
}

fn find<'a>(objects: &'a [Value], kind: &str, name: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| {
            panic!(
                "no {kind}/{name} among {:?}",
                objects
                    .iter()
                    .map(|o| format!("{}/{}", o["kind"], o["metadata"]["name"]))
                    .collect::<Vec<_>>()
            )
        })
}

fn has(objects: &[Value], kind: &str, name: &str) -> bool {
    objects
        .iter()
        .any(|o| o["kind"] == kind && o["metadata"]["name"] == name)
}

fn strs(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|a| a.iter().map(|v| v.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

#[test]
fn every_kustomization_renders_and_validates_strictly_for_the_oldest_and_newest_kubernetes() {
    let tmp = tempfile::tempdir().unwrap();
    for dir in KUSTOMIZATIONS {
        let file = tmp.path().join(format!("{}.yaml", dir.replace('/', "-")));
        std::fs::write(&file, render_text(dir)).unwrap();
        let objects = documents(&std::fs::read_to_string(&file).unwrap());
        assert!(
            objects.len() >= 3,
            "{dir} rendered only {} objects",
            objects.len()
        );
        for version in [OLDEST, NEWEST] {
            let out = Command::new(kubernetes_validate())
                .args(["--strict", "-k", version])
                .arg(&file)
                .output()
                .expect("cannot run kubernetes-validate");
            let report = format!("{}{}", common::stdout(&out), common::stderr(&out));
            assert!(
                out.status.success() && !report.contains("ERROR"),
                "{dir} is invalid for Kubernetes {version}:\n{report}"
            );
            // The validator only warns about kinds it has no schema for: those must be Kanister's,
            // which the next test checks.
            for line in report
                .lines()
                .filter(|l| l.contains("Couldn't find schema"))
            {
                assert!(
                    line.contains("cr.kanister.io/v1alpha1"),
                    "{dir}: a kind went unchecked: {line}"
                );
            }
            let passed = report
                .lines()
                .filter(|l| l.contains("passed for resource"))
                .count();
            let kanister = objects
                .iter()
                .filter(|o| {
                    o["apiVersion"]
                        .as_str()
                        .unwrap()
                        .starts_with("cr.kanister.io/")
                })
                .count();
            assert_eq!(
                passed + kanister,
                objects.len(),
                "{dir} for {version}: every object is validated:\n{report}"
            );
        }
    }
}

/// The Kanister objects of the kasten and kanister overlays, plus the example ActionSets (plain
/// files for `kubectl create`, since applying them would start the actions).
fn kanister_objects() -> Vec<(String, Value)> {
    let mut all = Vec::new();
    for dir in ["overlays/kasten", "overlays/kanister"] {
        for o in render(dir).into_iter().filter(|o| {
            o["apiVersion"]
                .as_str()
                .unwrap()
                .starts_with("cr.kanister.io/")
        }) {
            all.push((dir.to_string(), o));
        }
    }
    for action in ["backup", "restore", "delete"] {
        let file = manifests().join(format!("overlays/kanister/actionsets/{action}.yaml"));
        for o in documents(&std::fs::read_to_string(&file).unwrap()) {
            all.push((file.display().to_string(), o));
        }
    }
    all
}

#[test]
fn kanister_objects_have_the_fields_kanisters_crds_declare_and_its_controller_needs() {
    let objects = kanister_objects();
    let kinds: Vec<&str> = objects
        .iter()
        .map(|(_, o)| o["kind"].as_str().unwrap())
        .collect();
    for kind in ["Blueprint", "Profile", "ActionSet"] {
        assert!(kinds.contains(&kind), "no {kind} among {kinds:?}");
    }
    for (from, object) in &objects {
        let problems = kanister_crd::problems(object);
        assert!(
            problems.is_empty(),
            "{from}: {}/{}: {problems:#?}",
            object["kind"],
            object["metadata"]["name"]
        );
    }

    // Cross references: each ActionSet names the overlay's Blueprint and Profile, an action the
    // Blueprint has, the Deployment of the base, and exactly the input artifacts that action reads.
    let kanister = render("overlays/kanister");
    let blueprint = kanister.iter().find(|o| o["kind"] == "Blueprint").unwrap();
    let profile = kanister.iter().find(|o| o["kind"] == "Profile").unwrap();
    let secret_ref = &profile["credential"]["keyPair"]["secret"];
    let secret = find(&kanister, "Secret", secret_ref["name"].as_str().unwrap());
    assert_eq!(secret["metadata"]["namespace"], secret_ref["namespace"]);
    for field in ["idField", "secretField"] {
        let key = profile["credential"]["keyPair"][field].as_str().unwrap();
        assert!(
            secret["stringData"].get(key).is_some(),
            "the Profile's {field} {key} is not a key of its Secret"
        );
    }
    for (from, set) in objects.iter().filter(|(_, o)| o["kind"] == "ActionSet") {
        assert_eq!(
            set["metadata"]["namespace"], blueprint["metadata"]["namespace"],
            "{from}: ActionSets live in the controller's namespace"
        );
        for action in set["spec"]["actions"].as_array().unwrap() {
            assert_eq!(action["blueprint"], blueprint["metadata"]["name"], "{from}");
            assert_eq!(
                action["profile"]["name"], profile["metadata"]["name"],
                "{from}"
            );
            assert_eq!(
                action["profile"]["namespace"], profile["metadata"]["namespace"],
                "{from}"
            );
            assert_eq!(
                (
                    &action["object"]["kind"],
                    &action["object"]["name"],
                    &action["object"]["namespace"]
                ),
                (
                    &"Deployment".into(),
                    &"forge-backup".into(),
                    &"forge".into()
                ),
                "{from}"
            );
            let name = action["name"].as_str().unwrap();
            let bp_action = &blueprint["actions"][name];
            assert!(
                bp_action.is_object(),
                "{from}: the Blueprint has no action {name}"
            );
            let mut wanted = strs(&bp_action["inputArtifactNames"]);
            let mut given: Vec<String> = action["artifacts"]
                .as_object()
                .map(|a| a.keys().cloned().collect())
                .unwrap_or_default();
            wanted.sort();
            given.sort();
            assert_eq!(
                given, wanted,
                "{from}: action {name} must pass exactly the artifacts its Blueprint action reads"
            );
        }
    }
}

#[test]
fn the_kanister_check_catches_what_the_api_server_would_drop_or_the_controller_refuse() {
    // The check must be able to fail: `actions` under `spec` (pruned by the API server), a
    // Profile without a bucket, an ActionSet without a blueprint, a phase without func.
    let pruned = serde_json::json!({"apiVersion": "cr.kanister.io/v1alpha1", "kind": "Blueprint", "metadata": {"name": "b"}, "spec": {"actions": {}}});
    assert!(
        kanister_crd::problems(&pruned)
            .iter()
            .any(|p| p.contains("Blueprint.spec") && p.contains("drop")),
        "{:?}",
        kanister_crd::problems(&pruned)
    );
    let no_func = serde_json::json!({"apiVersion": "cr.kanister.io/v1alpha1", "kind": "Blueprint", "metadata": {"name": "b"}, "actions": {"backup": {"phases": [{"name": "x"}]}}});
    assert!(kanister_crd::problems(&no_func)
        .iter()
        .any(|p| p.contains("func")));
    let mut profile = render("overlays/kanister")
        .into_iter()
        .find(|o| o["kind"] == "Profile")
        .unwrap();
    profile["location"]
        .as_object_mut()
        .unwrap()
        .remove("bucket");
    assert!(kanister_crd::problems(&profile)
        .iter()
        .any(|p| p.contains("bucket")));
    let set = documents(
        &std::fs::read_to_string(manifests().join("overlays/kanister/actionsets/backup.yaml"))
            .unwrap(),
    )
    .remove(0);
    let mut no_blueprint = set.clone();
    no_blueprint["spec"]["actions"][0]
        .as_object_mut()
        .unwrap()
        .remove("blueprint");
    assert!(kanister_crd::problems(&no_blueprint)
        .iter()
        .any(|p| p.contains("blueprint")));
    let mut typo = set;
    typo["spec"]["actions"][0]["profil"] = serde_json::json!({"name": "x"});
    assert!(kanister_crd::problems(&typo)
        .iter()
        .any(|p| p.contains("profil")));
}

#[test]
fn the_overlays_blueprints_are_the_shipped_blueprint() {
    let shipped = documents(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("blueprints/forge-backup.yaml"),
        )
        .unwrap(),
    )
    .remove(0);
    for (dir, namespace) in [
        ("overlays/kasten", "kasten-io"),
        ("overlays/kanister", "kanister"),
    ] {
        let mut rendered = render(dir)
            .into_iter()
            .find(|o| o["kind"] == "Blueprint")
            .unwrap();
        assert_eq!(rendered["metadata"]["namespace"], namespace, "{dir}");
        rendered["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("namespace");
        assert_eq!(
            rendered, shipped,
            "{dir}'s Blueprint differs from blueprints/forge-backup.yaml: copy it again"
        );
    }
    let kasten = render("overlays/kasten");
    let deployment = find(&kasten, "Deployment", "forge-backup");
    assert_eq!(
        deployment["metadata"]["annotations"]["kanister.kasten.io/blueprint"],
        shipped["metadata"]["name"]
    );
}

/// Checks one pod spec: hardened, Secrets only as mounted files, every env value that is not a
/// file path or a reference is harmless, resources set.
fn assert_pod_is_hardened(what: &str, pod: &Value, objects: &[Value]) {
    let container = pod["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "forgesafe")
        .unwrap_or_else(|| panic!("{what}: no forgesafe container"));
    let sc = &container["securityContext"];
    assert_eq!(sc["runAsNonRoot"], true, "{what}");
    assert_eq!(sc["readOnlyRootFilesystem"], true, "{what}");
    assert_eq!(sc["allowPrivilegeEscalation"], false, "{what}");
    assert_eq!(strs(&sc["capabilities"]["drop"]), vec!["ALL"], "{what}");
    assert!(sc["capabilities"].get("add").is_none(), "{what}");
    assert_eq!(sc["seccompProfile"]["type"], "RuntimeDefault", "{what}");
    assert_ne!(pod["securityContext"]["runAsUser"], 0, "{what}");
    for key in ["requests", "limits"] {
        assert!(
            container["resources"][key]["memory"].is_string()
                && container["resources"][key]["cpu"].is_string(),
            "{what}: resources.{key}"
        );
    }
    let mounts = container["volumeMounts"].as_array().unwrap();
    let mount_of = |volume: &str| {
        mounts
            .iter()
            .find(|m| m["name"] == volume)
            .map(|m| m["mountPath"].as_str().unwrap().to_string())
    };
    assert_eq!(
        mount_of_path(mounts, "/tmp").is_some(),
        true,
        "{what}: /tmp (HOME, TMPDIR, cache) must be a volume"
    );
    for env in container["env"].as_array().into_iter().flatten() {
        assert!(
            env.get("valueFrom")
                .is_none_or(|v| v.get("secretKeyRef").is_none()),
            "{what}: a Secret in an env value: {env}"
        );
        if let Some(file) = env["value"]
            .as_str()
            .filter(|_| env["name"].as_str().unwrap().ends_with("_FILE"))
        {
            // The file is a key of a Secret mounted where the variable says.
            let (dir, key) = file.rsplit_once('/').unwrap();
            let volume = pod["volumes"]
                .as_array()
                .unwrap()
                .iter()
                .find(|v| mount_of(v["name"].as_str().unwrap()).as_deref() == Some(dir))
                .unwrap_or_else(|| panic!("{what}: nothing mounted at {dir}"));
            let secret = find(
                objects,
                "Secret",
                volume["secret"]["secretName"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{what}: {dir} is not a Secret volume")),
            );
            assert!(
                secret["stringData"].get(key).is_some() || secret["data"].get(key).is_some(),
                "{what}: Secret {} has no key {key}",
                secret["metadata"]["name"]
            );
        }
    }
    let command = strs(&container["command"]).join(" ");
    for object in objects.iter().filter(|o| o["kind"] == "Secret") {
        for value in object["stringData"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(_, v)| v.as_str().unwrap())
        {
            assert!(
                !command.contains(value),
                "{what}: a Secret's value is in the command"
            );
        }
    }
}

fn mount_of_path<'a>(mounts: &'a [Value], path: &str) -> Option<&'a Value> {
    mounts.iter().find(|m| m["mountPath"] == path)
}

#[test]
fn the_base_deployment_serves_probes_is_hardened_and_has_only_the_rights_blueprint_run_needs() {
    let base = render("base");
    let deployment = find(&base, "Deployment", "forge-backup");
    let pod = &deployment["spec"]["template"]["spec"];
    assert_pod_is_hardened("base Deployment", pod, &base);
    let container = &pod["containers"][0];
    assert_eq!(strs(&container["command"])[..2], ["forgesafe", "serve"]);
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
    // The volume, gickup's config and the three Secrets, mounted where the blueprint and conf.yml expect them.
    let mounts: Vec<(String, String)> = container["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["name"].as_str().unwrap().into(),
                m["mountPath"].as_str().unwrap().into(),
            )
        })
        .collect();
    for path in [
        "/backups",
        "/config",
        "/secrets/forge",
        "/secrets/repository",
        "/secrets/profile",
        "/tmp",
    ] {
        assert!(
            mounts.iter().any(|(_, p)| p == path),
            "nothing mounted at {path}: {mounts:?}"
        );
    }
    let conf = find(&base, "ConfigMap", "forge-backup-config")["data"]["conf.yml"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        conf.contains("token_file: /secrets/forge/token") && conf.contains("path: /backups"),
        "{conf}"
    );
    assert!(find(&base, "Secret", "forge-token")["stringData"]
        .get("token")
        .is_some());
    for secret in [
        "forge-token",
        "forgesafe-repository-password",
        "forgesafe-profile",
    ] {
        assert!(
            pod["volumes"]
                .as_array()
                .unwrap()
                .iter()
                .any(|v| v["secret"]["secretName"] == secret),
            "{secret} is not mounted"
        );
    }
    // Least privilege: reads, plus exec; nothing that writes the cluster's objects.
    assert_eq!(pod["serviceAccountName"], "forge-backup");
    let role = find(&base, "Role", "forge-backup-blueprint-run");
    for rule in role["rules"].as_array().unwrap() {
        let resources = strs(&rule["resources"]);
        for verb in strs(&rule["verbs"]) {
            let allowed = verb == "get"
                || (verb == "list" && resources == ["pods"])
                || (verb == "create" && resources == ["pods/exec"]);
            assert!(allowed, "the Role grants {verb} on {resources:?}, which blueprint run --object does not need");
        }
        assert!(
            !resources.iter().any(|r| r.contains('*'))
                && !strs(&rule["apiGroups"]).iter().any(|g| g == "*")
        );
    }
    let binding = find(&base, "RoleBinding", "forge-backup-blueprint-run");
    assert_eq!(binding["roleRef"]["name"], "forge-backup-blueprint-run");
    assert_eq!(binding["subjects"][0]["name"], "forge-backup");
    for object in &base {
        if object["kind"] != "Namespace" {
            assert_eq!(
                object["metadata"]["namespace"], "forge",
                "{}",
                object["metadata"]["name"]
            );
        }
    }
}

#[test]
fn the_cronjob_runs_backup_with_the_deployments_volumes_and_secrets_and_no_sidecar() {
    let base = render("base");
    let base_pod = &find(&base, "Deployment", "forge-backup")["spec"]["template"]["spec"];
    let objects = render("overlays/cronjob");
    assert!(
        !has(&objects, "Deployment", "forge-backup")
            && !has(&objects, "Role", "forge-backup-blueprint-run")
    );
    let cron = find(&objects, "CronJob", "forge-backup");
    assert_eq!(cron["spec"]["concurrencyPolicy"], "Forbid");
    assert!(
        cron["spec"]["successfulJobsHistoryLimit"]
            .as_u64()
            .is_some()
            && cron["spec"]["failedJobsHistoryLimit"].as_u64().is_some()
    );
    assert!(
        cron["spec"]["jobTemplate"]["spec"]["activeDeadlineSeconds"]
            .as_u64()
            .unwrap()
            > 0
    );
    let pod = &cron["spec"]["jobTemplate"]["spec"]["template"]["spec"];
    assert_pod_is_hardened("CronJob", pod, &objects);
    assert_eq!(
        pod["volumes"], base_pod["volumes"],
        "the same volumes and Secrets as the Deployment"
    );
    assert_eq!(pod["securityContext"], base_pod["securityContext"]);
    assert_eq!(
        pod["containers"][0]["volumeMounts"],
        base_pod["containers"][0]["volumeMounts"]
    );
    assert_eq!(
        pod["containers"][0]["image"],
        base_pod["containers"][0]["image"]
    );
    let command = strs(&pod["containers"][0]["command"]);
    assert_eq!(command[..2], ["forgesafe", "backup"]);
    assert!(
        command
            .windows(2)
            .any(|w| w == ["--path", "forge/forge/forge-backup"]),
        "the blueprint's --path, so restores find it: {command:?}"
    );
}

#[test]
fn the_sharded_job_runs_one_shard_per_index_each_under_its_own_path() {
    let objects = render("overlays/sharded");
    let cron = find(&objects, "CronJob", "forge-backup-sharded");
    let job = &cron["spec"]["jobTemplate"]["spec"];
    assert_eq!(job["completionMode"], "Indexed");
    let shards = job["completions"].as_u64().unwrap();
    assert_eq!(
        job["parallelism"].as_u64(),
        Some(shards),
        "all shards at once"
    );
    let pod = &job["template"]["spec"];
    assert_pod_is_hardened("sharded Job", pod, &objects);
    let container = &pod["containers"][0];
    let command = strs(&container["command"]);
    assert!(
        command
            .windows(2)
            .any(|w| w == ["--shard".to_string(), format!("$(SHARD_INDEX)/{shards}")]),
        "{command:?}"
    );
    // backup --shard adds shard-I-of-N to --path itself: the path names the account only.
    assert!(
        command
            .windows(2)
            .any(|w| w == ["--path".to_string(), "forge/forge/forge-backup".to_string()]),
        "{command:?}"
    );
    let index = container["env"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "SHARD_INDEX")
        .unwrap();
    let run = container["env"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "FORGESAFE_RUN_ID")
        .expect("each night's shards are one run");
    assert_eq!(
        run["valueFrom"]["fieldRef"]["fieldPath"],
        "metadata.labels['batch.kubernetes.io/controller-uid']"
    );
    assert_eq!(
        index["valueFrom"]["fieldRef"]["fieldPath"],
        "metadata.annotations['batch.kubernetes.io/job-completion-index']"
    );
    let backups = mount_of_path(container["volumeMounts"].as_array().unwrap(), "/backups").unwrap();
    assert!(
        backups["subPathExpr"]
            .as_str()
            .unwrap()
            .contains("$(SHARD_INDEX)"),
        "each shard in its own folder"
    );
    let claim = pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == backups["name"])
        .unwrap()["persistentVolumeClaim"]["claimName"]
        .as_str()
        .unwrap();
    assert_eq!(
        strs(&find(&objects, "PersistentVolumeClaim", claim)["spec"]["accessModes"]),
        vec!["ReadWriteMany"],
        "shards run on any node"
    );
}

#[test]
fn the_sidecar_patch_adds_forgesafe_next_to_the_workloads_data_volume() {
    let objects = render("overlays/sidecar");
    let app = find(&objects, "Deployment", "my-app");
    assert_eq!(
        app["metadata"]["annotations"]["kanister.kasten.io/blueprint"],
        "forgesafe-volume-backup"
    );
    let pod = &app["spec"]["template"]["spec"];
    let names: Vec<&str> = pod["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "the app keeps its container: {names:?}");
    assert_pod_is_hardened("sidecar", pod, &objects);
    let forgesafe = pod["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "forgesafe")
        .unwrap();
    let data = mount_of_path(forgesafe["volumeMounts"].as_array().unwrap(), "/data")
        .expect("the data volume at /data, where volume-backup.yaml reads it");
    let app_container = pod["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] != "forgesafe")
        .unwrap();
    assert!(
        app_container["volumeMounts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["name"] == data["name"]),
        "the same volume as the app's"
    );
    assert!(
        forgesafe["securityContext"].get("runAsUser").is_none(),
        "the sidecar runs as the app's user (pod securityContext), not root"
    );
    let bp = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("blueprints/volume-backup.yaml"),
    )
    .unwrap();
    assert!(bp.contains("default \\\"/data\\\"") && bp.contains("name: forgesafe-volume-backup"));
}

#[test]
fn the_scheduled_overlay_runs_serve_on_its_own_schedule_with_drills_and_is_scraped() {
    let objects = render("overlays/scheduled");
    let deployment = find(&objects, "Deployment", "forge-backup");
    let pod = &deployment["spec"]["template"]["spec"];
    assert_pod_is_hardened("scheduled Deployment", pod, &objects);
    let command = strs(&pod["containers"][0]["command"]);
    assert_eq!(command[..2], ["forgesafe", "serve"]);
    for (flag, value) in [
        ("--config", "/config/conf.yml"),
        ("--schedule", "0 2 * * *"),
        ("--window", "01:00-05:00"),
        ("--drill-schedule", "0 6 * * 0"),
    ] {
        let at = command
            .iter()
            .position(|a| a == flag)
            .unwrap_or_else(|| panic!("{flag} missing: {command:?}"));
        assert_eq!(command[at + 1], value, "{command:?}");
    }
    // The binary takes exactly this command line: with the ConfigMap's conf.yml (its token file
    // moved here) and no profile, it gets as far as asking for the repository, so every flag, the
    // schedule and the window were accepted.
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("token"), "t0ken").unwrap();
    let conf = find(&objects, "ConfigMap", "forge-backup-config")["data"]["conf.yml"]
        .as_str()
        .unwrap()
        .replace(
            "/secrets/forge/token",
            &tmp.path().join("token").display().to_string(),
        );
    std::fs::write(tmp.path().join("conf.yml"), conf).unwrap();
    let args: Vec<String> = command[1..]
        .iter()
        .map(|a| {
            a.replace(
                "/config/conf.yml",
                &tmp.path().join("conf.yml").display().to_string(),
            )
            .replace("0.0.0.0:8080", "127.0.0.1:0")
        })
        .collect();
    let out = common::run_expect(common::forgesafe().args(&args), 69);
    assert!(
        common::stderr(&out).contains("a schedule needs a repository to push to"),
        "{}",
        common::stderr(&out)
    );
    let annotations = &deployment["spec"]["template"]["metadata"]["annotations"];
    assert_eq!(annotations["prometheus.io/path"], "/metrics");
    assert_eq!(annotations["prometheus.io/port"], "8080");
    assert!(
        pod["terminationGracePeriodSeconds"].as_u64() > Some(25),
        "Kubernetes must wait longer than serve's --grace"
    );
    let service = find(&objects, "Service", "forge-backup");
    assert_eq!(service["spec"]["ports"][0]["targetPort"], "http");
}
