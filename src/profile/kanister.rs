//! Kanister's Profile (`param.Profile`), the one model of it in forgesafe: read from Profile JSON
//! in any casing, written back as `{{ toJson .Profile }}` renders it, described to the template
//! engine as Go structs, and asked where its secrets are.
//!
//! Kanister renders the Go struct with mixed casing (`Location.type`, `Credential.KeyPair.ID`);
//! the Profile custom resource uses lower-case keys. Go decodes field names case-insensitively,
//! so we do too. Every error names the field at fault and says what to give instead.
//!
//! Source: kanister `pkg/param/param.go` (Profile, Credential, KeyPair) and
//! `pkg/apis/cr/v1alpha1/types.go` (Location).

use crate::secret::Secret;
use anyhow::{anyhow, bail, Result};
use base64::Engine;
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

/// `param.Profile`. Serialises as Kanister renders it: Go's field names and declaration order.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Profile {
    #[serde(rename = "Location")]
    pub location: ProfileLocation,
    #[serde(rename = "Credential")]
    pub credential: Credential,
    #[serde(rename = "SkipSSLVerify")]
    pub skip_ssl_verify: bool,
}

/// `v1alpha1.Location`. A field absent from the JSON is `None` (Go renders it as "").
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ProfileLocation {
    #[serde(rename = "type", serialize_with = "or_empty")]
    pub kind: Option<String>,
    #[serde(serialize_with = "or_empty")]
    pub bucket: Option<String>,
    #[serde(serialize_with = "or_empty")]
    pub endpoint: Option<String>,
    #[serde(serialize_with = "or_empty")]
    pub prefix: Option<String>,
    #[serde(serialize_with = "or_empty")]
    pub region: Option<String>,
    /// forgesafe's own `local` location: the repository directory (no Kanister field).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// `param.Credential`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Credential {
    #[serde(rename = "Type", serialize_with = "or_empty")]
    pub kind: Option<String>,
    #[serde(rename = "KeyPair")]
    pub key_pair: Option<KeyPair>,
    /// A whole Kubernetes Secret object (`type: secret`); its model is Kubernetes' own.
    #[serde(rename = "Secret")]
    pub secret: Option<Value>,
    #[serde(rename = "KopiaServerSecret")]
    pub kopia_server_secret: Option<Value>,
}

/// `param.KeyPair`: for S3 the access key pair; for GCS the project id and the service-account
/// JSON; for Azure the storage account name and key.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct KeyPair {
    #[serde(rename = "ID", serialize_with = "or_empty")]
    pub id: Option<String>,
    #[serde(rename = "Secret", serialize_with = "or_empty")]
    pub secret: Option<String>,
}

fn or_empty<S: Serializer>(v: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(v.as_deref().unwrap_or_default())
}

impl Profile {
    /// Profile JSON text, e.g. the output of `{{ toJson .Profile }}`.
    pub fn from_json(text: &str) -> Result<Profile> {
        let root: Value = serde_json::from_str(text).map_err(|e| {
            // serde_json's message carries only a position, never the text itself.
            anyhow!("profile is not valid JSON ({e}): give the output of {{{{ toJson .Profile }}}}")
        })?;
        Profile::from_value(&root)
    }

    /// Profile JSON, field names in any casing; a field of the wrong JSON type is an error.
    pub fn from_value(root: &Value) -> Result<Profile> {
        let root = root
            .as_object()
            .ok_or_else(|| anyhow!("profile must be a JSON object"))?;
        let location = field(root, "Location")
            .and_then(Value::as_object)
            .ok_or_else(|| {
                anyhow!("profile field Location is missing: the profile needs a Location object")
            })?;
        let text =
            |obj: &Map<String, Value>, parent: &str, name: &str| string_field(obj, parent, name);
        let location = ProfileLocation {
            kind: text(location, "Location", "type")?,
            bucket: text(location, "Location", "bucket")?,
            endpoint: text(location, "Location", "endpoint")?,
            prefix: text(location, "Location", "prefix")?,
            region: text(location, "Location", "region")?,
            path: text(location, "Location", "path")?,
        };
        let credential = match field(root, "Credential") {
            None => Credential::default(),
            Some(Value::Object(c)) => Credential {
                kind: text(c, "Credential", "Type")?,
                key_pair: match field(c, "KeyPair") {
                    None => None,
                    Some(Value::Object(kp)) => Some(KeyPair {
                        id: text(kp, "Credential.KeyPair", "ID")?,
                        secret: text(kp, "Credential.KeyPair", "Secret")?,
                    }),
                    Some(_) => bail!("profile field Credential.KeyPair is not an object"),
                },
                secret: field(c, "Secret").cloned(),
                kopia_server_secret: field(c, "KopiaServerSecret").cloned(),
            },
            Some(_) => bail!("profile field Credential is not an object"),
        };
        let skip_ssl_verify = match field(root, "SkipSSLVerify") {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => bail!("profile field SkipSSLVerify is not true or false"),
        };
        Ok(Profile {
            location,
            credential,
            skip_ssl_verify,
        })
    }

    /// The JSON Kanister renders for this profile (the template parameter `.Profile`).
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).expect("a profile is plain data")
    }
}

impl Credential {
    /// The key pair, or the error a `keyPair` credential without one deserves.
    pub fn required_key_pair(&self) -> Result<&KeyPair> {
        self.key_pair.as_ref().ok_or_else(|| {
            anyhow!("profile field Credential.KeyPair is missing: a keyPair credential needs KeyPair.ID and KeyPair.Secret")
        })
    }

    /// The key/value pairs of the Kubernetes Secret in `Credential.Secret`, decoded.
    pub fn secret_data(&self) -> Result<Vec<(String, Secret)>> {
        let secret = self.secret.as_ref().and_then(Value::as_object).ok_or_else(|| {
            anyhow!("profile field Credential.Secret is missing: a secret credential needs the Kubernetes Secret object")
        })?;
        Ok(
            kubernetes_secret_entries(secret, "profile field Credential.Secret")?
                .into_iter()
                .map(|(k, v)| (k, Secret::new(v)))
                .collect(),
        )
    }
}

/// The entries of a Kubernetes Secret object: `data` is base64 (Kubernetes' JSON form),
/// `stringData` plain text. `what` names the Secret in errors.
pub fn kubernetes_secret_entries(
    secret: &Map<String, Value>,
    what: &str,
) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    if let Some(data) = field(secret, "data").and_then(Value::as_object) {
        for (k, v) in data {
            let encoded = v
                .as_str()
                .ok_or_else(|| anyhow!("{what}.data.{k} is not a string"))?;
            let bytes = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).map_err(|_| {
                anyhow!("{what}.data.{k} is not base64: Kubernetes Secret data must be base64-encoded (or use stringData)")
            })?;
            let text = String::from_utf8(bytes)
                .map_err(|_| anyhow!("{what}.data.{k} is not UTF-8 text"))?;
            out.push((k.clone(), text));
        }
    }
    if let Some(data) = field(secret, "stringData").and_then(Value::as_object) {
        for (k, v) in data {
            let text = v
                .as_str()
                .ok_or_else(|| anyhow!("{what}.stringData.{k} is not a string"))?;
            out.push((k.clone(), text.to_string()));
        }
    }
    Ok(out)
}

/// Every secret text in Profile JSON as it stands in a template context: the key pair's values
/// and the Kubernetes Secret's data values, as given and base64-decoded. Lenient on purpose (no
/// type checks, any casing): it must find secrets even in a profile that would not parse, so
/// they can be redacted. Only values: field names or types (`keyPair`, `Secret`) would star
/// those words out of every log line.
pub fn secret_texts(profile: &Value) -> Vec<String> {
    let mut texts = Vec::new();
    let Some(credential) = profile
        .as_object()
        .and_then(|p| field(p, "Credential"))
        .and_then(Value::as_object)
    else {
        return texts;
    };
    if let Some(key_pair) = field(credential, "KeyPair").and_then(Value::as_object) {
        texts.extend(key_pair.values().flat_map(text_and_decoded));
    }
    if let Some(secret) = field(credential, "Secret") {
        texts.extend(secret_object_texts(secret));
    }
    texts
}

/// The `data`/`stringData` values of a Kubernetes Secret object, as given and base64-decoded.
pub fn secret_object_texts(secret: &Value) -> Vec<String> {
    let Some(secret) = secret.as_object() else {
        return Vec::new();
    };
    secret
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("data") || k.eq_ignore_ascii_case("stringData"))
        .filter_map(|(_, data)| data.as_object())
        .flat_map(|data| data.values().flat_map(text_and_decoded))
        .collect()
}

fn text_and_decoded(v: &Value) -> Vec<String> {
    let Value::String(text) = v else {
        return Vec::new();
    };
    let mut out = vec![text.clone()];
    if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(text) {
        if let Ok(decoded) = String::from_utf8(bytes) {
            out.push(decoded);
        }
    }
    out
}

/// Looks a field up the way Go's encoding/json does: exact name first, then any casing; a JSON
/// null counts as absent.
pub fn field<'a>(obj: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    obj.get(name)
        .or_else(|| {
            obj.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
        })
        .filter(|v| !v.is_null())
}

fn string_field(obj: &Map<String, Value>, parent: &str, name: &str) -> Result<Option<String>> {
    match field(obj, name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => bail!("profile field {parent}.{name} is not a string"),
    }
}

// ---------------------------------------------------------------------------------------------
// The same structs as the template engine sees them

/// A field's Go type, as far as templates can tell: it decides the zero value a missing field
/// gets and whether nested objects are structs.
#[derive(Clone, Copy)]
pub enum FieldKind {
    Str,
    Bool,
    /// A pointer to a type we do not describe: zero value a typed nil.
    Ptr(&'static str),
    Struct(&'static str),
    PtrStruct(&'static str),
}

use FieldKind::*;

/// One Go struct: its type name as Go prints it and its fields in declaration order as
/// (Go field name, JSON key, kind). Templates reach fields by Go name (`.Profile.Location.Bucket`)
/// while `toJson` prints the JSON keys in declaration order (`encoding/json` sorts map keys but
/// never struct fields).
pub struct StructDef {
    pub go_type: &'static str,
    pub fields: &'static [(&'static str, &'static str, FieldKind)],
}

/// The structs above, described for templates. A unit test holds them to the serde names and
/// order of the types above, so the two cannot drift apart.
pub const GO_STRUCTS: &[StructDef] = &[
    StructDef {
        go_type: "param.Profile",
        fields: &[
            ("Location", "Location", Struct("v1alpha1.Location")),
            ("Credential", "Credential", Struct("param.Credential")),
            ("SkipSSLVerify", "SkipSSLVerify", Bool),
        ],
    },
    StructDef {
        go_type: "v1alpha1.Location",
        fields: &[
            ("Type", "type", Str),
            ("Bucket", "bucket", Str),
            ("Endpoint", "endpoint", Str),
            ("Prefix", "prefix", Str),
            ("Region", "region", Str),
        ],
    },
    StructDef {
        go_type: "param.Credential",
        fields: &[
            ("Type", "Type", Str),
            ("KeyPair", "KeyPair", PtrStruct("*param.KeyPair")),
            ("Secret", "Secret", Ptr("*v1.Secret")),
            (
                "KopiaServerSecret",
                "KopiaServerSecret",
                Ptr("*param.KopiaServerCreds"),
            ),
        ],
    },
    StructDef {
        go_type: "*param.KeyPair",
        fields: &[("ID", "ID", Str), ("Secret", "Secret", Str)],
    },
];

impl StructDef {
    /// The JSON key holding Go field `name`, if the struct has that field.
    pub fn json_key(&self, go_field: &str) -> Option<&'static str> {
        self.fields.iter().find(|f| f.0 == go_field).map(|f| f.1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The JSON a zero value of `go_type` has, field by field from the struct table (pointers to
    /// structs taken as set, so their fields show too).
    fn zero_json_from_table(go_type: &str) -> String {
        let def = GO_STRUCTS.iter().find(|s| s.go_type == go_type).unwrap();
        let fields: Vec<String> = def
            .fields
            .iter()
            .map(|(_, key, kind)| {
                let value = match kind {
                    Str => "\"\"".to_string(),
                    Bool => "false".to_string(),
                    Ptr(_) => "null".to_string(),
                    Struct(t) | PtrStruct(t) => zero_json_from_table(t),
                };
                format!("\"{key}\":{value}")
            })
            .collect();
        format!("{{{}}}", fields.join(","))
    }

    #[test]
    fn the_go_struct_table_and_the_serialised_model_agree() {
        let mut profile = Profile::default();
        profile.credential.key_pair = Some(KeyPair::default());
        assert_eq!(
            serde_json::to_string(&profile).unwrap(),
            zero_json_from_table("param.Profile")
        );
    }

    #[test]
    fn lower_case_json_reads_into_the_model_and_renders_as_kanister_does() {
        let p = Profile::from_json(
            r#"{"location":{"type":"s3Compliant","bucket":"b"},"credential":{"type":"keyPair","keyPair":{"id":"AK","secret":"SK"}}}"#,
        )
        .unwrap();
        assert_eq!(
            serde_json::to_string(&p).unwrap(),
            r#"{"Location":{"type":"s3Compliant","bucket":"b","endpoint":"","prefix":"","region":""},"Credential":{"Type":"keyPair","KeyPair":{"ID":"AK","Secret":"SK"},"Secret":null,"KopiaServerSecret":null},"SkipSSLVerify":false}"#
        );
    }

    #[test]
    fn a_field_of_the_wrong_type_is_named() {
        let e = Profile::from_json(r#"{"Location":{"type":"s3Compliant","bucket":7}}"#)
            .unwrap_err()
            .to_string();
        assert_eq!(e, "profile field Location.bucket is not a string");
        let e = Profile::from_json(r#"{"Location":{},"SkipSSLVerify":"yes"}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("SkipSSLVerify"), "{e}");
    }

    #[test]
    fn secret_texts_are_found_in_any_casing_and_decoded() {
        // "c2VjcmV0LXZhbHVlLTE=" is base64 of "secret-value-1".
        let texts = secret_texts(&serde_json::json!({
            "credential": {"keypair": {"ID": "key-id-22", "secret": "profile-secret-33"},
                           "Secret": {"data": {"k": "c2VjcmV0LXZhbHVlLTE="}, "stringData": {"p": "plain-44"}}}
        }));
        for wanted in [
            "key-id-22",
            "profile-secret-33",
            "secret-value-1",
            "plain-44",
        ] {
            assert!(texts.iter().any(|t| t == wanted), "{wanted} in {texts:?}");
        }
        assert!(
            !texts.iter().any(|t| t == "keypair" || t == "Secret"),
            "{texts:?}"
        );
    }
}
