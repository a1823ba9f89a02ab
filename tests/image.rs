//! The container image and the manifests, run for real in podman: the image as a new user would
//! run it (an arbitrary UID in group 0, read-only root, profile and password as mounted files), the
//! base Deployment started by `podman kube play` with the blueprint's phases exec'd into it as
//! Kasten's KubeExec does, and the CronJob's pod run once. The image is built once for this test
//! binary (see `common::podman::test_image` for what it is built from) and removed at exit.

mod common;

use common::podman::{podman, podman_ok, process_ids, test_image, unique_name, Container, KubePlay};
use common::s3::{free_port, S3Server};
use common::tree::{assert_same_tree, make_tree};
use common::{ok, stdout, ACCESS_KEY, PASSWORD, SECRET_KEY};
use serde_json::{json, Value};
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
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    1_000_000 + (nanos ^ std::process::id()) % 1_000_000
}

/// Gives the files the pod's user made to the test's user, for the host's git (which refuses
/// repositories of another owner).
fn own(dir: &Path) {
    let me = format!("{}:{}", unsafe { libc::getuid() }, unsafe { libc::getgid() });
    ok(Command::new("chown").args(["-R", &me]).arg(dir));
}

fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, response.split("\r\n\r\n").nth(1).unwrap_or("").to_string()))
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
    assert_eq!(labels["org.opencontainers.image.version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(labels["org.opencontainers.image.licenses"], env!("CARGO_PKG_LICENSE"));
    assert!(!labels["org.opencontainers.image.source"].as_str().unwrap().is_empty());
    let env: Vec<&str> = config["Env"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    for var in ["HOME=/tmp", "TMPDIR=/tmp", "FORGESAFE_CACHE_DIR=/tmp/forgesafe-cache"] {
        assert!(env.contains(&var), "{var} not in {env:?}");
    }
    // What is inside: the tools phases and ssh sources need, and no package manager, compiler or git.
    let out = podman_ok(&["run", "--rm", "--read-only", "--network", "none", image, "bash", "-o", "errexit", "-c",
        "for t in bash env cat cp ssh ssh-keygen forgesafe; do command -v $t; done; \
         for t in dpkg apt apt-get git gcc cc perl python3 sh-not-there; do if command -v $t; then echo FOUND $t; fi; done; \
         test -s /etc/ssl/certs/ca-certificates.crt; test -f /usr/share/zoneinfo/Europe/Berlin; echo done"]);
    let text = stdout(&out);
    assert!(!text.contains("FOUND") && text.trim_end().ends_with("done"), "{text}");
}

#[test]
fn an_arbitrary_uid_on_a_read_only_root_pushes_a_mounted_folder_to_s3_and_pulls_it_back_byte_identical() {
    let image = test_image();
    let tmp = tempfile::tempdir().unwrap();
    let server = S3Server::start();
    server.create_bucket("image");
    let secrets = shared_dir(&tmp.path().join("secrets"));
    std::fs::write(secrets.join("profile.json"), server.profile("image", "repo")).unwrap();
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
        cmd.args(["run", "--rm", "--read-only", "--network", "host", "--user", &user]);
        for m in &mounts {
            cmd.args(["--volume", m]);
        }
        cmd.args(["--env", "FORGESAFE_PROFILE_FILE=/secrets/profile.json", "--env", "FORGESAFE_PASSWORD_FILE=/secrets/password", "--env", "FORGESAFE_LOG_FORMAT=human"]);
        cmd.arg(image).args(args);
        let out = ok(&mut cmd);
        let all = format!("{}{}", stdout(&out), common::stderr(&out));
        for secret in [SECRET_KEY, PASSWORD, ACCESS_KEY] {
            assert!(!all.contains(secret), "a secret reached the output of {args:?}");
        }
        out
    };

    let version = stdout(&run(&["forgesafe", "--version"]));
    assert_eq!(version.trim(), format!("forgesafe {}", env!("CARGO_PKG_VERSION")));
    let pushed = run(&["forgesafe", "location", "push", "/data", "--path", "image/test"]);
    let (_, id, logical, _) = common::parse_push_output(&stdout(&pushed));
    assert!(logical > 400_000, "{logical}");
    run(&["forgesafe", "location", "pull", "/restore/out", "--path", "image/test", "--snapshot", &id]);
    assert_same_tree(&data, &restore.join("out"));
    ok(&mut server.restic("image", "repo").args(["check", "--read-data"]));

    // The default command under that UID: serve answers, and its process is not root.
    let port = free_port();
    let serve = Container::run("serve", &["--read-only", "--network", "host", "--user", &user, "--env", &format!("FORGESAFE_LISTEN=127.0.0.1:{port}"), image]);
    while http_get(port, "/healthz").is_none() {
        assert!(podman_ok(&["inspect", "--format", "{{.State.Running}}", &serve.name]).stdout.starts_with(b"true"), "serve stopped:\n{}", serve.logs());
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(http_get(port, "/healthz").unwrap(), (200, "ok".to_string()));
    assert_eq!(http_get(port, "/readyz").unwrap().0, 200);
    let (uids, gids) = process_ids(serve.pid());
    assert!(uids.iter().all(|&u| u == uid), "forgesafe serve runs as {uids:?}, not {uid}");
    assert!(gids.iter().all(|&g| g == 0), "group 0: {gids:?}");
}

/// Renders `kustomization_dir` through a test overlay for podman: the test image, host networking
/// (so the pod reaches the test's servers on 127.0.0.1), the data volume as a host folder, no
/// `ports` (refused with host networking), serve on `port`. `pod_spec` is where the workload's pod
/// spec is (JSON pointer). Then, for podman 4.3's `kube play` (whose secret volumes panic, see
/// ../shared/notes/test-rig.md), each Secret becomes a ConfigMap with the same keys and `values`,
/// and each secret volume a configMap volume. Returns (ConfigMaps, the workload).
fn podman_objects(tmp: &Path, kustomization_dir: &str, kind: &str, name: &str, pod_spec: &str, host_dir: &Path, port: u16, values: &[(&str, String)]) -> (Vec<Value>, Value) {
    let image = test_image();
    let (repository, tag) = image.rsplit_once(':').unwrap();
    let overlay = tmp.join(format!("overlay-{}", kind.to_lowercase()));
    std::fs::create_dir_all(&overlay).unwrap();
    // kustomize takes only relative paths to a base: climb from the overlay to / and back down.
    let climb = "../".repeat(overlay.components().count() - 1);
    let base = format!("{climb}{}", Path::new(env!("CARGO_MANIFEST_DIR")).join("manifests").join(kustomization_dir).display()).replace("//", "/");
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
    std::fs::write(overlay.join("kustomization.yaml"), serde_json::to_string(&kustomization).unwrap()).unwrap();
    let kubectl = common::require_tool("kubectl", "install kubectl (it carries kustomize)");
    let rendered = stdout(&ok(Command::new(kubectl).arg("kustomize").arg(&overlay)));
    let objects: Vec<Value> = serde_yaml::Deserializer::from_str(&rendered)
        .map(|d| serde_json::to_value(<serde_yaml::Value as serde::Deserialize>::deserialize(d).unwrap()).unwrap())
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
            let value = values.iter().find(|(k, _)| k == key).unwrap_or_else(|| panic!("the test has no value for key {key} of {}", object["metadata"]["name"]));
            data.insert(key.clone(), json!(value.1));
        }
        // podman keeps a ConfigMap as a named volume of that name: unique names per test.
        let name = object["metadata"]["name"].as_str().unwrap().to_string();
        renamed.push((name.clone(), unique_name(&name)));
        config_maps.push(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": renamed.last().unwrap().1}, "data": data}));
    }
    let mut workload = objects.into_iter().find(|o| o["kind"] == kind && o["metadata"]["name"] == name).unwrap();
    workload["metadata"]["name"] = json!(unique_name(&kind.to_lowercase()));
    let pod = workload.pointer_mut(pod_spec).unwrap();
    for volume in pod["volumes"].as_array_mut().unwrap() {
        let unique = |name: &Value| json!(renamed.iter().find(|(old, _)| name == old).unwrap().1);
        if let Some(secret) = volume.as_object_mut().unwrap().remove("secret") {
            // podman applies no fsGroup: the files must be readable by the pod's user as such.
            volume["configMap"] = json!({"name": unique(&secret["secretName"]), "defaultMode": 0o444});
        } else if volume.get("configMap").is_some() {
            volume["configMap"]["name"] = unique(&volume["configMap"]["name"]);
        }
    }
    assert_eq!(pod["volumes"][0]["hostPath"]["path"], json!(host_dir), "the data volume is the host folder");
    assert_eq!(pod["containers"][0]["image"], json!(image));
    (config_maps, workload)
}

fn names(objects: &[Value]) -> Vec<String> {
    objects.iter().map(|o| o["metadata"]["name"].as_str().unwrap().to_string()).collect()
}

fn write_play(tmp: &Path, config_maps: &[Value], workload: &Value) -> PathBuf {
    let mut text = String::new();
    for object in config_maps.iter().chain(std::iter::once(workload)) {
        text.push_str("---\n");
        text.push_str(&serde_yaml::to_string(object).unwrap());
    }
    let file = tmp.join(format!("play-{}.yaml", workload["metadata"]["name"].as_str().unwrap()));
    std::fs::write(&file, text).unwrap();
    file
}

fn container_state(name: &str) -> (String, i64) {
    let out = podman_ok(&["inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", name]);
    let text = stdout(&out);
    let (status, code) = text.trim().split_once(' ').unwrap();
    (status.to_string(), code.parse().unwrap())
}

/// What Kasten's KubeExec does with a rendered phase: the command in the pod's container, outputs
/// parsed from stdout. Returns the phase's outputs.
fn kube_exec(container: &str, phase: &Value) -> serde_json::Map<String, Value> {
    assert_eq!(phase["func"], "KubeExec");
    let command: Vec<String> = phase["args"]["command"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
    let out = podman().args(["exec", container]).args(&command).output().unwrap();
    let (text, err) = (stdout(&out), common::stderr(&out));
    assert!(out.status.success(), "phase {} failed ({:?}):\n{text}\n{err}", phase["name"], out.status);
    for secret in [SECRET_KEY, PASSWORD] {
        assert!(!text.contains(secret) && !err.contains(secret), "a secret in phase {}'s output", phase["name"]);
    }
    let mut outputs = serde_json::Map::new();
    for line in text.lines() {
        if let Some(at) = line.find("###Phase-output###:") {
            let body: Value = serde_json::from_str(line[at + "###Phase-output###:".len()..].trim()).unwrap();
            outputs.insert(body["key"].as_str().unwrap().to_string(), body["value"].clone());
        }
    }
    outputs
}

fn render_action(tmp: &Path, action: &str, context: &Value) -> Value {
    let file = tmp.join(format!("context-{action}.json"));
    std::fs::write(&file, context.to_string()).unwrap();
    let blueprint = Path::new(env!("CARGO_MANIFEST_DIR")).join("blueprints/forge-backup.yaml");
    let out = ok(common::forgesafe().args(["blueprint", "render"]).arg(&blueprint).args(["--action", action, "--context"]).arg(&file));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn the_base_deployment_runs_in_kube_play_and_the_forge_backup_blueprint_backs_up_restores_and_deletes_inside_it() {
    let tmp = tempfile::tempdir().unwrap();
    let server = S3Server::start();
    server.create_bucket("kasten");
    let forge = common::git_http_server::GitHttpServer::start();
    let upstream = common::git::Upstream::create(&forge.path("team/app.git"), tmp.path());
    upstream.commit("main.rs", "fn main() {}\n");
    upstream.push(&["main"]);
    let volume = shared_dir(&tmp.path().join("backups"));
    let conf = format!("source:\n  any:\n    - url: {}\ndestination:\n  local:\n    - path: /backups\n", forge.url("team/app.git"));
    let profile = server.profile("kasten", "k10/forge");
    let port = free_port();
    let values = [("conf.yml", conf), ("token", "unused-token".to_string()), ("password", format!("{PASSWORD}\n")), ("profile.json", profile.clone())];
    let (config_maps, deployment) = podman_objects(tmp.path(), "base", "Deployment", "forge-backup", "/spec/template/spec", &volume, port, &values);
    let name = deployment["metadata"]["name"].as_str().unwrap().to_string();
    let play = write_play(tmp.path(), &config_maps, &deployment);
    // podman names a Deployment's pod <name>-pod-0 and its containers <pod>-<container>.
    let pod = format!("{name}-pod-0");
    let container = format!("{pod}-forgesafe");

    let started = Instant::now();
    let _pods = KubePlay::play(&play, &[&pod], &names(&config_maps));
    while http_get(port, "/readyz").map(|(s, _)| s) != Some(200) {
        let (status, code) = container_state(&container);
        assert!(status == "running" || status == "created" || status == "configured", "the container stopped ({status}, exit {code}):\n{}", stdout(&podman_ok(&["logs", &container])));
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!("kube play to ready: {:.1} s", started.elapsed().as_secs_f64());
    assert_eq!(http_get(port, "/healthz").unwrap(), (200, "ok".to_string()));
    let (uids, _) = process_ids(stdout(&podman_ok(&["inspect", "--format", "{{.State.Pid}}", &container])).trim().parse().unwrap());
    assert!(uids.iter().all(|&u| u == 65532), "the pod's forgesafe runs as {uids:?}");

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
    let snapshot = artifacts["forgeBackup"]["kopiaSnapshot"].as_str().unwrap().to_string();
    let id = serde_json::from_str::<Value>(&snapshot).unwrap()["id"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 64);
    let listing = stdout(&ok(Command::new("find").arg(&volume).args(["-maxdepth", "3"])));
    assert!(volume.join("127.0.0.1/team/app.git").is_dir(), "the mirror is on the volume: {listing}");

    let backed_up = tmp.path().join("backed-up");
    ok(Command::new("cp").arg("-a").arg(&volume).arg(&backed_up));
    for entry in std::fs::read_dir(&volume).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() { std::fs::remove_dir_all(&path).unwrap() } else { std::fs::remove_file(&path).unwrap() }
    }
    shared_dir(&volume.join("stale"));
    context["ArtifactsIn"] = json!({"forgeBackup": {"KopiaSnapshot": snapshot}});
    let restore = render_action(tmp.path(), "restore", &context);
    kube_exec(&container, &restore["phases"][0]);
    assert!(!volume.join("stale").exists(), "the volume is replaced by the snapshot");
    assert_same_tree(&backed_up, &volume);
    own(&volume);
    common::git::assert_fsck_clean(&volume.join("127.0.0.1/team/app.git"));

    let delete = render_action(tmp.path(), "delete", &context);
    kube_exec(&container, &delete["phases"][0]);
    let snaps = ok(&mut server.restic("kasten", "k10/forge").args(["snapshots", "--json"]));
    assert_eq!(serde_json::from_slice::<Value>(&snaps.stdout).unwrap().as_array().unwrap().len(), 0, "the snapshot is gone");
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
    let conf = format!("source:\n  any:\n    - url: {}\ndestination:\n  local:\n    - path: /backups\n", forge.url("team/cron.git"));
    let values = [("conf.yml", conf), ("token", "unused-token".to_string()), ("password", format!("{PASSWORD}\n")), ("profile.json", server.profile("cron", "nightly"))];
    let pod_spec = "/spec/jobTemplate/spec/template/spec";
    let (config_maps, cron) = podman_objects(tmp.path(), "overlays/cronjob", "CronJob", "forge-backup", pod_spec, &volume, free_port(), &values);
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
    assert!(logs.contains("###Phase-output###"), "backup prints the artifact line:\n{logs}");
    assert!(volume.join("127.0.0.1/team/cron.git").is_dir());
    own(&volume);
    assert_eq!(common::git::local_refs(&volume.join("127.0.0.1/team/cron.git")), common::git::ls_remote(upstream.bare.to_str().unwrap()));
    let snaps = ok(&mut server.restic("cron", "nightly").args(["snapshots", "--json"]));
    let snaps: Value = serde_json::from_slice(&snaps.stdout).unwrap();
    assert_eq!(snaps.as_array().unwrap().len(), 1);
    assert!(snaps[0]["tags"].as_array().unwrap().contains(&json!("path:forge/forge/forge-backup")), "{snaps}");
    ok(&mut server.restic("cron", "nightly").args(["check"]));
}
