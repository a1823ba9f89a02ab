//! The files attached to releases, kept beside the release metadata:
//! `<repo>.metadata/release-assets/<tag>/<asset name>`, plus `assets.json` in each folder
//! saying which upstream asset (id, size, update time) each file is.
//!
//! An asset is downloaded again only when that record no longer matches upstream (a new
//! upload under the same name gets a new id). Files are written beside and renamed, and a
//! size that differs from what the forge announced is refused, so an interrupted or short
//! download never stands in for the asset. Assets of releases that are gone upstream, and
//! assets removed from a release, are removed here too: older snapshots still hold them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::rest::RestClient;
use crate::collect::metadata::{file_name, MetadataWriter};

pub const FOLDER: &str = "release-assets";
const RECORD: &str = "assets.json";

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct AssetOutcome {
    pub downloaded: u64,
    pub bytes: u64,
}

/// What `assets.json` remembers of each file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct AssetRecord {
    id: Value,
    size: u64,
    updated_at: Option<String>,
    content_type: Option<String>,
}

/// One asset as the forge lists it, reduced to what downloading needs.
struct Asset {
    file: String,
    record: AssetRecord,
    url: String,
}

/// Brings `release-assets/` in line with `releases` (the forge's release list, GitHub's or
/// Gitea's shape); `asset_url` says where the forge serves an asset from.
pub fn sync<'r>(
    client: &RestClient,
    releases: &'r [Value],
    writer: &MetadataWriter,
    asset_url: impl Fn(&'r Value) -> Option<&'r str>,
) -> Result<AssetOutcome> {
    let mut outcome = AssetOutcome::default();
    let mut folders = BTreeSet::new();
    for release in releases {
        let tag = release["tag_name"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| release["id"].to_string());
        let folder = folder_name(&tag);
        folders.insert(folder.clone());
        let rel_folder = format!("{FOLDER}/{folder}");
        let assets = assets_of(release, &asset_url).with_context(|| format!("release {tag}"))?;
        let recorded: BTreeMap<String, AssetRecord> = writer
            .read(&format!("{rel_folder}/{RECORD}"))
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_default();
        let mut now = BTreeMap::new();
        for asset in assets {
            let path = writer.path(&format!("{rel_folder}/{}", asset.file));
            let on_disk = std::fs::metadata(&path).map(|m| m.len()).ok();
            if recorded.get(&asset.file) != Some(&asset.record)
                || on_disk != Some(asset.record.size)
            {
                let bytes = download(client, &asset, &path)
                    .with_context(|| format!("release {tag}: asset {}", asset.file))?;
                outcome.downloaded += 1;
                outcome.bytes += bytes;
            }
            now.insert(asset.file, asset.record);
        }
        remove_files_not_in(&writer.path(&rel_folder), &now)?;
        if !now.is_empty() {
            writer.write(
                &format!("{rel_folder}/{RECORD}"),
                &serde_json::to_value(&now)?,
            )?;
        }
    }
    remove_folders_not_in(&writer.path(FOLDER), &folders)?;
    Ok(outcome)
}

fn assets_of<'r>(
    release: &'r Value,
    asset_url: &impl Fn(&'r Value) -> Option<&'r str>,
) -> Result<Vec<Asset>> {
    let Some(list) = release["assets"].as_array() else {
        return Ok(Vec::new());
    };
    let mut assets = Vec::new();
    let mut names = BTreeSet::new();
    for a in list {
        let name = a["name"].as_str().context("an asset without a name")?;
        let url = asset_url(a).with_context(|| format!("asset {name} has no download URL"))?;
        let file = folder_name(name);
        if file == RECORD || !names.insert(file.clone()) {
            bail!("asset name {name:?} collides with another file in its folder");
        }
        assets.push(Asset {
            file,
            url: url.to_string(),
            record: AssetRecord {
                id: a["id"].clone(),
                size: a["size"]
                    .as_u64()
                    .with_context(|| format!("asset {name} has no size"))?,
                updated_at: a["updated_at"]
                    .as_str()
                    .or(a["created_at"].as_str())
                    .map(str::to_string),
                content_type: a["content_type"].as_str().map(str::to_string),
            },
        });
    }
    Ok(assets)
}

fn download(client: &RestClient, asset: &Asset, path: &Path) -> Result<u64> {
    let dir = path.parent().expect("asset paths have a parent");
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".download-")
        .tempfile_in(dir)?;
    let size = client.download(&asset.url, tmp.as_file_mut())?;
    if size != asset.record.size {
        bail!(
            "the download has {size} bytes where the forge announced {}; run again",
            asset.record.size
        );
    }
    tmp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("cannot write {}", path.display()))?;
    tracing::debug!(file = %path.display(), size, "release asset downloaded");
    Ok(size)
}

/// A tag or asset name as one safe path component, kept as is when it already is one.
fn folder_name(name: &str) -> String {
    let safe = !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '+'));
    if safe {
        name.to_string()
    } else {
        file_name(name).trim_end_matches(".json").to_string()
    }
}

fn remove_files_not_in(dir: &Path, keep: &BTreeMap<String, AssetRecord>) -> Result<()> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name != RECORD && !keep.contains_key(&name) {
            std::fs::remove_file(entry.path())
                .with_context(|| format!("cannot remove {}", entry.path().display()))?;
        }
    }
    if keep.is_empty() {
        let _ = std::fs::remove_file(dir.join(RECORD));
        let _ = std::fs::remove_dir(dir);
    }
    Ok(())
}

fn remove_folders_not_in(dir: &Path, keep: &BTreeSet<String>) -> Result<()> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.path().is_dir() && !keep.contains(&name) {
            std::fs::remove_dir_all(entry.path())
                .with_context(|| format!("cannot remove {}", entry.path().display()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_and_asset_names_become_single_safe_components() {
        assert_eq!(folder_name("v1.0.0"), "v1.0.0");
        assert_eq!(
            folder_name("app-linux-x86_64.tar.gz"),
            "app-linux-x86_64.tar.gz"
        );
        for hostile in ["../etc", "a/b", ".hidden", "", "assets json"] {
            let name = folder_name(hostile);
            assert!(
                !name.contains('/') && !name.starts_with('.') && !name.is_empty(),
                "{hostile:?} -> {name:?}"
            );
        }
        assert_ne!(folder_name("a/b"), folder_name("a b"));
    }
}
