//! restic's lock file, byte for byte: the JSON fields, the encryption with the repository's master
//! key, the name (SHA-256 of the stored bytes), and restic's staleness rule.
//!
//! Facts from restic (`internal/restic/lock.go`): the plaintext is JSON (a v2 repository may hold
//! `0x02 || zstd(JSON)`); it is stored as `IV(16) || AES-256-CTR ciphertext || Poly1305-AES MAC(16)`;
//! a file whose name is not the SHA-256 of its bytes is invalid; a lock is stale when it is older
//! than 30 minutes, or when it comes from this host and its process is gone.

use super::super::sealed::RepoKey;
use anyhow::{anyhow, Result};
use chrono::{DateTime, FixedOffset, Local, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::time::Duration;

/// restic calls a lock stale after this long without a refresh.
pub const STALE_AFTER: Duration = Duration::from_secs(30 * 60);

/// The JSON restic writes and reads. Go ignores unknown fields, so the `forgesafe` field (which of
/// our commands holds the lock) is invisible to restic and lets us recognise our own locks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LockRecord {
    pub time: String,
    pub exclusive: bool,
    pub hostname: String,
    #[serde(default)]
    pub username: String,
    pub pid: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub uid: u32,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub gid: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forgesafe: Option<String>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl LockRecord {
    /// A lock for this process, stamped now.
    pub fn for_this_process(exclusive: bool, command: &str) -> Self {
        // SAFETY: getpid/getuid/getgid have no preconditions and cannot fail.
        let (pid, uid, gid) = unsafe { (libc::getpid(), libc::getuid(), libc::getgid()) };
        LockRecord {
            time: now_rfc3339(),
            exclusive,
            hostname: this_hostname(),
            username: this_username(uid),
            pid: i64::from(pid),
            uid,
            gid,
            forgesafe: Some(format!("{} {command}", env!("CARGO_PKG_VERSION"))),
        }
    }

    /// The same lock, stamped now (what a refresh writes).
    pub fn refreshed(&self) -> Self {
        LockRecord {
            time: now_rfc3339(),
            ..self.clone()
        }
    }

    pub fn timestamp(&self) -> Option<DateTime<FixedOffset>> {
        DateTime::parse_from_rfc3339(&self.time).ok()
    }

    /// How long ago it was written (zero for a time in the future; very old for an unreadable time).
    pub fn age(&self) -> Duration {
        match self.timestamp() {
            Some(t) => (Utc::now() - t.with_timezone(&Utc))
                .to_std()
                .unwrap_or(Duration::ZERO),
            None => Duration::MAX,
        }
    }

    /// restic's rule: older than 30 minutes, or from this host with a process that no longer exists.
    pub fn is_stale(&self) -> bool {
        self.age() > STALE_AFTER || (self.hostname == this_hostname() && !process_exists(self.pid))
    }

    /// Written by forgesafe (any host, any version).
    pub fn is_ours(&self) -> bool {
        self.forgesafe.is_some()
    }

    /// "forgesafe push" or "restic", for messages.
    pub fn holder(&self) -> String {
        match &self.forgesafe {
            Some(what) => format!(
                "forgesafe {}",
                what.split_once(' ')
                    .map_or(what.as_str(), |(_, command)| command)
            ),
            None => "restic (or another tool)".to_string(),
        }
    }

    /// One phrase naming who holds it, for the line a waiting command fails with.
    pub fn describe(&self) -> String {
        let user = if self.username.is_empty() {
            String::new()
        } else {
            format!(", user {}", self.username)
        };
        format!(
            "{} on host {} (pid {}{user}), {} lock taken {} ago",
            self.holder(),
            self.hostname,
            self.pid,
            if self.exclusive {
                "an exclusive"
            } else {
                "a non-exclusive"
            },
            humantime::format_duration(Duration::from_secs(
                self.age()
                    .min(Duration::from_secs(u32::MAX.into()))
                    .as_secs()
            ))
        )
    }
}

fn now_rfc3339() -> String {
    Local::now().to_rfc3339_opts(SecondsFormat::Nanos, false)
}

/// The host name as restic compares it (`os.Hostname()`).
pub fn this_hostname() -> String {
    hostname::get()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The user's name, as restic records it; empty when the uid has no name (an arbitrary uid in a
/// container).
fn this_username(uid: u32) -> String {
    let mut buf = vec![0 as libc::c_char; 4096];
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer refers to live, correctly sized storage for the duration of the call.
    let rc = unsafe { libc::getpwuid_r(uid, &mut pwd, buf.as_mut_ptr(), buf.len(), &mut result) };
    if rc != 0 || result.is_null() {
        return std::env::var("USER").unwrap_or_default();
    }
    // SAFETY: on success pw_name points at a NUL-terminated string inside `buf`.
    unsafe { std::ffi::CStr::from_ptr(pwd.pw_name) }
        .to_string_lossy()
        .into_owned()
}

/// Whether a process with this pid exists here. Signal 0 only checks (restic sends SIGHUP, which
/// is why forgesafe ignores SIGHUP); EPERM means it exists under another user.
pub fn process_exists(pid: i64) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if pid <= 0 {
        return false;
    }
    // SAFETY: kill with signal 0 sends nothing; it has no memory-safety preconditions.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// The stored bytes of a lock and the name restic expects for them.
pub fn seal(record: &LockRecord, key: &RepoKey) -> Result<(String, Vec<u8>)> {
    let json = serde_json::to_vec(record)?;
    let stored = key
        .seal(&json)
        .map_err(|e| anyhow!("cannot seal the lock file: {e}"))?;
    Ok((hex_sha256(&stored), stored))
}

/// Why a lock file could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unreadable {
    /// Its name is not the SHA-256 of its bytes (restic: "invalid lock").
    WrongName,
    /// The MAC does not match this repository's key, or it is too short.
    NotDecryptable,
    /// Decrypted, but not restic's lock JSON.
    NotALock(String),
}

impl std::fmt::Display for Unreadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unreadable::WrongName => f.write_str("its name is not the SHA-256 of its content"),
            Unreadable::NotDecryptable => {
                f.write_str("it does not decrypt with this repository's key")
            }
            Unreadable::NotALock(why) => write!(f, "it is not a lock ({why})"),
        }
    }
}

/// Reads stored lock bytes (named `id`). An empty file is `Ok(None)`: restic skips those, since
/// backends without atomic writes can show a lock before its bytes.
pub fn open(id: &str, stored: &[u8], key: &RepoKey) -> Result<Option<LockRecord>, Unreadable> {
    if stored.is_empty() {
        return Ok(None);
    }
    if hex_sha256(stored) != id {
        return Err(Unreadable::WrongName);
    }
    let plain = key.open(stored).ok_or(Unreadable::NotDecryptable)?;
    let json = match plain.first() {
        // restic's v2 format for unpacked files: a version byte, then zstd.
        Some(2) => {
            zstd::decode_all(&plain[1..]).map_err(|e| Unreadable::NotALock(format!("zstd: {e}")))?
        }
        _ => plain,
    };
    serde_json::from_slice(&json)
        .map(Some)
        .map_err(|e| Unreadable::NotALock(e.to_string()))
}

fn hex_sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> RepoKey {
        RepoKey::from_bytes([7u8; 64])
    }

    #[test]
    fn a_sealed_lock_is_named_by_its_hash_and_opens_again() {
        let record = LockRecord::for_this_process(true, "delete");
        let (id, stored) = seal(&record, &key()).unwrap();
        assert_eq!(id.len(), 64);
        assert_eq!(
            stored.len(),
            16 + serde_json::to_vec(&record).unwrap().len() + 16,
            "IV, ciphertext, MAC"
        );
        assert_eq!(open(&id, &stored, &key()).unwrap(), Some(record));
        let mut renamed = id.clone();
        renamed.replace_range(0..1, if id.starts_with('0') { "1" } else { "0" });
        assert_eq!(open(&renamed, &stored, &key()), Err(Unreadable::WrongName));
        let other = RepoKey::from_bytes([8u8; 64]);
        assert_eq!(open(&id, &stored, &other), Err(Unreadable::NotDecryptable));
        assert_eq!(
            open(&id, &[], &key()),
            Ok(None),
            "empty lock files are skipped, as restic does"
        );
    }

    #[test]
    fn restics_json_fields_and_zstd_plaintext_are_read() {
        let json = br#"{"time":"2026-11-30T10:00:00.123456789+01:00","exclusive":false,"hostname":"h","username":"u","pid":42}"#;
        let mut plain = vec![2u8];
        plain.extend(zstd::encode_all(&json[..], 3).unwrap());
        let stored = key().seal(&plain).unwrap();
        let record = open(&hex_sha256(&stored), &stored, &key())
            .unwrap()
            .unwrap();
        assert_eq!(
            (
                record.hostname.as_str(),
                record.pid,
                record.exclusive,
                record.uid
            ),
            ("h", 42, false, 0)
        );
        assert!(!record.is_ours());
        assert!(
            record.is_stale(),
            "a lock from 2026-11-30 is older than 30 minutes"
        );
    }

    #[test]
    fn staleness_follows_restic() {
        let mut mine = LockRecord::for_this_process(false, "push");
        assert!(!mine.is_stale(), "this process exists and the lock is new");
        assert!(mine.is_ours());
        mine.pid = i64::from(i32::MAX); // no such process
        assert!(mine.is_stale(), "same host, dead pid");
        mine.hostname = "another-host".into();
        assert!(!mine.is_stale(), "another host's lock is stale only by age");
        mine.time = (Local::now() - chrono::Duration::minutes(31)).to_rfc3339();
        assert!(mine.is_stale());
        let json = serde_json::to_value(LockRecord {
            uid: 0,
            gid: 0,
            ..mine
        })
        .unwrap();
        assert!(
            json.get("uid").is_none() && json.get("gid").is_none(),
            "uid/gid omitted when 0, as restic writes them"
        );
    }
}
