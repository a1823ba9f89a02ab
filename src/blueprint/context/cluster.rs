//! Kanister's template parameters read from the cluster (Kanister's `param.New`): the workload
//! an action is bound to, its pods, containers and claims, the action's Secrets and ConfigMaps;
//! and `.Profile` from a Profile custom resource resolved with its Secret.

use crate::kube::{self, Cluster, CustomResourceType, WorkloadKind};
use crate::profile::custom_resource;
use anyhow::{bail, Context as _, Result};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// The object an action is run on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRef {
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

impl ObjectRef {
    /// `KIND/NAMESPACE/NAME`, as `--object` takes it.
    pub fn parse(text: &str) -> Result<ObjectRef> {
        let parts: Vec<&str> = text.splitn(3, '/').collect();
        let [kind, namespace, name] = parts.as_slice() else {
            bail!(
                "--object {text:?} is not KIND/NAMESPACE/NAME (e.g. Deployment/forge/forge-backup)"
            );
        };
        Ok(ObjectRef {
            kind: kind.to_string(),
            namespace: namespace.to_string(),
            name: name.to_string(),
        })
    }
}

/// What an action asks of the cluster besides its workload.
#[derive(Debug, Clone, Default)]
pub struct ClusterInputs<'a> {
    /// `secretNames`: a name may be `namespace/name`, else the object's namespace is used.
    pub secret_names: &'a [String],
    /// `configMapNames`, named the same way.
    pub config_map_names: &'a [String],
}

/// Kanister's template parameters for `object`: `.Deployment`/`.StatefulSet`
/// (`{Name, Namespace, Pods, Containers, PersistentVolumeClaims}`), `.Object`, `.Namespace`,
/// `.Secrets.<name>` and `.ConfigMaps.<name>` (Kubernetes JSON; the key is the name).
pub async fn build_context(
    cluster: &Cluster,
    object: &ObjectRef,
    inputs: &ClusterInputs<'_>,
) -> Result<Value> {
    let kind = WorkloadKind::parse(&object.kind)?;
    let raw = kube::get_workload(cluster, kind, &object.namespace, &object.name).await?;
    let mut ctx = Map::new();
    ctx.insert(
        kind.kind_name().into(),
        workload_params(cluster, object, &raw).await?,
    );
    ctx.insert("Object".into(), raw);
    ctx.insert("Namespace".into(), json!({ "Name": object.namespace }));

    let mut secrets = Map::new();
    for reference in inputs.secret_names {
        let (ns, name) = split_ref(reference, &object.namespace);
        secrets.insert(name.to_string(), kube::get_secret(cluster, ns, name).await?);
    }
    ctx.insert("Secrets".into(), Value::Object(secrets));

    let mut config_maps = Map::new();
    for reference in inputs.config_map_names {
        let (ns, name) = split_ref(reference, &object.namespace);
        config_maps.insert(
            name.to_string(),
            kube::get_config_map(cluster, ns, name).await?,
        );
    }
    ctx.insert("ConfigMaps".into(), Value::Object(config_maps));
    Ok(Value::Object(ctx))
}

fn split_ref<'a>(reference: &'a str, default_ns: &'a str) -> (&'a str, &'a str) {
    reference.split_once('/').unwrap_or((default_ns, reference))
}

/// `{Name, Namespace, Pods, Containers, PersistentVolumeClaims}` for a workload: its running
/// pods (found by its label selector, sorted by name), their containers, and for each pod the
/// claims it mounts with their mount paths.
async fn workload_params(cluster: &Cluster, object: &ObjectRef, raw: &Value) -> Result<Value> {
    let selector = match raw["spec"]["selector"]["matchLabels"].as_object() {
        Some(labels) if !labels.is_empty() => labels
            .iter()
            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
            .collect::<Vec<_>>()
            .join(","),
        _ => bail!(
            "{} {}/{} has no spec.selector.matchLabels",
            object.kind,
            object.namespace,
            object.name
        ),
    };
    let pods = kube::list_pods(cluster, &object.namespace, &selector)
        .await
        .with_context(|| {
            format!(
                "listing the pods of {} {}/{}",
                object.kind, object.namespace, object.name
            )
        })?;
    let mut pods: Vec<Value> = pods
        .into_iter()
        .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
        .filter(|p| p["status"]["phase"] == "Running")
        .collect();
    pods.sort_by(|a, b| {
        a["metadata"]["name"]
            .as_str()
            .cmp(&b["metadata"]["name"].as_str())
    });

    let mut names = Vec::new();
    let mut containers = Vec::new();
    let mut claims = Map::new();
    for pod in &pods {
        let name = pod["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let spec = &pod["spec"];
        let pod_containers = spec["containers"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        containers.push(
            pod_containers
                .iter()
                .map(|c| c["name"].clone())
                .collect::<Vec<_>>(),
        );
        let mut pod_claims = BTreeMap::new();
        for volume in spec["volumes"].as_array().into_iter().flatten() {
            let Some(claim) = volume["persistentVolumeClaim"]["claimName"].as_str() else {
                continue;
            };
            let mount_path = pod_containers
                .iter()
                .flat_map(|c| c["volumeMounts"].as_array().into_iter().flatten())
                .find(|m| m["name"] == volume["name"])
                .and_then(|m| m["mountPath"].as_str())
                .unwrap_or_default();
            pod_claims.insert(claim.to_string(), mount_path.to_string());
        }
        if !pod_claims.is_empty() {
            claims.insert(name.clone(), serde_json::to_value(pod_claims)?);
        }
        names.push(name);
    }
    Ok(json!({
        "Name": object.name,
        "Namespace": object.namespace,
        "Pods": names,
        "Containers": containers,
        "PersistentVolumeClaims": claims,
    }))
}

/// Reads a Kanister `Profile` resource and the Secret it names, and gives the Profile JSON
/// Kanister renders for them (`.Profile`).
pub async fn read_profile(cluster: &Cluster, namespace: &str, name: &str) -> Result<Value> {
    let profile_type = CustomResourceType {
        group: custom_resource::GROUP,
        version: custom_resource::VERSION,
        kind: custom_resource::KIND,
        plural: custom_resource::PLURAL,
    };
    let resource = kube::get_custom_resource(cluster, profile_type, namespace, name).await?;
    let (secret_ns, secret_name) = custom_resource::secret_ref(&resource, namespace, name)?;
    let secret = kube::get_secret(cluster, &secret_ns, &secret_name).await?;
    Ok(custom_resource::resolve(&resource, namespace, name, &secret)?.to_value())
}
