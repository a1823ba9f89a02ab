//! A private repository behind HTTP basic auth: the token must reach the server and nothing
//! else — not the mirror's files, not the logs, not error messages.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::git::{all_files, assert_fsck_clean, git, local_refs, ls_remote, Upstream};
use common::git_http_server::{GitHttpServer, ServerOptions};
use forgesafe::collect::mirror::{
    is_not_found, mirror, MirrorChange, MirrorOptions, RemoteAuthFailed,
};
use forgesafe::secret::Secret;

/// Collects everything this crate logs, at every level.
#[derive(Clone, Default)]
struct CapturedLog(Arc<Mutex<Vec<u8>>>);

impl Write for CapturedLog {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in input.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (*b as u32) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

#[test]
fn private_repository_is_mirrored_and_the_token_never_leaks() {
    let user = "forgesafe-bot";
    let token = format!(
        "tok_{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let wrong_token = format!("{token}_wrong");
    let server = GitHttpServer::start_with(ServerOptions {
        basic_auth: Some((user.to_string(), token.clone())),
        ..Default::default()
    });
    let scratch = tempfile::tempdir().unwrap();
    let upstream = Upstream::create(&server.path("private/secret.git"), scratch.path());
    upstream.annotated_tag("v1");
    upstream.push(&["--tags"]);
    let url = server.url("private/secret.git");
    let dest = scratch.path().join("mirrors/secret.git");
    let opts = MirrorOptions::default();

    let log = CapturedLog::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let mut messages = String::new();
    tracing::subscriber::with_default(subscriber, || {
        // Without credentials the server refuses; that is not "not found".
        let anonymous = mirror(&url, &dest, None, &opts).unwrap_err();
        assert!(!is_not_found(&anonymous), "{anonymous:#}");
        let auth = anonymous
            .downcast_ref::<RemoteAuthFailed>()
            .expect("an authentication error");
        assert!(!auth.had_credentials);
        messages.push_str(&format!("{anonymous:#}\n{anonymous:?}\n"));

        let rejected = mirror(
            &url,
            &dest,
            Some((user, &Secret::new(wrong_token.clone()))),
            &opts,
        )
        .unwrap_err();
        messages.push_str(&format!("{rejected:#}\n{rejected:?}\n"));
        assert!(
            rejected
                .downcast_ref::<RemoteAuthFailed>()
                .expect("an authentication error")
                .had_credentials
        );
        assert!(!dest.exists(), "a failed first clone leaves no mirror");

        let secret = Secret::new(token.clone());
        let first = mirror(&url, &dest, Some((user, &secret)), &opts).unwrap();
        assert_eq!(first.change, MirrorChange::New);
        messages.push_str(&format!("{first:?}\n"));

        upstream.commit("more.txt", "more\n");
        upstream.push(&["main"]);
        let second = mirror(&url, &dest, Some((user, &secret)), &opts).unwrap();
        assert_eq!(second.change, MirrorChange::Updated { refs_changed: 1 });
        let third = mirror(&url, &dest, Some((user, &secret)), &opts).unwrap();
        assert_eq!(third.change, MirrorChange::Unchanged);
    });

    assert_eq!(
        local_refs(&dest),
        ls_remote(upstream.bare.to_str().unwrap())
    );
    assert_fsck_clean(&dest);
    assert_eq!(
        git(&dest, &["config", "remote.origin.url"]),
        url,
        "only the clean URL is recorded"
    );

    assert_eq!(
        (base64(b"Man"), base64(b"Ma"), base64(b"M")),
        ("TWFu".into(), "TWE=".into(), "TQ==".into())
    );
    let basic_header = base64(format!("{user}:{token}").as_bytes());
    let log = log.0.lock().unwrap().clone();
    assert!(
        contains(&log, "mirror done"),
        "the log was captured: {}",
        String::from_utf8_lossy(&log)
    );
    for (what, haystack) in [
        ("log", log.as_slice()),
        ("error messages", messages.as_bytes()),
    ] {
        for needle in [&token, &basic_header] {
            assert!(!contains(haystack, needle), "secret found in {what}");
        }
    }
    assert!(
        !contains(messages.as_bytes(), &wrong_token),
        "a rejected token is not echoed either"
    );
    let files = all_files(&dest);
    assert!(files.len() > 5);
    for file in files {
        let bytes = std::fs::read(&file).unwrap();
        for needle in [&token, &basic_header] {
            assert!(
                !contains(&bytes, needle),
                "secret found in {}",
                file.display()
            );
        }
    }
}
