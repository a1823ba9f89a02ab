//! The container image and the manifests, run for real in podman: the image as a new user would
//! run it (an arbitrary UID in group 0, read-only root, profile and password as mounted files), the
//! base Deployment started by `podman kube play` with the blueprint's phases exec'd into it as
//! Kasten's KubeExec does, the CronJob's pod run once, and the sharded Indexed Job's three pods
//! run at once. The image is built once for this test binary (see `common::podman::test_image`
//! for what it is built from) and removed at exit.

mod common;

use common::podman::{
    podman, podman_ok, process_ids, test_image, unique_name, Container, KubePlay,
};
use common::s3::{free_port, S3Server};
use common::tree::{assert_same_tree, make_tree};
use common::{ok, stdout, ACCESS_KEY, PASSWORD, SECRET_KEY};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A folder the container may write as an arbitrary UID in group 0 (tempdirs are 0700).
fn shared_dir(path: &Path) -> PathBuf {
    std::fs::create_dir_all(path).unwrap();
    chmod(path, 0o777);
    path.to_path_buf()
}

/// A UID no account on the host or in the image has (OpenShift picks them like this).
fn random_uid() -> u32 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    1_000_000 + (nanos ^ std::process::id()) % 1_000_000
}

/// Gives the files the pod's user made to the test's user, for the host's git (which refuses
/// repositories of another owner).
fn own(dir: &Path) {
    let me = format!("{}:{}", unsafe { libc::getuid() }, unsafe {
        libc::getgid()
    });
    ok(Command::new("chown").args(["-R", &me]).arg(dir));
}

fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split_whitespace().nth(1)?.parse().ok()?;
    Some((
        status,
        response.split("\r\n\r\n").nth(1).unwrap_or("").to_string(),
    ))
}

#[test]
fn the_image_is_non_root_serves_by_default_and_carries_its_labels() {
    let image = test_image();
    let out = podman_ok(&["image", "inspect", image]);
    let inspect: Value = serde_json::from_slice(&out.stdout).unwrap();
    let config = &inspect[0]["Config"];
    assert_eq!(config["User"], "65532:0");
    assert_eq!(config["Cmd"], json!(["forgesafe", "serve"]));
    let labels = &config["Labels"];
    assert_eq!(
        labels["org.opencontainers.image.version"],
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(
        labels["org.opencontainers.image.licenses"],
        env!("CARGO_PKG_LICENSE")
    );
    assert!(!labels["org.opencontainers.image.source"]
        .as_str()
        .unwrap()
        .is_empty());
    let env: Vec<&str> = config["Env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for var in [
        "HOME=/tmp",
        "TMPDIR=/tmp",
        "FORGESAFE_CACHE_DIR=/tmp/forgesafe-cache",
    ] {
        assert!(env.contains(&var), "{var} not in {env:?}");
    }
    // What is inside: the tools phases and ssh sources need, and no package manager, compiler or git.
    let out = podman_ok(&["run", "--rm", "--read-only", "--network", "none", image, "bash", "-o", "errexit", "-c",
        "for t in bash env cat cp ssh ssh-keygen forgesafe; do command -v $t; done; \
         for t in dpkg apt apt-get git gcc cc perl python3 sh-not-there; do if command -v $t; then echo FOUND $t; fi; done; \
         test -s /etc/ssl/certs/ca-certificates.crt; test -f /usr/share/zoneinfo/Europe/Berlin; echo done"]);
    let text = stdout(&out);
    assert!(
        !text.contains("FOUND") && text.trim_end().ends_with("done"),
        "{text}"
    );
}

#[test]
fn an_arbitrary_uid_on_a_read_only_root_pushes_a_mounted_folder_to_s3_and_pulls_it_back_byte_identical(
) {
    let image = test_image();
    let tmp = tempfile::tempdir().unwrap();
    let server = S3Server::start();
    server.create_bucket("image");
    let secrets = shared_dir(&tmp.path().join("secrets"));
    std::fs::write(
        secrets.join("profile.json"),
        server.profile("image", "repo"),
    )
    .unwrap();
    std::fs::write(secrets.join("password"), format!("{PASSWORD}\n")).unwrap();
    chmod(&secrets.join("profile.json"), 0o644);
    chmod(&secrets.join("password"), 0o644);
    let data = tmp.path().join("data");
    make_tree(&data, 11, 400_000);
    ok(Command::new("chmod").args(["-R", "a+rX"]).arg(&data));
    let restore = shared_dir(&tmp.path().join("restore"));
    let uid = random_uid();
    let user = format!("{uid}:0");
    let mounts = [
        format!("{}:/secrets:ro", secrets.display()),
        format!("{}:/data:ro", data.display()),
        format!("{}:/restore", restore.display()),
    ];
    let run = |args: &[&str]| {
        let mut cmd = podman();
        cmd.args([
            "run",
            "--rm",
            "--read-only",
            "--network",
            "host",
            "--user",
            &user,
        ]);
        for m in &mounts {
            cmd.args(["--volume", m]);
        }
        cmd.args([
            "--env",
            "FORGESAFE_PROFILE_FILE=/secrets/profile.json",
            "--env",
            "FORGESAFE_PASSWORD_FILE=/secrets/password",
            "--env",
            "FORGESAFE_LOG_FORMAT=human",
        ]);
        cmd.arg(image).args(args);
        let out = ok(&mut cmd);
        let all = format!("{}{}", stdout(&out), common::stderr(&out));
        for secret in [SECRET_KEY, PASSWORD, ACCESS_KEY] {
            assert!(
                !all.contains(secret),
                "a secret reached the output of {args:?}"
            );
        }
        out
    };

    let version = stdout(&run(&["forgesafe", "--version"]));
    assert_eq!(
        version.trim(),
        format!("forgesafe {}", env!("CARGO_PKG_VERSION"))
    );
    let pushed = run(&[
        "forgesafe",
        "location",
        "push",
        "/data",
        "--path",
        "image/test",
    ]);
    let (_, id, logical, _) = common::parse_push_output(&stdout(&pushed));
    assert!(logical > 400_000, "{logical}");
    run(&[
        "forgesafe",
        "location",
        "pull",
        "/restore/out",
        "--path",
        "image/test",
        "--snapshot",
        &id,
    ]);
    assert_same_tree(&data, &restore.join("out"));
    ok(&mut server
        .restic("image", "repo")
        .args(["check", "--read-data"]));

    // The default command under that UID: serve answers, and its process is not root.
    let port = free_port();
    let serve = Container::run(
        "serve",
        &[
            "--read-only",
            "--network",
            "host",
            "--user",
            &user,
            "--env",
            &format!("FORGESAFE_LISTEN=127.0.0.1:{port}"),
            image,
        ],
    );
    while http_get(port, "/healthz").is_none() {
        assert!(
            podman_ok(&["inspect", "--format", "{{.State.Running}}", &serve.name])
                .stdout
                .starts_with(b"true"),
            "serve stopped:\n{}",
            serve.logs()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(http_get(port, "/healthz").unwrap(), (200, "ok".to_string()));
    assert_eq!(http_get(port, "/readyz").unwrap().0, 200);
    let (uids, gids) = process_ids(serve.pid());
    assert!(
        uids.iter().all(|&u| u == uid),
        "forgesafe serve runs as {uids:?}, not {uid}"
    );
    assert!(gids.iter().all(|&g| g == 0), "group 0: {gids:?}");
}

/// Renders `kustomization_dir` through a test overlay for podman: the test image, host networking
/// (so the pod reaches the test's servers on 127.0.0.1), the data volume as a host folder, no
/// `ports` (refused with host networking), serve on `port`. `pod_spec` is where the workload's pod
/// spec is (JSON pointer). Then, for podman 4.3's `kube play` (whose secret volumes panic, see
/// ../shared/notes/test-rig.md), each Secret becomes a ConfigMap with the same keys and `values`,
/// and each secret volume a configMap volume. Returns (ConfigMaps, the workload).
fn podman_objects(
    tmp: &Path,
    kustomization_dir: &str,
    kind: &str,
    name: &str,
    pod_spec: &str,
    host_dir: &Path,
    port: u16,
    values: &[(&str, String)],
) -> (Vec<Value>, Value) {
    let image = test_image();
    let (repository, tag) = image.rsplit_once(':').unwrap();
    let overlay = tmp.join(format!("overlay-{}", kind.to_lowercase()));
    std::fs::create_dir_all(&overlay).unwrap();
    // kustomize takes only relative paths to a base: climb from the overlay to / and back down.
    let climb = "../".repeat(overlay.components().count() - 1);
    let base = format!(
        "{climb}{}",
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("manifests")
            .join(kustomization_dir)
            .display()
    )
    .replace("//", "/");
    let mut ops = vec![
        json!({"op": "add", "path": format!("{pod_spec}/hostNetwork"), "value": true}),
        json!({"op": "replace", "path": format!("{pod_spec}/volumes/0"), "value": {"name": "backups", "hostPath": {"path": host_dir, "type": "Directory"}}}),
    ];
    if kind == "Deployment" {
        ops.push(json!({"op": "remove", "path": format!("{pod_spec}/containers/0/ports")}));
        ops.push(json!({"op": "replace", "path": format!("{pod_spec}/containers/0/command"), "value": ["forgesafe", "serve", "--listen", format!("127.0.0.1:{port}")]}));
        for probe in ["livenessProbe", "readinessProbe"] {
            ops.push(json!({"op": "replace", "path": format!("{pod_spec}/containers/0/{probe}/httpGet/port"), "value": port}));
        }
    }
    let kustomization = json!({
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [base],
        "images": [{"name": "localhost/forgesafe", "newName": repository, "newTag": tag}],
        "patches": [{"target": {"kind": kind, "name": name}, "patch": serde_json::to_string(&ops).unwrap()}],
    });
    std::fs::write(
        overlay.join("kustomization.yaml"),
        serde_json::to_string(&kustomization).unwrap(),
    )
    .unwrap();
    let kubectl = common::require_tool("kubectl", "install kubectl (it carries kustomize)");
    let rendered = stdout(&ok(Command::new(kubectl).arg("kustomize").arg(&overlay)));
    let objects: Vec<Value> = serde_yaml::Deserializer::from_str(&rendered)
        .map(|d| {
            serde_json::to_value(<serde_yaml::Value as serde::Deserialize>::deserialize(d).unwrap())
                .unwrap()
        })
        .collect();

    let mut config_maps = Vec::new();
    let mut renamed: Vec<(String, String)> = Vec::new();
    for object in &objects {
        let is_secret = object["kind"] == "Secret";
        if !is_secret && object["kind"] != "ConfigMap" {
            continue;
        }
        let field = if is_secret { "stringData" } else { "data" };
        let mut data = serde_json::Map::new();
        for key in object[field].as_object().unwrap().keys() {
            let value = values.iter().find(|(k, _)| k == key).unwrap_or_else(|| {
                panic!(
                    "the test has no value for key {key} of {}",
                    object["metadata"]["name"]
                )
            });
            data.insert(key.clone(), json!(value.1));
        }
        // podman keeps a ConfigMap as a named volume of that name: unique names per test.
        let name = object["metadata"]["name"].as_str().unwrap().to_string();
        renamed.push((name.clone(), unique_name(&name)));
        config_maps.push(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": renamed.last().unwrap().1}, "data": data}));
    }
    let mut workload = objects
        .into_iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap();
    workload["metadata"]["name"] = json!(unique_name(&kind.to_lowercase()));
    let pod = workload.pointer_mut(pod_spec).unwrap();
    for volume in pod["volumes"].as_array_mut().unwrap() {
        let unique = |name: &Value| json!(renamed.iter().find(|(old, _)| name == old).unwrap().1);
        if let Some(secret) = volume.as_object_mut().unwrap().remove("secret") {
            // podman applies no fsGroup: the files must be readable by the pod's user as such.
            volume["configMap"] =
                json!({"name": unique(&secret["secretName"]), "defaultMode": 0o444});
        } else if volume.get("configMap").is_some() {
            volume["configMap"]["name"] = unique(&volume["configMap"]["name"]);
        }
    }
    assert_eq!(
        pod["volumes"][0]["hostPath"]["path"],
        json!(host_dir),
        "the data volume is the host folder"
    );
    assert_eq!(pod["containers"][0]["image"], json!(image));
    (config_maps, workload)
}

fn names(objects: &[Value]) -> Vec<String> {
    objects
        .iter()
        .map(|o| o["metadata"]["name"].as_str().unwrap().to_string())
        .collect()
}

fn write_play(tmp: &Path, config_maps: &[Value], workload: &Value) -> PathBuf {
    write_play_all(tmp, config_maps, std::slice::from_ref(workload))
}

/// One `kube play` file: the ConfigMaps first (podman needs them before the workloads), then
/// every workload, which podman starts together.
fn write_play_all(tmp: &Path, config_maps: &[Value], workloads: &[Value]) -> PathBuf {
    let mut text = String::new();
    for object in config_maps.iter().chain(workloads) {
        text.push_str("---\n");
        text.push_str(&serde_yaml::to_string(object).unwrap());
    }
    let file = tmp.join(format!(
        "play-{}.yaml",
        workloads[0]["metadata"]["name"].as_str().unwrap()
    ));
    std::fs::write(&file, text).unwrap();
    file
}

fn container_state(name: &str) -> (String, i64) {
    let out = podman_ok(&[
        "inspect",
        "--format",
        "{{.State.Status}} {{.State.ExitCode}}",
        name,
    ]);
    let text = stdout(&out);
    let (status, code) = text.trim().split_once(' ').unwrap();
    (status.to_string(), code.parse().unwrap())
}

/// What Kasten's KubeExec does with a rendered phase: the command in the pod's container, outputs
/// parsed from stdout. Returns the phase's outputs.
fn kube_exec(container: &str, phase: &Value) -> serde_json::Map<String, Value> {
    assert_eq!(phase["func"], "KubeExec");
    let command: Vec<String> = phase["args"]["command"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    let out = podman()
        .args(["exec", container])
        .args(&command)
        .output()
        .unwrap();
    let (text, err) = (stdout(&out), common::stderr(&out));
    assert!(
        out.status.success(),
        "phase {} failed ({:?}):\n{text}\n{err}",
        phase["name"],
        out.status
    );
    for secret in [SECRET_KEY, PASSWORD] {
        assert!(
            !text.contains(secret) && !err.contains(secret),
            "a secret in phase {}'s output",
            phase["name"]
        );
    }
    let mut outputs = serde_json::Map::new();
    for line in text.lines() {
        if let Some(at) = line.find("###Phase-output###:") {
            let body: Value =
                serde_json::from_str(line[at + "###Phase-output###:".len()..].trim()).unwrap();
            outputs.insert(
                body["key"].as_str().unwrap().to_string(),
                body["value"].clone(),
            );
        }
    }
    outputs
}

fn render_action(tmp: &Path, action: &str, context: &Value) -> Value {
    let file = tmp.join(format!("context-{action}.json"));
    std::fs::write(&file, context.to_string()).unwrap();
    let blueprint = Path::new(env!("CARGO_MANIFEST_DIR")).join("blueprints/forge-backup.yaml");
    let out = ok(common::forgesafe()
        .args(["blueprint", "render"])
        .arg(&blueprint)
        .args(["--action", action, "--context"])
        .arg(&file));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn the_base_deployment_runs_in_kube_play_and_the_forge_backup_blueprint_backs_up_restores_and_deletes_inside_it(
) {
    let tmp = tempfile::tempdir().unwrap();
    let server = S3Server::start();
    server.create_bucket("kasten");
    let forge = common::git_http_server::GitHttpServer::start();
    let upstream = common::git::Upstream::create(&forge.path("team/app.git"), tmp.path());
    upstream.commit("main.rs", "fn main() {}\n");
    upstream.push(&["main"]);
    let volume = shared_dir(&tmp.path().join("backups"));
    let conf = format!(
        "source:\n  any:\n    - url: {}\ndestination:\n  local:\n    - path: /backups\n",
        forge.url("team/app.git")
    );
    let profile = server.profile("kasten", "k10/forge");
    let port = free_port();
    let values = [
        ("conf.yml", conf),
        ("token", "unused-token".to_string()),
        ("password", format!("{PASSWORD}\n")),
        ("profile.json", profile.clone()),
    ];
    let (config_maps, deployment) = podman_objects(
        tmp.path(),
        "base",
        "Deployment",
        "forge-backup",
        "/spec/template/spec",
        &volume,
        port,
        &values,
    );
    let name = deployment["metadata"]["name"].as_str().unwrap().to_string();
    let play = write_play(tmp.path(), &config_maps, &deployment);
    // podman names a Deployment's pod <name>-pod-0 and its containers <pod>-<container>.
    let pod = format!("{name}-pod-0");
    let container = format!("{pod}-forgesafe");

    let started = Instant::now();
    let _pods = KubePlay::play(&play, &[&pod], &names(&config_maps));
    while http_get(port, "/readyz").map(|(s, _)| s) != Some(200) {
        let (status, code) = container_state(&container);
        assert!(
            status == "running" || status == "created" || status == "configured",
            "the container stopped ({status}, exit {code}):\n{}",
            stdout(&podman_ok(&["logs", &container]))
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!(
        "kube play to ready: {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(http_get(port, "/healthz").unwrap(), (200, "ok".to_string()));
    let (uids, _) = process_ids(
        stdout(&podman_ok(&[
            "inspect",
            "--format",
            "{{.State.Pid}}",
            &container,
        ]))
        .trim()
        .parse()
        .unwrap(),
    );
    assert!(
        uids.iter().all(|&u| u == 65532),
        "the pod's forgesafe runs as {uids:?}"
    );

    // Kasten's context for this pod; each action rendered, then its phases exec'd in the container.
    let mut context = json!({
        "Deployment": {"Name": name, "Namespace": "forge", "Pods": [pod], "Containers": [["forgesafe"]]},
        "Profile": serde_json::from_str::<Value>(&profile).unwrap(),
        "Phases": {"collectAndPush": {"Output": {"forgeSnapshot": ""}}},
    });
    let backup = render_action(tmp.path(), "backup", &context);
    let outputs = kube_exec(&container, &backup["phases"][0]);
    context["Phases"]["collectAndPush"]["Output"] = Value::Object(outputs);
    let artifacts = render_action(tmp.path(), "backup", &context)["outputArtifacts"].clone();
    let snapshot = artifacts["forgeBackup"]["kopiaSnapshot"]
        .as_str()
        .unwrap()
        .to_string();
    let id = serde_json::from_str::<Value>(&snapshot).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(id.len(), 64);
    let listing = stdout(&ok(Command::new("find")
        .arg(&volume)
        .args(["-maxdepth", "3"])));
    assert!(
        volume.join("127.0.0.1/team/app.git").is_dir(),
        "the mirror is on the volume: {listing}"
    );

    let backed_up = tmp.path().join("backed-up");
    ok(Command::new("cp").arg("-a").arg(&volume).arg(&backed_up));
    for entry in std::fs::read_dir(&volume).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            std::fs::remove_dir_all(&path).unwrap()
        } else {
            std::fs::remove_file(&path).unwrap()
        }
    }
    shared_dir(&volume.join("stale"));
    context["ArtifactsIn"] = json!({"forgeBackup": {"KopiaSnapshot": snapshot}});
    let restore = render_action(tmp.path(), "restore", &context);
    kube_exec(&container, &restore["phases"][0]);
    assert!(
        !volume.join("stale").exists(),
        "the volume is replaced by the snapshot"
    );
    assert_same_tree(&backed_up, &volume);
    own(&volume);
    common::git::assert_fsck_clean(&volume.join("127.0.0.1/team/app.git"));

    let delete = render_action(tmp.path(), "delete", &context);
    kube_exec(&container, &delete["phases"][0]);
    let snaps = ok(&mut server
        .restic("kasten", "k10/forge")
        .args(["snapshots", "--json"]));
    assert_eq!(
        serde_json::from_slice::<Value>(&snaps.stdout)
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        0,
        "the snapshot is gone"
    );
    ok(&mut server.restic("kasten", "k10/forge").args(["check"]));
}

#[test]
fn the_cronjobs_pod_template_runs_once_as_a_pod_and_backs_up() {
    let tmp = tempfile::tempdir().unwrap();
    let server = S3Server::start();
    server.create_bucket("cron");
    let forge = common::git_http_server::GitHttpServer::start();
    let upstream = common::git::Upstream::create(&forge.path("team/cron.git"), tmp.path());
    let volume = shared_dir(&tmp.path().join("backups"));
    let conf = format!(
        "source:\n  any:\n    - url: {}\ndestination:\n  local:\n    - path: /backups\n",
        forge.url("team/cron.git")
    );
    let values = [
        ("conf.yml", conf),
        ("token", "unused-token".to_string()),
        ("password", format!("{PASSWORD}\n")),
        ("profile.json", server.profile("cron", "nightly")),
    ];
    let pod_spec = "/spec/jobTemplate/spec/template/spec";
    let (config_maps, cron) = podman_objects(
        tmp.path(),
        "overlays/cronjob",
        "CronJob",
        "forge-backup",
        pod_spec,
        &volume,
        free_port(),
        &values,
    );
    assert_eq!(cron["spec"]["concurrencyPolicy"], "Forbid");
    // One run of the CronJob = its pod template as a Pod.
    let name = cron["metadata"]["name"].as_str().unwrap().to_string();
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": cron.pointer(pod_spec).unwrap()});
    assert_eq!(pod["spec"]["restartPolicy"], "Never");
    let play = write_play(tmp.path(), &config_maps, &pod);
    let container = format!("{name}-forgesafe");
    let _pods = KubePlay::play(&play, &[&name], &names(&config_maps));
    let logs = loop {
        let (status, code) = container_state(&container);
        if status == "exited" || status == "stopped" {
            let out = podman().args(["logs", &container]).output().unwrap();
            let logs = format!("{}{}", stdout(&out), common::stderr(&out));
            assert_eq!(code, 0, "the backup failed:\n{logs}");
            break logs;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        logs.contains("###Phase-output###"),
        "backup prints the artifact line:\n{logs}"
    );
    assert!(volume.join("127.0.0.1/team/cron.git").is_dir());
    own(&volume);
    assert_eq!(
        common::git::local_refs(&volume.join("127.0.0.1/team/cron.git")),
        common::git::ls_remote(upstream.bare.to_str().unwrap())
    );
    let snaps = ok(&mut server
        .restic("cron", "nightly")
        .args(["snapshots", "--json"]));
    let snaps: Value = serde_json::from_slice(&snaps.stdout).unwrap();
    assert_eq!(snaps.as_array().unwrap().len(), 1);
    assert!(
        snaps[0]["tags"]
            .as_array()
            .unwrap()
            .contains(&json!("path:forge/forge/forge-backup")),
        "{snaps}"
    );
    ok(&mut server.restic("cron", "nightly").args(["check"]));
}

/// Kubernetes expands `$(NAME)` in a container's command from the container's env; podman 4.3's
/// `kube play` passes it through literally (it does fill the env itself, `fieldRef`s to the pod's
/// annotations included). So the pod runs the same command through bash, which expands the same
/// variables from the same env: `exec 'forgesafe' … '--shard' "${SHARD_INDEX}"'/3' …`.
fn expand_like_kubernetes(command: &[Value], env: &[Value]) -> Value {
    let words: Vec<String> = command
        .iter()
        .map(|arg| {
            let arg = arg.as_str().unwrap();
            assert!(!arg.contains('\''), "a quote in {arg:?}");
            env.iter()
                .map(|e| e["name"].as_str().unwrap())
                .fold(format!("'{arg}'"), |word, name| {
                    word.replace(&format!("$({name})"), &format!("'\"${{{name}}}\"'"))
                })
        })
        .collect();
    json!([
        "bash",
        "-o",
        "errexit",
        "-c",
        format!("exec {}", words.join(" "))
    ])
}

/// The mirrors under a volume folder: `<host>/<owner>/<name>.git`.
fn mirrors_in(dir: &Path) -> BTreeSet<String> {
    common::git::all_files(dir)
        .into_iter()
        .filter(|f| {
            f.file_name().unwrap() == "HEAD"
                && f.parent().unwrap().extension().is_some_and(|e| e == "git")
        })
        .map(|f| {
            f.parent()
                .unwrap()
                .strip_prefix(dir)
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect()
}

/// The uid the Job controller would give tonight's Job (and label its pods with).
const JOB_UID: &str = "5b0f6c1e-2d3a-4e8f-9a7b-1c2d3e4f5a6b";

#[test]
fn the_sharded_jobs_three_pods_back_up_one_shard_each_into_one_repository_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let server = S3Server::start();
    server.create_bucket("shards");
    let forge = common::git_http_server::GitHttpServer::start();
    let account = [
        "api", "web", "docs", "infra", "mobile", "billing", "search", "design",
    ];
    let upstreams: Vec<_> = account
        .iter()
        .map(|n| common::git::Upstream::create(&forge.path(&format!("acme/{n}.git")), tmp.path()))
        .collect();
    let volume = shared_dir(&tmp.path().join("backups"));
    let sources: String = account
        .iter()
        .map(|n| format!("    - url: {}\n", forge.url(&format!("acme/{n}.git"))))
        .collect();
    let conf = format!("source:\n  any:\n{sources}destination:\n  local:\n    - path: /backups\n");
    let profile = server.profile("shards", "forge");
    let values = [
        ("conf.yml", conf),
        ("token", "unused-token".to_string()),
        ("password", format!("{PASSWORD}\n")),
        ("profile.json", profile.clone()),
    ];
    let pod_spec = "/spec/jobTemplate/spec/template/spec";
    let (config_maps, cron) = podman_objects(
        tmp.path(),
        "overlays/sharded",
        "CronJob",
        "forge-backup-sharded",
        pod_spec,
        &volume,
        free_port(),
        &values,
    );
    let job = &cron["spec"]["jobTemplate"]["spec"];
    assert_eq!(job["completionMode"], "Indexed");
    assert_eq!(
        (job["completions"].as_u64(), job["parallelism"].as_u64()),
        (Some(3), Some(3)),
        "three shards, all at once"
    );
    let template = cron.pointer(pod_spec).unwrap();
    let container = &template["containers"][0];
    let env = container["env"].as_array().unwrap();
    let index_source = env.iter().find(|e| e["name"] == "SHARD_INDEX").unwrap();
    assert_eq!(
        index_source["valueFrom"]["fieldRef"]["fieldPath"],
        "metadata.annotations['batch.kubernetes.io/job-completion-index']"
    );
    let command = container["command"].as_array().unwrap();
    let base_path = command
        .windows(2)
        .find(|w| w[0] == "--path")
        .map(|w| w[1].as_str().unwrap().to_string())
        .unwrap();
    assert_eq!(
        base_path, "forge/forge/forge-backup",
        "backup --shard adds the shard to the path itself"
    );
    let run_source = env
        .iter()
        .find(|e| e["name"] == "FORGESAFE_RUN_ID")
        .unwrap();
    assert_eq!(
        run_source["valueFrom"]["fieldRef"]["fieldPath"],
        "metadata.labels['batch.kubernetes.io/controller-uid']"
    );
    assert_eq!(template["volumes"][0]["name"], "backups");
    let mount = container["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .position(|m| m["name"] == "backups")
        .unwrap();
    let sub_path_expr = container["volumeMounts"][mount]["subPathExpr"]
        .as_str()
        .unwrap()
        .to_string();

    // What the Job controller makes of the template: pod INDEX with the completion-index
    // annotation. podman 4.3 ignores `subPathExpr` (and `subPath`) on a hostPath volume and mounts
    // the whole folder, so each pod gets as its volume the sub-folder the expression names on
    // the shared volume instead; and `$(SHARD_INDEX)` in the command is left to bash (see
    // `expand_like_kubernetes`). The index itself still comes from the annotation, via the env.
    // And each pod gets ConfigMaps of its own, with the same data: podman 4.3 keeps a ConfigMap
    // as one named volume and writes its files again for every pod that mounts it, and with one
    // shared ConfigMap a pod already running read an empty profile.json ("profile is not valid
    // JSON (EOF …)") while the next pod was being set up.
    let shard_dirs: Vec<PathBuf> = (0..3)
        .map(|index| volume.join(sub_path_expr.replace("$(SHARD_INDEX)", &index.to_string())))
        .collect();
    let mut pods_config_maps = Vec::new();
    let pods: Vec<Value> = shard_dirs
        .iter()
        .enumerate()
        .map(|(index, dir)| {
            let mut spec = template.clone();
            spec["volumes"][0] = json!({"name": "backups", "hostPath": {"path": shared_dir(dir), "type": "Directory"}});
            for volume in spec["volumes"].as_array_mut().unwrap().iter_mut().filter(|v| v.get("configMap").is_some()) {
                let own = format!("{}-{index}", volume["configMap"]["name"].as_str().unwrap());
                let mut copy = config_maps.iter().find(|c| c["metadata"]["name"] == volume["configMap"]["name"]).unwrap().clone();
                copy["metadata"]["name"] = json!(own);
                volume["configMap"]["name"] = json!(own);
                pods_config_maps.push(copy);
            }
            let container = &mut spec["containers"][0];
            container["command"] = expand_like_kubernetes(command, env);
            container["volumeMounts"][mount].as_object_mut().unwrap().remove("subPathExpr");
            let mut metadata = cron.pointer("/spec/jobTemplate/spec/template/metadata").unwrap().clone();
            metadata["name"] = json!(unique_name(&format!("shard-{index}")));
            metadata["annotations"] = json!({"batch.kubernetes.io/job-completion-index": index.to_string()});
            metadata["labels"]["batch.kubernetes.io/controller-uid"] = json!(JOB_UID);
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec})
        })
        .collect();
    let pod_names = names(&pods);
    let containers: Vec<String> = pod_names.iter().map(|p| format!("{p}-forgesafe")).collect();
    let play = write_play_all(tmp.path(), &pods_config_maps, &pods);
    // No `forgesafe init` first: the first night's three first pushes into the empty bucket make
    // one repository between them (its config is created only if absent).

    let played = Instant::now();
    let _pods = KubePlay::play(
        &play,
        &pod_names.iter().map(String::as_str).collect::<Vec<_>>(),
        &names(&pods_config_maps),
    );
    let mut logs: Vec<Option<String>> = vec![None; containers.len()];
    while logs.iter().any(Option::is_none) {
        for (index, container) in containers.iter().enumerate() {
            if logs[index].is_some() {
                continue;
            }
            let (status, code) = container_state(container);
            if status == "exited" || status == "stopped" {
                let out = podman().args(["logs", container]).output().unwrap();
                let text = format!("{}{}", stdout(&out), common::stderr(&out));
                assert_eq!(code, 0, "shard {index} failed:\n{text}");
                logs[index] = Some(text);
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    eprintln!(
        "three shards from kube play to the last exit: {:.1} s",
        played.elapsed().as_secs_f64()
    );
    // podman starts the pods one after the other; how long all three then ran side by side is
    // reported, not asserted (it is up to podman and the machine's load, not forgesafe).
    let time_of = |container: &str, field: &str| -> i64 {
        stdout(&podman_ok(&[
            "inspect",
            "--format",
            &format!("{{{{.State.{field}.UnixNano}}}}"),
            container,
        ]))
        .trim()
        .parse()
        .unwrap()
    };
    let starts: Vec<i64> = containers.iter().map(|c| time_of(c, "StartedAt")).collect();
    let first_end = containers
        .iter()
        .map(|c| time_of(c, "FinishedAt"))
        .min()
        .unwrap();
    let (first_start, last_start) = (*starts.iter().min().unwrap(), *starts.iter().max().unwrap());
    eprintln!(
        "the pods started within {:.1} s; all three ran side by side for {:.1} s",
        (last_start - first_start) as f64 / 1e9,
        (first_end - last_start) as f64 / 1e9
    );
    for (index, (container, logs)) in containers.iter().zip(&logs).enumerate() {
        let logs = logs.as_deref().unwrap();
        assert!(
            logs.contains("###Phase-output###"),
            "shard {index} prints the artifact line:\n{logs}"
        );
        for secret in [SECRET_KEY, PASSWORD] {
            assert!(!logs.contains(secret), "a secret in shard {index}'s output");
        }
        let env = stdout(&podman_ok(&[
            "inspect",
            "--format",
            "{{range .Config.Env}}{{println .}}{{end}}",
            container,
        ]));
        assert!(
            env.lines().any(|l| l == format!("SHARD_INDEX={index}")),
            "the downward API gave shard {index} its index:\n{env}"
        );
    }

    // Every repository of the account mirrored, each by exactly one shard, each shard in its folder.
    let on_volume: Vec<String> = std::fs::read_dir(&volume)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        on_volume.len(),
        3,
        "only the shards' folders on the volume: {on_volume:?}"
    );
    let per_shard: Vec<_> = shard_dirs.iter().map(|d| mirrors_in(d)).collect();
    let account_mirrors: BTreeSet<String> = account
        .iter()
        .map(|n| format!("127.0.0.1/acme/{n}.git"))
        .collect();
    assert_eq!(
        per_shard.iter().flatten().cloned().collect::<BTreeSet<_>>(),
        account_mirrors,
        "every repository is mirrored: {per_shard:?}"
    );
    assert_eq!(
        per_shard.iter().map(|s| s.len()).sum::<usize>(),
        account.len(),
        "by exactly one shard: {per_shard:?}"
    );
    assert!(
        per_shard.iter().all(|s| !s.is_empty()),
        "each shard has repositories of its own (else pick other names): {per_shard:?}"
    );
    own(&volume);
    for (name, upstream) in account.iter().zip(&upstreams) {
        let dir = shard_dirs
            .iter()
            .map(|d| d.join(format!("127.0.0.1/acme/{name}.git")))
            .find(|d| d.is_dir())
            .unwrap();
        assert_eq!(
            common::git::local_refs(&dir),
            common::git::ls_remote(upstream.bare.to_str().unwrap()),
            "{name}"
        );
    }

    // One run (the Job's uid) of three shards, complete; each shard under its own path: backup
    // files a shard under `<--path>/shard-I-of-N`.
    let out =
        ok(common::forgesafe_pw().args(["snapshots", "-p", &profile, "--shards-of", &base_path]));
    let runs: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(runs.as_array().unwrap().len(), 1, "{runs}");
    assert_eq!(
        (&runs[0]["run"], &runs[0]["count"], &runs[0]["complete"]),
        (&json!(JOB_UID), &json!(3), &json!(true)),
        "{runs}"
    );
    let shards: BTreeMap<String, String> = runs[0]["shards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["shard"].as_str().unwrap().to_string(),
                s["path"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected: BTreeMap<String, String> = (0..3)
        .map(|i| (format!("{i}/3"), format!("{base_path}/shard-{i}-of-3")))
        .collect();
    assert_eq!(shards, expected, "{runs}");
    let snaps = ok(&mut server
        .restic("shards", "forge")
        .args(["snapshots", "--json"]));
    assert_eq!(
        serde_json::from_slice::<Value>(&snaps.stdout)
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        3,
        "one snapshot per shard"
    );
    ok(common::forgesafe_pw().args(["check", "--read-data", "-p", &profile]));
    ok(&mut server
        .restic("shards", "forge")
        .args(["check", "--read-data"]));
}
