//! A Kanister Profile custom resource (`cr.kanister.io/v1alpha1`, kind `Profile`) and the Secret
//! its credential names, resolved to the Profile model as Kanister's controller does before it
//! renders `.Profile`. Pure translation: reading the two objects is the caller's (see `kube`).

use super::kanister::{kubernetes_secret_entries, Credential, KeyPair, Profile, ProfileLocation};
use anyhow::{anyhow, bail, Context as _, Result};
use serde_json::Value;

pub const GROUP: &str = "cr.kanister.io";
pub const VERSION: &str = "v1alpha1";
pub const KIND: &str = "Profile";
pub const PLURAL: &str = "profiles";

/// The Secret the resource's credential names, as (namespace, name); the namespace defaults to
/// the resource's own. A keyPair credential names it inside `keyPair`, a secret credential directly.
pub fn secret_ref(resource: &Value, namespace: &str, name: &str) -> Result<(String, String)> {
    let credential = &resource["credential"];
    let secret_ref = match credential["type"].as_str() {
        Some("keyPair") => &credential["keyPair"]["secret"],
        _ => &credential["secret"],
    };
    let secret_name = secret_ref["name"]
        .as_str()
        .ok_or_else(|| anyhow!("Profile {namespace}/{name}: credential names no secret"))?;
    let secret_ns = secret_ref["namespace"].as_str().unwrap_or(namespace);
    Ok((secret_ns.to_string(), secret_name.to_string()))
}

/// The Profile `namespace/name` with its credential taken from `secret` (the object
/// [`secret_ref`] named, as Kubernetes JSON).
pub fn resolve(resource: &Value, namespace: &str, name: &str, secret: &Value) -> Result<Profile> {
    let credential = &resource["credential"];
    let credential = match credential["type"].as_str().unwrap_or_default() {
        "keyPair" => {
            let (secret_ns, secret_name) = secret_ref(resource, namespace, name)?;
            let entries = kubernetes_secret_entries(
                secret.as_object().ok_or_else(|| anyhow!("Secret {secret_ns}/{secret_name} is not an object"))?,
                &format!("Secret {secret_ns}/{secret_name}"),
            )?;
            let value = |field: &str| -> Result<String> {
                let key = credential["keyPair"][field]
                    .as_str()
                    .ok_or_else(|| anyhow!("Profile {namespace}/{name}: credential.keyPair.{field} is missing"))?;
                entries
                    .iter()
                    .find(|(k, _)| k == key)
                    .map(|(_, v)| v.clone())
                    .ok_or_else(|| anyhow!("no key {key:?}"))
                    .with_context(|| format!("Profile {namespace}/{name}: Secret {secret_ns}/{secret_name}"))
            };
            Credential {
                kind: Some("keyPair".into()),
                key_pair: Some(KeyPair { id: Some(value("idField")?), secret: Some(value("secretField")?) }),
                secret: None,
                kopia_server_secret: None,
            }
        }
        "secret" => Credential {
            kind: Some("secret".into()),
            key_pair: None,
            secret: Some(secret.clone()),
            kopia_server_secret: None,
        },
        other => bail!(
            "Profile {namespace}/{name}: credential type {other:?} is not supported (use keyPair or secret \
             with an object-store location; kopia repository servers are not ours to speak)"
        ),
    };
    let location = &resource["location"];
    // Kanister's Location fields are plain strings: an absent one renders as "".
    let text = |field: &str| Some(location[field].as_str().unwrap_or_default().to_string());
    Ok(Profile {
        location: ProfileLocation {
            kind: text("type"),
            bucket: text("bucket"),
            endpoint: text("endpoint"),
            prefix: text("prefix"),
            region: text("region"),
            path: None,
        },
        credential,
        skip_ssl_verify: resource["skipSSLVerify"].as_bool().unwrap_or(false),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key_pair_resource() -> Value {
        json!({"apiVersion": "cr.kanister.io/v1alpha1", "kind": "Profile", "metadata": {"name": "store", "namespace": "kanister"},
               "location": {"type": "s3Compliant", "bucket": "bk", "endpoint": "http://minio:9000"},
               "credential": {"type": "keyPair", "keyPair": {"idField": "access", "secretField": "secret",
                              "secret": {"apiVersion": "v1", "kind": "Secret", "name": "creds"}}}})
    }

    #[test]
    fn a_key_pair_credential_reads_its_fields_from_the_secret() {
        let resource = key_pair_resource();
        assert_eq!(
            secret_ref(&resource, "kanister", "store").unwrap(),
            ("kanister".into(), "creds".into())
        );
        let secret =
            json!({"data": {"access": "QUtJRA=="}, "stringData": {"secret": "plain-secret"}});
        let profile = resolve(&resource, "kanister", "store", &secret).unwrap();
        assert_eq!(
            serde_json::to_string(&profile).unwrap(),
            r#"{"Location":{"type":"s3Compliant","bucket":"bk","endpoint":"http://minio:9000","prefix":"","region":""},"Credential":{"Type":"keyPair","KeyPair":{"ID":"AKID","Secret":"plain-secret"},"Secret":null,"KopiaServerSecret":null},"SkipSSLVerify":false}"#
        );
    }

    #[test]
    fn a_missing_key_names_the_secret_and_the_key() {
        let e = resolve(
            &key_pair_resource(),
            "kanister",
            "store",
            &json!({"data": {}}),
        )
        .unwrap_err();
        let text = format!("{e:#}");
        assert!(
            text.contains("Secret kanister/creds") && text.contains("no key \"access\""),
            "{text}"
        );
    }

    #[test]
    fn a_secret_credential_carries_the_whole_secret_and_kopia_is_refused() {
        let resource = json!({"location": {"type": "s3Compliant", "bucket": "b"},
                              "credential": {"type": "secret", "secret": {"name": "s", "namespace": "other"}}});
        assert_eq!(
            secret_ref(&resource, "ns", "p").unwrap(),
            ("other".into(), "s".into())
        );
        let secret = json!({"kind": "Secret", "data": {"aws_access_key_id": "QUtJRA=="}});
        let profile = resolve(&resource, "ns", "p", &secret).unwrap();
        assert_eq!(profile.credential.secret, Some(secret));
        let kopia = json!({"credential": {"type": "kopia", "secret": {"name": "s"}}});
        let e = resolve(&kopia, "ns", "p", &json!({}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("\"kopia\" is not supported"), "{e}");
    }
}
