//! "did you mean …?" hints by edit distance.

/// Levenshtein distance over characters.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The closest candidate, if it is close enough to be a plausible typo
/// (distance at most half the longer name, case differences count as one).
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| {
            let d = if c.eq_ignore_ascii_case(name) {
                1
            } else {
                edit_distance(name, c)
            };
            (d, c)
        })
        .filter(|(d, c)| *d <= name.chars().count().max(c.chars().count()) / 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// " (did you mean X?)" or "".
pub fn hint<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    closest(name, candidates).map_or(String::new(), |c| format!(" (did you mean {c}?)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_and_hints() {
        assert_eq!(edit_distance("esBackup", "ghBackup"), 2);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(
            hint("esBackup", ["ghBackup", "other"]),
            " (did you mean ghBackup?)"
        );
        assert_eq!(
            hint("KubeExce", ["KubeExec", "KubeTask"]),
            " (did you mean KubeExec?)"
        );
        assert_eq!(hint("zzz", ["ghBackup"]), "");
    }
}
