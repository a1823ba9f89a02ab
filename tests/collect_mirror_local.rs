//! gickup's `any` source may name a local repository path instead of a URL.

mod common;

use common::git::{assert_fsck_clean, local_refs, ls_remote, Upstream};
use forgesafe::collect::mirror::{mirror, MirrorChange, MirrorOptions};

#[test]
fn a_local_path_is_mirrored_and_updated() {
    let scratch = tempfile::tempdir().unwrap();
    let upstream = Upstream::create(&scratch.path().join("upstream/repo.git"), scratch.path());
    let source = upstream.bare.to_str().unwrap().to_string();
    let dest = scratch.path().join("mirrors/repo.git");

    assert_eq!(
        mirror(&source, &dest, None, &MirrorOptions::default())
            .unwrap()
            .change,
        MirrorChange::New
    );
    assert_eq!(local_refs(&dest), ls_remote(&source));

    upstream.commit("b.txt", "b\n");
    upstream.push(&["main"]);
    assert_eq!(
        mirror(&source, &dest, None, &MirrorOptions::default())
            .unwrap()
            .change,
        MirrorChange::Updated { refs_changed: 1 }
    );
    assert_eq!(local_refs(&dest), ls_remote(&source));
    assert_fsck_clean(&dest);
}
