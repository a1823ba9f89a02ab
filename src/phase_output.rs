//! The `###Phase-output###:` line: Kanister's wire contract between a phase and the controller.
//!
//! Kanister (`pkg/output/output.go`) prints `fmt.Println(PhaseOpString, json.Marshal(Output{Key, Value}))`,
//! so the line is the marker, one space, compact JSON with Go's HTML escaping, and a newline.
//! Kanister parses it from stdout only: the marker may stand anywhere in a line, the rest of the
//! line is trimmed and decoded, and a repeated key keeps its last value.

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;

pub const MARKER: &str = "###Phase-output###:";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhaseOutput {
    pub key: String,
    pub value: String,
}

/// Kanister's key rule (`^[a-zA-Z0-9_]*$`, non-empty).
pub fn check_key(key: &str) -> Result<()> {
    if key.is_empty() {
        bail!("output key is empty: give a key of letters, digits and underscores");
    }
    if let Some(bad) = key
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_'))
    {
        bail!("output key {key:?} has the character {bad:?}: keys may hold only letters, digits and underscores");
    }
    Ok(())
}

/// Encodes like Go's `json.Marshal`: serde_json's compact form plus Go's HTML-safe escapes.
/// Both escape control characters the same way (`\n`, `\b`, `\f`, `\u001f`, lower-case hex).
pub fn go_json<T: Serialize>(value: &T) -> String {
    let plain = serde_json::to_string(value).expect("serialising plain data cannot fail");
    go_html_escape(&plain)
}

/// Go escapes `<`, `>`, `&`, U+2028 and U+2029 inside JSON strings; outside strings these
/// characters cannot occur in JSON, so a plain replacement is exact.
pub fn go_html_escape(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

/// The whole line, with its newline, exactly as kando prints it.
pub fn format_line(key: &str, value: &str) -> Result<String> {
    check_key(key)?;
    let body = go_json(&PhaseOutput {
        key: key.to_string(),
        value: value.to_string(),
    });
    Ok(format!("{MARKER} {body}\n"))
}

pub fn write_line(out: &mut impl Write, key: &str, value: &str) -> Result<()> {
    let line = format_line(key, value)?;
    out.write_all(line.as_bytes())?;
    out.flush()?;
    Ok(())
}

/// Parses outputs from a phase's stdout the way Kanister does; the last value of a key wins.
pub fn parse_outputs(stdout: &str) -> Result<BTreeMap<String, String>> {
    let mut outputs = BTreeMap::new();
    for line in stdout.lines() {
        if let Some(pos) = line.find(MARKER) {
            let rest = line[pos + MARKER.len()..].trim();
            let parsed: PhaseOutput = serde_json::from_str(rest)
                .map_err(|e| anyhow::anyhow!("malformed phase output {rest:?}: {e}"))?;
            outputs.insert(parsed.key, parsed.value);
        }
    }
    Ok(outputs)
}

/// The snapshot id in what a blueprint passes back as `--kopia-snapshot`: the artifact JSON push
/// printed (`{"id":…}`), the whole phase-output object (`{"key":…,"value":"{\"id\":…}"}`), or a
/// bare id. Field names match in any casing, as Go's decoder matches them.
pub fn snapshot_id_from_artifact(text: &str) -> Result<String> {
    let text = text.trim();
    if text.is_empty() {
        bail!("--kopia-snapshot is empty: pass the artifact push printed (did the backup's output artifact render empty?)");
    }
    if !text.starts_with('{') {
        return Ok(text.to_string());
    }
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| anyhow::anyhow!("--kopia-snapshot is not valid JSON ({e}): pass the artifact push printed, e.g. {{\"id\":\"…\"}}"))?;
    let field = |name: &str| {
        value
            .as_object()
            .and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)))
            .and_then(|(_, v)| v.as_str())
    };
    if let Some(id) = field("id") {
        return Ok(id.to_string());
    }
    if let Some(inner) = field("value") {
        return snapshot_id_from_artifact(inner);
    }
    bail!("--kopia-snapshot has no \"id\" field: pass the artifact push printed, e.g. {{\"id\":\"…\"}}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn artifact_forms_all_yield_the_id() {
        let id = snapshot_id_from_artifact;
        assert_eq!(
            id(r#"{"id":"abc","logicalSize":1,"physicalSize":2}"#).unwrap(),
            "abc"
        );
        assert_eq!(
            id(r#"{"key":"k","value":"{\"id\":\"abc\",\"logicalSize\":1}"}"#).unwrap(),
            "abc"
        );
        assert_eq!(id(" abc \n").unwrap(), "abc");
        // Go's decoder matches field names in any casing, and so do we.
        assert_eq!(id(r#"{"ID":"x"}"#).unwrap(), "x");
        assert!(id("").unwrap_err().to_string().contains("empty"));
        assert!(id(r#"{"id":"x"#)
            .unwrap_err()
            .to_string()
            .contains("not valid JSON"));
        assert!(id(r#"{"other":1}"#)
            .unwrap_err()
            .to_string()
            .contains("no \"id\""));
    }

    #[test]
    fn line_is_byte_identical_to_kando() {
        // kando output k '<a&b>' prints Go's escapes.
        assert_eq!(
            format_line("k", "<a&b>").unwrap(),
            "###Phase-output###: {\"key\":\"k\",\"value\":\"\\u003ca\\u0026b\\u003e\"}\n"
        );
        assert_eq!(
            format_line("snap_1", "{\"id\":\"x\"}\n").unwrap(),
            "###Phase-output###: {\"key\":\"snap_1\",\"value\":\"{\\\"id\\\":\\\"x\\\"}\\n\"}\n"
        );
    }

    #[test]
    fn keys_follow_kanisters_rule() {
        assert!(format_line("", "v").is_err());
        assert!(format_line("a-b", "v").is_err());
        assert!(format_line("a b", "v").is_err());
        assert!(format_line("Ab_9", "v").is_ok());
    }

    #[test]
    fn parsing_finds_marker_anywhere_and_keeps_last_value() {
        let out = "noise\nprefix ###Phase-output###: {\"key\":\"a\",\"value\":\"1\"}  \n###Phase-output###: {\"key\":\"a\",\"value\":\"2\"}\n";
        let parsed = parse_outputs(out).unwrap();
        assert_eq!(parsed.get("a").map(String::as_str), Some("2"));
        let long = "x".repeat(200_000);
        let parsed = parse_outputs(&format_line("big", &long).unwrap()).unwrap();
        assert_eq!(parsed["big"].len(), 200_000);
    }
}
