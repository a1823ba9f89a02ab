//! The metadata tree: one pretty-printed, key-sorted JSON file per item, rewritten only when its
//! content changed, so a snapshot of the volume deduplicates and a diff of two snapshots reads well.

use anyhow::{Context, Result};
use serde_json::{Map, Value};
use std::collections::BTreeSet;
use std::path::PathBuf;

pub struct MetadataWriter {
    root: PathBuf,
}

impl MetadataWriter {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        MetadataWriter { root: root.into() }
    }

    /// Writes `value` to `rel` (e.g. `issues/12.json`) unless the file already holds exactly it.
    /// Returns whether the file changed.
    pub fn write(&self, rel: &str, value: &Value) -> Result<bool> {
        let path = self.root.join(rel);
        let mut text = serde_json::to_string_pretty(&canonical(value))?;
        text.push('\n');
        if std::fs::read(&path).is_ok_and(|old| old == text.as_bytes()) {
            return Ok(false);
        }
        let dir = path.parent().expect("metadata paths have a parent");
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        // Write beside and rename: an interrupted run never leaves a torn file.
        let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
        std::io::Write::write_all(&mut tmp, text.as_bytes())?;
        tmp.persist(&path)
            .map_err(|e| e.error)
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(true)
    }

    /// Where `rel` lives on disk (for files that are not JSON documents, e.g. release assets).
    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    pub fn read(&self, rel: &str) -> Option<Value> {
        serde_json::from_slice(&std::fs::read(self.root.join(rel)).ok()?).ok()
    }

    /// Removes the `.json` files of a folder that are not in `keep` (items deleted upstream,
    /// e.g. a removed label). Only called after a complete, fresh listing.
    pub fn prune_folder(&self, folder: &str, keep: &BTreeSet<String>) -> Result<u64> {
        let dir = self.root.join(folder);
        let mut removed = 0;
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return Ok(0);
        };
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".json") && !keep.contains(&name) {
                std::fs::remove_file(entry.path())?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}

/// A file name for an item key (a label's name may hold `/`, spaces, dots).
pub fn file_name(key: &str) -> String {
    let cleaned: String = key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    // Different names can clean to the same text: keep them apart with a short hash of the original.
    if cleaned == key && !key.is_empty() {
        format!("{cleaned}.json")
    } else {
        let hash = key.bytes().fold(0xcbf29ce484222325u64, |h, b| {
            (h ^ b as u64).wrapping_mul(0x100000001b3)
        });
        format!("{cleaned}-{:08x}.json", hash as u32)
    }
}

/// Rebuilds objects with their keys in sorted order, whatever map type serde_json was built with.
pub fn canonical(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let mut out = Map::new();
            for k in keys {
                out.insert(k.clone(), canonical(&map[k]));
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_sorted_pretty_and_rewritten_only_on_change() {
        let tmp = tempfile::tempdir().unwrap();
        let w = MetadataWriter::new(tmp.path());
        let v = serde_json::json!({"b": 1, "a": {"d": [1, 2], "c": null}});
        assert!(w.write("issues/1.json", &v).unwrap());
        let text = std::fs::read_to_string(tmp.path().join("issues/1.json")).unwrap();
        assert!(
            text.find("\"a\"").unwrap() < text.find("\"b\"").unwrap() && text.contains("\n  "),
            "{text}"
        );
        let mtime = std::fs::metadata(tmp.path().join("issues/1.json"))
            .unwrap()
            .modified()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(!w
            .write(
                "issues/1.json",
                &serde_json::json!({"a": {"c": null, "d": [1, 2]}, "b": 1})
            )
            .unwrap());
        assert_eq!(
            std::fs::metadata(tmp.path().join("issues/1.json"))
                .unwrap()
                .modified()
                .unwrap(),
            mtime
        );
        assert!(w
            .write("issues/1.json", &serde_json::json!({"b": 2}))
            .unwrap());
        w.write("issues/2.json", &v).unwrap();
        let keep: BTreeSet<String> = ["2.json".to_string()].into();
        assert_eq!(w.prune_folder("issues", &keep).unwrap(), 1);
        assert!(!tmp.path().join("issues/1.json").exists());
    }

    #[test]
    fn item_keys_become_safe_distinct_file_names() {
        assert_eq!(file_name("bug"), "bug.json");
        assert_ne!(file_name("a/b"), file_name("a b"));
        assert!(!file_name("../x").contains('/'));
    }
}
