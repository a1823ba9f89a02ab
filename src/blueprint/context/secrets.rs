//! The secrets in a template context, registered for redaction before anything is rendered, so
//! rendered commands, streamed output, logs and errors never show them.

use crate::profile::kanister;
use crate::secret;
use serde_json::Value;

/// Registers every value under `.Secrets.*.data` (as given, and decoded) and the secret values
/// of `.Profile.Credential` (its key pair, and its Kubernetes Secret's data).
pub fn register_secrets(ctx: &Value) {
    if let Some(Value::Object(secrets)) = ctx.get("Secrets") {
        secrets
            .values()
            .flat_map(kanister::secret_object_texts)
            .for_each(|t| secret::register(&t));
    }
    if let Some(profile) = ctx.get("Profile") {
        kanister::secret_texts(profile)
            .iter()
            .for_each(|t| secret::register(t));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_and_credentials_are_registered() {
        // "c2VjcmV0LXZhbHVlLTE=" is base64 of "secret-value-1".
        let ctx = json!({
            "Secrets": {"s": {"data": {"k": "c2VjcmV0LXZhbHVlLTE="}}},
            "Profile": {"Credential": {"KeyPair": {"ID": "key-id-22", "Secret": "profile-secret-33"}}}
        });
        register_secrets(&ctx);
        let text = secret::redact("a secret-value-1 b profile-secret-33 c key-id-22");
        assert_eq!(text, "a *** b *** c ***");
    }
}
