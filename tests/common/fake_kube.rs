//! A fake Kubernetes API server for tests. It stands for the Kubernetes v1.30 REST API (JSON over
//! HTTP/1.1) for the resources forgesafe touches, and for the pod `exec` subresource over
//! WebSocket with the `v4.channel.k8s.io` subprotocol (binary frames whose first byte is the
//! channel: 1 stdout, 2 stderr, 3 a `Status` JSON when the command ends).
//!
//! It listens on a real loopback socket, and clients reach it through an ordinary kubeconfig
//! file (`http://127.0.0.1:PORT`, no TLS), so the code under test runs exactly as against a
//! cluster. Commands it is asked to exec, and the commands of pods it is asked to create, run on
//! this machine (a created pod through `sh -c`, its combined output serving as its logs).

use axum::body::Bytes;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;

/// One stored object: (resource plural, namespace, name).
type Key = (String, String, String);

#[derive(Default)]
struct Store {
    objects: Mutex<BTreeMap<Key, Value>>,
    exec_calls: Mutex<Vec<ExecCall>>,
    deleted_pods: Mutex<Vec<String>>,
    logs: Mutex<BTreeMap<String, String>>,
    /// The "container" of each created pod; deleting the pod kills it, as a kubelet would.
    running: Mutex<BTreeMap<String, tokio::task::AbortHandle>>,
    next_id: Mutex<u32>,
}

/// An exec request as the server received it.
#[derive(Debug, Clone)]
pub struct ExecCall {
    pub namespace: String,
    pub pod: String,
    pub container: Option<String>,
    pub command: Vec<String>,
}

pub struct FakeKube {
    pub addr: SocketAddr,
    store: Arc<Store>,
    _dir: tempfile::TempDir,
    kubeconfig: std::path::PathBuf,
}

/// How long after a scale request the fake reports the new replicas ready (so callers have to
/// wait for it, as with a real controller).
const SCALE_SETTLE: Duration = Duration::from_millis(300);

impl FakeKube {
    pub async fn start() -> FakeKube {
        let store = Arc::new(Store::default());
        let app = Router::new()
            .route(
                "/api/v1/namespaces/{ns}/pods",
                get(list_pods).post(create_pod),
            )
            .route(
                "/api/v1/namespaces/{ns}/pods/{name}",
                get(get_pod).delete(delete_pod),
            )
            .route("/api/v1/namespaces/{ns}/pods/{name}/log", get(pod_log))
            .route("/api/v1/namespaces/{ns}/pods/{name}/exec", get(pod_exec))
            .route("/api/v1/namespaces/{ns}/{resource}/{name}", get(get_core))
            .route(
                "/apis/apps/v1/namespaces/{ns}/{resource}/{name}",
                get(get_apps),
            )
            .route(
                "/apis/apps/v1/namespaces/{ns}/{resource}/{name}/scale",
                get(get_scale).patch(patch_scale),
            )
            .route(
                "/apis/cr.kanister.io/v1alpha1/namespaces/{ns}/profiles/{name}",
                get(get_profile),
            )
            .with_state(store.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("kubeconfig");
        std::fs::write(
            &kubeconfig,
            format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: http://{addr}\n\
                 users:\n- name: tester\n  user: {{}}\ncontexts:\n- name: fake\n  context:\n    cluster: fake\n    user: tester\n\
                 current-context: fake\n"
            ),
        )
        .unwrap();
        FakeKube {
            addr,
            store,
            _dir: dir,
            kubeconfig,
        }
    }

    pub fn kubeconfig_path(&self) -> &std::path::Path {
        &self.kubeconfig
    }

    /// Stores `object` under its resource plural (`pods`, `deployments`, `secrets`, …),
    /// taking namespace and name from its metadata.
    pub fn put(&self, resource: &str, object: Value) {
        let ns = object["metadata"]["namespace"]
            .as_str()
            .expect("metadata.namespace")
            .to_string();
        let name = object["metadata"]["name"]
            .as_str()
            .expect("metadata.name")
            .to_string();
        self.store
            .objects
            .lock()
            .unwrap()
            .insert((resource.into(), ns, name), object);
    }

    pub fn get(&self, resource: &str, ns: &str, name: &str) -> Option<Value> {
        self.store
            .objects
            .lock()
            .unwrap()
            .get(&(resource.into(), ns.into(), name.into()))
            .cloned()
    }

    /// Names of all pods in `ns` currently stored.
    pub fn pod_names(&self, ns: &str) -> Vec<String> {
        let objects = self.store.objects.lock().unwrap();
        objects
            .keys()
            .filter(|(r, n, _)| r == "pods" && n == ns)
            .map(|(_, _, name)| name.clone())
            .collect()
    }

    pub fn exec_calls(&self) -> Vec<ExecCall> {
        self.store.exec_calls.lock().unwrap().clone()
    }

    pub fn deleted_pods(&self) -> Vec<String> {
        self.store.deleted_pods.lock().unwrap().clone()
    }

    /// A Deployment `app/web` (two running pods `web-a`, `web-b` with a claim mounted at /data,
    /// and a pod of another app), a Secret `app/s`, a ConfigMap `app/cfg`, and a Kanister Profile
    /// `kanister/store` whose key pair is in the Secret `kanister/store-creds`. Its secret values
    /// are [`SEEDED_SECRET_VALUES`].
    pub fn seed_workload(&self) {
        self.put(
            "deployments",
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "app"},
                   "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}}, "template": {}}}),
        );
        let containers = json!([
            {"name": "app", "image": "i", "volumeMounts": [{"name": "data", "mountPath": "/data"}]},
            {"name": "sidecar", "image": "s"}
        ]);
        let volumes = json!([{"name": "data", "persistentVolumeClaim": {"claimName": "web-data"}}]);
        self.put(
            "pods",
            running_pod(
                "app",
                "web-b",
                json!({"app": "web"}),
                containers.clone(),
                volumes.clone(),
            ),
        );
        self.put(
            "pods",
            running_pod("app", "web-a", json!({"app": "web"}), containers, volumes),
        );
        self.put(
            "pods",
            running_pod(
                "app",
                "db-0",
                json!({"app": "db"}),
                json!([{"name": "db", "image": "d"}]),
                json!([]),
            ),
        );
        self.put(
            "secrets",
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "app"},
                   "type": "Opaque", "data": {"k": b64("s3cr3t-from-cluster")}}),
        );
        self.put(
            "configmaps",
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg", "namespace": "app"}, "data": {"mode": "full"}}),
        );
        self.put(
            "secrets",
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "store-creds", "namespace": "kanister"},
                   "data": {"access": b64("AKIAFAKE123"), "secret": b64("store-secret-key-456")}}),
        );
        self.put(
            "profiles",
            json!({"apiVersion": "cr.kanister.io/v1alpha1", "kind": "Profile", "metadata": {"name": "store", "namespace": "kanister"},
                   "location": {"type": "s3Compliant", "bucket": "bk", "endpoint": "http://minio:9000", "prefix": "pre", "region": "us-east-1"},
                   "credential": {"type": "keyPair", "keyPair": {"idField": "access", "secretField": "secret",
                                  "secret": {"apiVersion": "v1", "kind": "Secret", "name": "store-creds", "namespace": "kanister"}}},
                   "skipSSLVerify": false}),
        );
    }
}

/// The secret values `seed_workload` stores (decoded), which no output may show.
pub const SEEDED_SECRET_VALUES: &[&str] =
    &["s3cr3t-from-cluster", "AKIAFAKE123", "store-secret-key-456"];

/// A blueprint whose `backup` action prints every seeded secret value, on stdout and stderr, from
/// the seeded workload's first pod (with the Secret `s` and the Profile `kanister/store`).
pub const SECRETS_PRINTING_BLUEPRINT: &str = r#"
apiVersion: cr.kanister.io/v1alpha1
kind: Blueprint
actions:
  backup:
    secretNames: [s]
    phases:
    - func: KubeExec
      name: leak
      args:
        namespace: "{{ .Deployment.Namespace }}"
        pod: "{{ index .Deployment.Pods 0 }}"
        container: app
        command: [sh, -c, 'echo "pw {{ .Secrets.s.Data.k | toString }}"; echo "key {{ .Profile.Credential.KeyPair.Secret }} {{ .Profile.Credential.KeyPair.ID }}" >&2']
"#;

fn b64(text: &str) -> String {
    base64::Engine::encode(&base64::engine::general_purpose::STANDARD, text)
}

/// A running pod with the given labels and containers (`(name, mounts)`), for exec and lists.
pub fn running_pod(
    ns: &str,
    name: &str,
    labels: Value,
    containers: Value,
    volumes: Value,
) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": {"containers": containers, "volumes": volumes},
        "status": {"phase": "Running"}
    })
}

fn not_found(resource: &str, name: &str) -> Response {
    status_error(
        StatusCode::NOT_FOUND,
        "NotFound",
        &format!("{resource} \"{name}\" not found"),
    )
}

/// The `Status` object the API server returns with every error.
fn status_error(code: StatusCode, reason: &str, message: &str) -> Response {
    let body = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                      "message": message, "reason": reason, "code": code.as_u16()});
    (code, Json(body)).into_response()
}

fn lookup(store: &Store, resource: &str, ns: &str, name: &str) -> Response {
    match store
        .objects
        .lock()
        .unwrap()
        .get(&(resource.into(), ns.into(), name.into()))
    {
        Some(v) => Json(v.clone()).into_response(),
        None => not_found(resource, name),
    }
}

async fn get_core(
    State(s): State<Arc<Store>>,
    Path((ns, resource, name)): Path<(String, String, String)>,
) -> Response {
    lookup(&s, &resource, &ns, &name)
}

async fn get_apps(
    State(s): State<Arc<Store>>,
    Path((ns, resource, name)): Path<(String, String, String)>,
) -> Response {
    lookup(&s, &resource, &ns, &name)
}

async fn get_profile(
    State(s): State<Arc<Store>>,
    Path((ns, name)): Path<(String, String)>,
) -> Response {
    lookup(&s, "profiles", &ns, &name)
}

async fn get_pod(
    State(s): State<Arc<Store>>,
    Path((ns, name)): Path<(String, String)>,
) -> Response {
    lookup(&s, "pods", &ns, &name)
}

async fn list_pods(
    State(s): State<Arc<Store>>,
    Path(ns): Path<String>,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    let selector: Vec<(String, String)> = query
        .iter()
        .filter(|(k, _)| k == "labelSelector")
        .flat_map(|(_, v)| {
            v.split(',')
                .filter_map(|p| p.split_once('='))
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect::<Vec<_>>()
        })
        .collect();
    let objects = s.objects.lock().unwrap();
    let items: Vec<Value> = objects
        .iter()
        .filter(|((r, n, _), _)| r == "pods" && *n == ns)
        .map(|(_, v)| v.clone())
        .filter(|pod| {
            selector
                .iter()
                .all(|(k, v)| pod["metadata"]["labels"][k].as_str() == Some(v))
        })
        .collect();
    Json(json!({"apiVersion": "v1", "kind": "PodList", "metadata": {"resourceVersion": "1"}, "items": items})).into_response()
}

async fn delete_pod(
    State(s): State<Arc<Store>>,
    Path((ns, name)): Path<(String, String)>,
) -> Response {
    match s
        .objects
        .lock()
        .unwrap()
        .remove(&("pods".into(), ns, name.clone()))
    {
        Some(pod) => {
            if let Some(task) = s.running.lock().unwrap().remove(&name) {
                task.abort();
            }
            s.deleted_pods.lock().unwrap().push(name);
            Json(pod).into_response()
        }
        None => not_found("pods", &name),
    }
}

async fn pod_log(
    State(s): State<Arc<Store>>,
    Path((_ns, name)): Path<(String, String)>,
) -> Response {
    match s.logs.lock().unwrap().get(&name) {
        Some(text) => text.clone().into_response(),
        None => status_error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            &format!("container in pod {name} is waiting to start"),
        ),
    }
}

/// Creates the pod and "runs" it: its first container's command and args run here through
/// `sh -c` with stderr folded into stdout (as a container runtime's log would hold both).
async fn create_pod(State(s): State<Arc<Store>>, Path(ns): Path<String>, body: Bytes) -> Response {
    let mut pod: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return status_error(StatusCode::BAD_REQUEST, "BadRequest", &e.to_string()),
    };
    let name = match pod["metadata"]["name"].as_str() {
        Some(n) => n.to_string(),
        None => {
            let mut id = s.next_id.lock().unwrap();
            *id += 1;
            format!(
                "{}{:05}",
                pod["metadata"]["generateName"].as_str().unwrap_or("pod-"),
                *id
            )
        }
    };
    pod["metadata"]["name"] = json!(name);
    pod["metadata"]["namespace"] = json!(ns);
    pod["status"] = json!({"phase": "Pending"});
    let container = &pod["spec"]["containers"][0];
    let argv: Vec<String> = container["command"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(container["args"].as_array().into_iter().flatten())
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    s.objects
        .lock()
        .unwrap()
        .insert(("pods".into(), ns.clone(), name.clone()), pod.clone());

    let store = s.clone();
    let (pod_ns, pod_name) = (ns.clone(), name.clone());
    let task = tokio::spawn(async move {
        let output = tokio::process::Command::new("sh")
            .arg("-c")
            .arg("\"$@\" 2>&1")
            .arg("sh")
            .args(&argv)
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output()
            .await
            .expect("sh runs");
        let code = output.status.code().unwrap_or(137);
        store.logs.lock().unwrap().insert(
            pod_name.clone(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
        );
        let mut objects = store.objects.lock().unwrap();
        if let Some(pod) = objects.get_mut(&("pods".into(), pod_ns, pod_name)) {
            pod["status"] = json!({
                "phase": if code == 0 { "Succeeded" } else { "Failed" },
                "containerStatuses": [{"name": "container", "ready": false, "restartCount": 0, "image": "", "imageID": "",
                    "state": {"terminated": {"exitCode": code, "reason": if code == 0 {"Completed"} else {"Error"}}}}]
            });
        }
    });
    s.running.lock().unwrap().insert(name, task.abort_handle());
    (StatusCode::CREATED, Json(pod)).into_response()
}

fn scale_of(workload: &Value) -> Value {
    json!({
        "apiVersion": "autoscaling/v1", "kind": "Scale",
        "metadata": {"name": workload["metadata"]["name"], "namespace": workload["metadata"]["namespace"]},
        "spec": {"replicas": workload["spec"]["replicas"]},
        "status": {"replicas": workload["status"]["replicas"].as_i64().unwrap_or(0)}
    })
}

async fn get_scale(
    State(s): State<Arc<Store>>,
    Path((ns, resource, name)): Path<(String, String, String)>,
) -> Response {
    match s
        .objects
        .lock()
        .unwrap()
        .get(&(resource.clone(), ns, name.clone()))
    {
        Some(w) => Json(scale_of(w)).into_response(),
        None => not_found(&resource, &name),
    }
}

/// Sets `spec.replicas` from the (merge) patch; the status follows after `SCALE_SETTLE`.
async fn patch_scale(
    State(s): State<Arc<Store>>,
    Path((ns, resource, name)): Path<(String, String, String)>,
    body: Bytes,
) -> Response {
    let patch: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let Some(replicas) = patch["spec"]["replicas"].as_i64() else {
        return status_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid",
            "spec.replicas missing",
        );
    };
    let key = (resource.clone(), ns, name.clone());
    let scale = {
        let mut objects = s.objects.lock().unwrap();
        let Some(w) = objects.get_mut(&key) else {
            return not_found(&resource, &name);
        };
        w["spec"]["replicas"] = json!(replicas);
        scale_of(w)
    };
    let store = s.clone();
    tokio::spawn(async move {
        tokio::time::sleep(SCALE_SETTLE).await;
        if let Some(w) = store.objects.lock().unwrap().get_mut(&key) {
            w["status"] = json!({"replicas": replicas, "readyReplicas": replicas});
        }
    });
    Json(scale).into_response()
}

/// The exec subresource: upgrades to WebSocket (`v4.channel.k8s.io`), runs the command here,
/// streams its output on channels 1 and 2 as it comes, then the status on channel 3.
async fn pod_exec(
    State(s): State<Arc<Store>>,
    Path((ns, name)): Path<(String, String)>,
    Query(query): Query<Vec<(String, String)>>,
    ws: WebSocketUpgrade,
) -> Response {
    if !s
        .objects
        .lock()
        .unwrap()
        .contains_key(&("pods".into(), ns.clone(), name.clone()))
    {
        return not_found("pods", &name);
    }
    let command: Vec<String> = query
        .iter()
        .filter(|(k, _)| k == "command")
        .map(|(_, v)| v.clone())
        .collect();
    let container = query
        .iter()
        .find(|(k, _)| k == "container")
        .map(|(_, v)| v.clone());
    s.exec_calls.lock().unwrap().push(ExecCall {
        namespace: ns,
        pod: name,
        container,
        command: command.clone(),
    });
    ws.protocols(["v4.channel.k8s.io"])
        .on_upgrade(move |socket| run_exec(socket, command))
}

async fn run_exec(mut socket: WebSocket, command: Vec<String>) {
    let Some((program, args)) = command.split_first() else {
        return;
    };
    let mut child = match tokio::process::Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            let status = json!({"metadata": {}, "status": "Failure", "message": format!("exec failed: {e}"),
                                "reason": "InternalError", "code": 500});
            let _ = socket.send(frame(3, status.to_string().as_bytes())).await;
            return;
        }
    };
    let (tx, mut rx) = mpsc::channel::<Message>(16);
    let forward = |mut stream: Box<dyn tokio::io::AsyncRead + Unpin + Send>,
                   channel: u8,
                   tx: mpsc::Sender<Message>| async move {
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tx.send(frame(channel, &buf[..n])).await.is_err() {
                        break;
                    }
                }
            }
        }
    };
    let out = tokio::spawn(forward(
        Box::new(child.stdout.take().unwrap()),
        1,
        tx.clone(),
    ));
    let err = tokio::spawn(forward(Box::new(child.stderr.take().unwrap()), 2, tx));
    while let Some(message) = rx.recv().await {
        if socket.send(message).await.is_err() {
            return; // client went away; dropping the child kills it
        }
    }
    let _ = (out.await, err.await);
    let code = child
        .wait()
        .await
        .map(|s| s.code().unwrap_or(137))
        .unwrap_or(137);
    let status = if code == 0 {
        json!({"metadata": {}, "status": "Success"})
    } else {
        json!({"metadata": {}, "status": "Failure",
               "message": format!("command terminated with non-zero exit code: exit status {code}"),
               "reason": "NonZeroExitCode",
               "details": {"causes": [{"reason": "ExitCode", "message": code.to_string()}]}})
    };
    let _ = socket.send(frame(3, status.to_string().as_bytes())).await;
    let _ = socket.send(Message::Close(None)).await;
}

fn frame(channel: u8, data: &[u8]) -> Message {
    let mut bytes = Vec::with_capacity(data.len() + 1);
    bytes.push(channel);
    bytes.extend_from_slice(data);
    Message::Binary(Bytes::from(bytes))
}
