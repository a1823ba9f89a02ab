//! gickup's token rule: the value of `token` is first looked up as an environment variable
//! *name*, and only if no such variable exists is it taken as the literal token.

use anyhow::{bail, Context, Result};

use crate::secret::Secret;

/// Where the environment comes from; tests pass a map instead of mutating the process env.
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Resolve a `token:` value. `key_path` is used only for the error message.
///
/// A missing variable is an error only when the value *looks like* a variable name
/// (`GITHUB_TOKEN`: upper case, digits, `_`); real tokens (`ghp_…`, `glpat-…`, 40 hex
/// digits) never do, so they are accepted literally, as gickup does.
pub fn resolve_token(
    value: &str,
    key_path: &str,
    file: &str,
    env: EnvLookup<'_>,
) -> Result<Secret> {
    let value = value.trim();
    if value.is_empty() {
        bail!("{file}: {key_path}: the token is empty; set it to an environment variable name or remove the key");
    }
    if let Some(from_env) = env(value).filter(|v| !v.trim().is_empty()) {
        return Ok(Secret::new(from_env.trim()));
    }
    if looks_like_env_var_name(value) {
        bail!(
            "{file}: {key_path}: environment variable `{value}` is not set (and `{value}` is not a token); \
             export {value}=<token>, or use `token_file:`"
        );
    }
    Ok(Secret::new(value))
}

/// Read `token_file:`; gickup reads the path as given, so relative paths are relative to the
/// working directory.
pub fn read_token_file(path: &str, key_path: &str, file: &str) -> Result<Secret> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{file}: {key_path}: cannot read token file `{path}`; check the path and its permissions"))?;
    let token = text.trim();
    if token.is_empty() {
        bail!("{file}: {key_path}: token file `{path}` is empty; write the token into it");
    }
    Ok(Secret::new(token))
}

fn looks_like_env_var_name(value: &str) -> bool {
    let mut chars = value.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_uppercase() || c == '_');
    first_ok && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn env_var_wins_over_literal() {
        let env = |name: &str| (name == "GITHUB_TOKEN").then(|| "ghp_fromenv".to_string());
        let token = resolve_token("GITHUB_TOKEN", "k", "f", &env).unwrap();
        assert_eq!(token.expose(), "ghp_fromenv");
    }

    #[test]
    fn literal_tokens_are_accepted_when_no_variable_matches() {
        for literal in [
            "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
            "glpat-xxxxXXXX1234",
            "0123456789abcdef0123456789abcdef01234567",
        ] {
            assert_eq!(
                resolve_token(literal, "k", "f", &no_env).unwrap().expose(),
                literal
            );
        }
    }

    #[test]
    fn missing_variable_is_one_line_naming_file_key_and_fix() {
        let err = resolve_token(
            "GITHUB_TOKEN",
            "source.github[0].token",
            "conf.yml",
            &no_env,
        )
        .unwrap_err();
        let message = format!("{err:#}");
        assert!(!message.contains('\n'), "{message}");
        assert!(
            message.starts_with(
                "conf.yml: source.github[0].token: environment variable `GITHUB_TOKEN` is not set"
            ),
            "{message}"
        );
        assert!(message.contains("export GITHUB_TOKEN="), "{message}");
    }

    #[test]
    fn token_file_is_read_and_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "secret-value\n").unwrap();
        let token = read_token_file(path.to_str().unwrap(), "k", "f").unwrap();
        assert_eq!(token.expose(), "secret-value");
        assert!(read_token_file(
            "/nonexistent/token",
            "source.gitea[0].token_file",
            "conf.yml"
        )
        .is_err());
    }
}
