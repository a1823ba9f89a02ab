//! Fixture trees: source-like text, incompressible blobs, duplicates, a symlink, an empty dir.

use std::fs;
use std::path::Path;

/// A small deterministic pseudo-random generator (xorshift), so fixtures need no crate.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407)
            | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut v = Vec::with_capacity(n + 8);
        while v.len() < n {
            v.extend_from_slice(&self.next().to_le_bytes());
        }
        v.truncate(n);
        v
    }
}

/// Builds a mixed tree of roughly `random_bytes` incompressible bytes plus text and duplicates.
pub fn make_tree(root: &Path, seed: u64, random_bytes: usize) {
    let mut rng = Rng::new(seed);
    fs::create_dir_all(root.join("src/deep/er")).unwrap();
    fs::create_dir_all(root.join("empty")).unwrap();
    for i in 0..20 {
        let text: String = (0..200)
            .map(|l| format!("fn line_{l}_{i}() {{ let x = {}; }}\n", rng.next() % 1000))
            .collect();
        fs::write(root.join(format!("src/file{i}.rs")), &text).unwrap();
    }
    let blob = rng.bytes(random_bytes);
    fs::write(root.join("src/deep/er/blob.bin"), &blob).unwrap();
    fs::write(root.join("duplicate-of-blob.bin"), &blob).unwrap();
    fs::write(root.join("empty-file"), b"").unwrap();
    std::os::unix::fs::symlink("src/file0.rs", root.join("link-to-file0")).unwrap();
}

/// Asserts two trees hold the same entries with the same bytes and symlink targets.
pub fn assert_same_tree(a: &Path, b: &Path) {
    let la = listing(a);
    let lb = listing(b);
    assert_eq!(la, lb, "trees differ: {} vs {}", a.display(), b.display());
}

fn listing(root: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let rel = p.strip_prefix(root).unwrap().display().to_string();
        let meta = fs::symlink_metadata(&p).unwrap();
        if meta.file_type().is_symlink() {
            out.push((rel, format!("-> {}", fs::read_link(&p).unwrap().display())));
        } else if meta.is_dir() {
            out.push((rel.clone(), "dir".into()));
            walk(root, &p, out);
        } else {
            let data = fs::read(&p).unwrap();
            out.push((rel, format!("{} bytes, hash {:x}", data.len(), fnv(&data))));
        }
    }
}

fn fnv(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ *b as u64).wrapping_mul(0x100000001b3)
    })
}
