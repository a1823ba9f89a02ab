//! Git LFS pointer files, parsed strictly per the spec
//! (<https://github.com/git-lfs/git-lfs/blob/main/docs/spec.md>).
//!
//! Strict on purpose: every small blob of every mirror goes through [`parse`], and a blob that
//! merely looks like a pointer (a README quoting one, a half-edited file) must not turn into a
//! download request, let alone a failed repository. What is accepted is what git-lfs writes:
//!
//! ```text
//! version https://git-lfs.github.com/spec/v1
//! oid sha256:<64 lowercase hex>
//! size <decimal>
//! ```
//!
//! each line `key value\n`, `version` first, the other keys in ascending order. Extension
//! lines (`ext-0-name sha256:<hex>`, written by `git lfs` extensions such as lfs-folderstore's
//! cousins) sort before `oid` and are allowed, as git-lfs allows them; unknown keys are not.

use std::fmt;

/// Pointer blobs are small: git-lfs itself only considers blobs under 1024 bytes (its
/// `blobSizeCutoff`), so larger blobs are never read.
pub const MAX_POINTER_SIZE: u64 = 1024;

/// The version line git-lfs writes today, and the two older spellings it still reads.
const VERSIONS: &[&str] = &[
    "https://git-lfs.github.com/spec/v1",
    "https://hawser.github.com/spec/v1",
    "http://git-media.io/v/2",
];

/// One LFS object a pointer refers to: its SHA-256 (64 lowercase hex digits) and size.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct Pointer {
    pub oid: String,
    pub size: u64,
}

impl fmt::Display for Pointer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({} bytes)", self.oid, self.size)
    }
}

/// `Some` only for a well-formed pointer; anything else is an ordinary blob.
pub fn parse(data: &[u8]) -> Option<Pointer> {
    if data.len() as u64 >= MAX_POINTER_SIZE {
        return None;
    }
    let text = std::str::from_utf8(data).ok()?;
    // Every line ends with "\n", the last one included; a missing final newline is tolerated
    // because some tools strip it and git-lfs still reads such pointers.
    let body = text.strip_suffix('\n').unwrap_or(text);
    let mut lines = body.split('\n');

    let version = lines.next()?.strip_prefix("version ")?;
    if !VERSIONS.contains(&version) {
        return None;
    }
    let mut line = lines.next()?;
    let mut previous_ext: Option<&str> = None;
    while let Some(ext) = line.strip_prefix("ext-") {
        if !valid_extension(ext) || previous_ext.is_some_and(|p| p >= ext) {
            return None;
        }
        previous_ext = Some(ext);
        line = lines.next()?;
    }
    let oid = line.strip_prefix("oid sha256:")?;
    if oid.len() != 64
        || !oid
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return None;
    }
    let size = lines.next()?.strip_prefix("size ")?;
    // Plain decimal digits only: no sign, no spaces, no leading zeros except "0" itself.
    if size.is_empty()
        || !size.bytes().all(|b| b.is_ascii_digit())
        || (size.len() > 1 && size.starts_with('0'))
    {
        return None;
    }
    let size: u64 = size.parse().ok()?;
    if lines.next().is_some() {
        return None;
    }
    Some(Pointer {
        oid: oid.to_string(),
        size,
    })
}

/// `<priority>-<name> sha256:<64 hex>` after the `ext-` prefix.
fn valid_extension(rest: &str) -> bool {
    let Some((key, value)) = rest.split_once(' ') else {
        return false;
    };
    let Some((priority, name)) = key.split_once('-') else {
        return false;
    };
    let hex = value.strip_prefix("sha256:").unwrap_or("");
    !priority.is_empty()
        && priority.bytes().all(|b| b.is_ascii_digit())
        && !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && hex.len() == 64
        && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    const OID: &str = "4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393";

    fn pointer(text: &str) -> Option<Pointer> {
        parse(text.as_bytes())
    }

    #[test]
    fn reads_what_git_lfs_writes() {
        let text =
            format!("version https://git-lfs.github.com/spec/v1\noid sha256:{OID}\nsize 12345\n");
        assert_eq!(
            pointer(&text),
            Some(Pointer {
                oid: OID.into(),
                size: 12345
            })
        );
        assert_eq!(
            pointer(text.trim_end()),
            Some(Pointer {
                oid: OID.into(),
                size: 12345
            }),
            "final newline optional"
        );
        let old = format!("version https://hawser.github.com/spec/v1\noid sha256:{OID}\nsize 0\n");
        assert_eq!(pointer(&old).map(|p| p.size), Some(0));
    }

    #[test]
    fn accepts_sorted_extensions() {
        let ext = "sha256:".to_string() + &"a".repeat(64);
        let text = format!(
            "version https://git-lfs.github.com/spec/v1\next-0-foo {ext}\next-1-bar {ext}\noid sha256:{OID}\nsize 7\n"
        );
        assert_eq!(pointer(&text).map(|p| p.size), Some(7));
        let unsorted = text.replace("ext-0-foo", "ext-2-foo");
        assert_eq!(pointer(&unsorted), None);
    }

    #[test]
    fn rejects_anything_else() {
        let good =
            format!("version https://git-lfs.github.com/spec/v1\noid sha256:{OID}\nsize 12\n");
        let cases = [
            good.replace("spec/v1", "spec/v2"),
            good.replace("sha256:", "sha1:"),
            good.replace(OID, &OID.to_uppercase()),
            good.replace(OID, &OID[..63]),
            good.replace("size 12", "size -12"),
            good.replace("size 12", "size 012"),
            good.replace("size 12", "size 12 "),
            good.replace("size 12", "size"),
            good.replace("size 12", "size 99999999999999999999999"),
            good.replace('\n', "\r\n"),
            good.replace("oid ", "oid  "),
            format!("{good}extra line\n"),
            format!("{good}\n"),
            format!("# comment\n{good}"),
            format!("version https://git-lfs.github.com/spec/v1\nsize 12\noid sha256:{OID}\n"),
            format!("version https://git-lfs.github.com/spec/v1\noid sha256:{OID}\n"),
            format!(
                "version https://git-lfs.github.com/spec/v1\nzzz 1\noid sha256:{OID}\nsize 12\n"
            ),
            String::new(),
        ];
        for case in cases {
            assert_eq!(pointer(&case), None, "{case:?}");
        }
        assert_eq!(parse(&[0xff, 0xfe]), None);
        let mut huge = good.into_bytes();
        huge.resize(2000, b'\n');
        assert_eq!(parse(&huge), None);
    }
}
