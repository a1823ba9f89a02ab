//! `--shard INDEX/COUNT`: one of COUNT pods that back up one account together (a Kubernetes
//! Indexed Job). Each repository belongs to exactly one shard, chosen by its full name alone, so
//! the assignment is the same in every pod and every run, whatever the listing order.

use anyhow::{bail, Result};
use sha2::{Digest, Sha256};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// Whether the repository named `full_name` (`host/owner/name`, or `owner/name`) is this shard's.
    pub fn owns(&self, full_name: &str) -> bool {
        let digest = Sha256::digest(full_name.to_ascii_lowercase().as_bytes());
        let bucket = u64::from_be_bytes(digest[..8].try_into().expect("a SHA-256 has 32 bytes"));
        bucket % u64::from(self.count) == u64::from(self.index)
    }

    /// What the shard's snapshots are filed under: `<path>/shard-<i>-of-<n>`.
    pub fn path_of(&self, path: &str) -> String {
        format!(
            "{}/shard-{}-of-{}",
            path.trim_end_matches('/'),
            self.index,
            self.count
        )
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = anyhow::Error;

    fn from_str(text: &str) -> Result<Self> {
        let Some((index, count)) = text.split_once('/') else {
            bail!("--shard {text:?} is not INDEX/COUNT (e.g. 0/3; INDEX counts from 0, as JOB_COMPLETION_INDEX does)");
        };
        let (Ok(index), Ok(count)) = (index.trim().parse::<u32>(), count.trim().parse::<u32>())
        else {
            bail!("--shard {text:?} is not INDEX/COUNT with whole numbers (e.g. 0/3)");
        };
        if count == 0 || index >= count {
            bail!(
                "--shard {text:?}: INDEX must be below COUNT, counting from 0 (e.g. 0/3, 1/3, 2/3)"
            );
        }
        Ok(Shard { index, count })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_repository_has_exactly_one_shard_and_the_choice_is_stable() {
        let names: Vec<String> = (0..300)
            .map(|i| format!("github.com/org/repo-{i}"))
            .collect();
        for count in [1, 2, 3, 7] {
            let shards: Vec<Shard> = (0..count).map(|index| Shard { index, count }).collect();
            let mut sizes = vec![0; count as usize];
            for name in &names {
                let owners: Vec<&Shard> = shards.iter().filter(|s| s.owns(name)).collect();
                assert_eq!(owners.len(), 1, "{name} in {count} shards");
                sizes[owners[0].index as usize] += 1;
            }
            // A hash spreads 300 names roughly evenly; no shard is starved.
            assert!(
                sizes.iter().all(|&n| n >= 300 / count as usize / 2),
                "{count}: {sizes:?}"
            );
        }
        let one = Shard { index: 1, count: 3 };
        assert_eq!(
            one.owns("github.com/Org/Repo"),
            one.owns("github.com/org/repo"),
            "names compare without case, as forges do"
        );
    }

    #[test]
    fn shards_parse_and_name_their_path() {
        assert_eq!(
            "2/3".parse::<Shard>().unwrap(),
            Shard { index: 2, count: 3 }
        );
        assert!("3/3".parse::<Shard>().is_err());
        assert!("x"
            .parse::<Shard>()
            .unwrap_err()
            .to_string()
            .contains("INDEX/COUNT"));
        assert_eq!(
            Shard { index: 0, count: 2 }.path_of("forge/acme/"),
            "forge/acme/shard-0-of-2"
        );
    }
}
