//! `forgesafe drill`: a real restore of a real snapshot into a scratch folder, then the checks a
//! user restoring after a disaster needs. The failures are made on purpose, as they happen: a pack
//! file of the repository corrupted on the store, a mirror that lost an object, a ref that moved
//! after the collect recorded it.

mod common;

use common::git::{git, Upstream};
use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};

struct Rig {
    tmp: tempfile::TempDir,
    upstream: Upstream,
    repo: PathBuf,
    volume: PathBuf,
    scratch: PathBuf,
}

impl Rig {
    fn new() -> Rig {
        let tmp = tempfile::tempdir().unwrap();
        let upstream = Upstream::create(&tmp.path().join("srv/app.git"), tmp.path());
        upstream.checkout_new_branch("feature");
        upstream.commit("feature.txt", "feature\n");
        upstream.push(&["feature"]);
        upstream.annotated_tag("v1");
        upstream.push(&["v1"]);
        let scratch = tmp.path().join("scratch");
        std::fs::create_dir(&scratch).unwrap();
        Rig {
            repo: tmp.path().join("repo"),
            volume: tmp.path().join("volume"),
            upstream,
            scratch,
            tmp,
        }
    }

    fn forgesafe(&self) -> std::process::Command {
        let mut cmd = forgesafe_pw();
        cmd.env("FORGESAFE_PROFILE", local_profile(&self.repo))
            .env("TMPDIR", &self.scratch);
        cmd
    }

    fn collect(&self) {
        ok(self
            .forgesafe()
            .args(["collect", "--dest"])
            .arg(&self.volume)
            .arg("url")
            .arg(&self.upstream.bare));
    }

    fn push(&self) {
        ok(self
            .forgesafe()
            .args(["location", "push"])
            .arg(&self.volume)
            .args(["--path", "forge"]));
    }

    fn drill(&self, code: i32) -> (Value, String) {
        let out = run_expect(
            self.forgesafe()
                .args(["drill", "--path", "forge", "--json"]),
            code,
        );
        let report: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("--json prints the report ({e}): {}", stdout(&out)));
        assert_eq!(
            std::fs::read_dir(&self.scratch).unwrap().count(),
            0,
            "the scratch folder is removed afterwards"
        );
        (report, stderr(&out))
    }

    fn mirror(&self) -> PathBuf {
        find_dir(&self.volume, "app.git")
    }
}

fn find_dir(root: &Path, name: &str) -> PathBuf {
    common::git::all_files(root)
        .into_iter()
        .find_map(|f| {
            f.ancestors()
                .find(|a| a.file_name().is_some_and(|n| n == name))
                .map(Path::to_path_buf)
        })
        .unwrap_or_else(|| panic!("no {name} under {}", root.display()))
}

fn defects(report: &Value) -> Vec<String> {
    report["check"]["defects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| format!("{} | {} | {}", d["repository"], d["subject"], d["problem"]))
        .collect()
}

#[test]
fn a_whole_snapshot_passes_every_check_and_the_scratch_folder_is_removed() {
    let rig = Rig::new();
    rig.collect();
    rig.push();
    let (report, err) = rig.drill(0);
    assert_eq!(report["ok"], true, "{report}");
    let check = &report["check"];
    assert_eq!(check["mirrors_checked"], 1, "{report}");
    assert_eq!(
        check["mirrors_matching_record"], 1,
        "the refs equal what the collect recorded: {report}"
    );
    assert_eq!(
        check["refs_checked"], 4,
        "HEAD, main, feature and the tag: {report}"
    );
    assert!(check["objects_checked"].as_u64() >= Some(7), "{report}");
    assert!(
        check["metadata_files_checked"].as_u64() >= Some(2),
        "forgesafe's own JSON files at least: {report}"
    );
    assert!(defects(&report).is_empty(), "{report}");
    assert!(err.contains("passed"), "a summary on stderr: {err}");

    // Without --json: nothing on stdout when nothing is wrong.
    let out = ok(rig.forgesafe().args(["drill", "--path", "forge"]));
    assert_eq!(stdout(&out), "");
}

#[test]
fn a_corrupt_pack_file_in_the_repository_is_named_and_fails_the_drill() {
    let rig = Rig::new();
    rig.collect();
    rig.push();
    // The biggest data pack holds the mirror's git pack: flip bytes in its middle.
    let packs: Vec<PathBuf> = common::git::all_files(&rig.repo.join("data"));
    let pack = packs
        .iter()
        .max_by_key(|p| std::fs::metadata(p).unwrap().len())
        .unwrap()
        .clone();
    let pack_id = pack.file_name().unwrap().to_string_lossy().into_owned();
    let mut bytes = std::fs::read(&pack).unwrap();
    let middle = bytes.len() / 2;
    for b in &mut bytes[middle..middle + 16] {
        *b ^= 0xff;
    }
    std::fs::set_permissions(&pack, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    std::fs::write(&pack, bytes).unwrap();

    let (report, err) = rig.drill(1);
    assert_eq!(report["ok"], false, "{report}");
    let found = defects(&report);
    assert!(
        found
            .iter()
            .any(|d| d.contains(&format!("pack {}", &pack_id[..8]))
                && d.contains("decryption failed")),
        "the corrupt pack is named: {found:?}"
    );
    assert!(
        found.iter().all(|d| !d.contains("Backtrace")),
        "one line each: {found:?}"
    );
    assert!(err.contains("FAILED"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn a_mirror_that_lost_an_object_and_a_ref_moved_after_the_collect_are_named() {
    let rig = Rig::new();
    rig.collect();
    let mirror = rig.mirror();
    // Turn the mirror's pack into loose objects, then lose the blob of feature.txt.
    let pack_dir = mirror.join("objects/pack");
    let pack = std::fs::read_dir(&pack_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "pack"))
        .unwrap();
    let kept = rig.tmp.path().join("kept.pack");
    std::fs::copy(&pack, &kept).unwrap();
    for entry in std::fs::read_dir(&pack_dir).unwrap() {
        std::fs::remove_file(entry.unwrap().path()).unwrap();
    }
    let unpacked = std::process::Command::new("git")
        .args(["unpack-objects", "-q"])
        .current_dir(&mirror)
        .stdin(std::fs::File::open(&kept).unwrap())
        .status()
        .unwrap();
    assert!(unpacked.success());
    let blob = git(&mirror, &["rev-parse", "refs/heads/feature:feature.txt"])
        .trim()
        .to_string();
    std::fs::remove_file(mirror.join("objects").join(&blob[..2]).join(&blob[2..])).unwrap();
    // And someone moved a ref after the collect recorded it.
    let main = git(&mirror, &["rev-parse", "refs/heads/main"])
        .trim()
        .to_string();
    let feature = git(&mirror, &["rev-parse", "refs/heads/feature"])
        .trim()
        .to_string();
    git(&mirror, &["update-ref", "refs/heads/feature", &main]);
    git(&mirror, &["update-ref", "refs/heads/extra", &main]);
    // Put the tip back in reach through a tag so the lost blob is still reachable.
    git(&mirror, &["update-ref", "refs/tags/keep", &feature]);
    rig.push();

    let (report, _) = rig.drill(1);
    let found = defects(&report);
    let repository = "srv/app.git";
    assert!(
        found
            .iter()
            .any(|d| d.contains(&blob) && d.contains("missing")),
        "the lost object is named: {found:?}"
    );
    assert!(
        found.iter().any(|d| d.contains("refs/heads/feature")
            && d.contains(&format!("recorded at {feature} but points at {main}"))),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .any(|d| d.contains("refs/heads/extra") && d.contains("was not recorded")),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .all(|d| d.contains(repository) || d.contains("app.git")),
        "each defect names the repository: {found:?}"
    );
}

#[test]
fn no_snapshot_under_the_path_is_an_error_not_a_defect() {
    let rig = Rig::new();
    rig.collect();
    rig.push();
    let out = run_expect(rig.forgesafe().args(["drill", "--path", "other"]), 69);
    assert!(stderr(&out).contains("other"), "{}", stderr(&out));
}
