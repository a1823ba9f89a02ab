//! GitHub's `Link` response header, which carries the pagination URLs.
//! Format: `<https://api.github.com/user/repos?page=2>; rel="next", <…>; rel="last"`.

/// The URL marked `rel="next"`, exactly as given (GitHub asks clients to follow it verbatim
/// rather than build page URLs themselves).
///
/// URLs may themselves contain commas (`affiliation=owner,collaborator`), so the header is
/// split at `<…>` boundaries, not at commas.
pub fn next_link(header: &str) -> Option<String> {
    let mut rest = header;
    while let Some(open) = rest.find('<') {
        let close = open + rest[open..].find('>')?;
        let url = &rest[open + 1..close];
        let params_end = rest[close..].find('<').map_or(rest.len(), |i| close + i);
        let params = &rest[close + 1..params_end];
        let is_next = params
            .split([';', ','])
            .filter_map(|param| param.trim().split_once('='))
            .any(|(key, value)| {
                key.trim() == "rel"
                    && value
                        .trim()
                        .trim_matches('"')
                        .split(' ')
                        .any(|rel| rel == "next")
            });
        if is_next {
            return Some(url.to_string());
        }
        rest = &rest[params_end..];
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_next_among_other_relations() {
        let header = r#"<https://api.github.com/user/repos?per_page=100&page=1>; rel="prev", <https://api.github.com/user/repos?per_page=100&page=3>; rel="next", <https://api.github.com/user/repos?per_page=100&page=5>; rel="last""#;
        assert_eq!(
            next_link(header).as_deref(),
            Some("https://api.github.com/user/repos?per_page=100&page=3")
        );
        assert_eq!(
            next_link(r#"<https://api.github.com/x?page=1>; rel="first""#),
            None
        );
        assert_eq!(next_link(""), None);
        let with_commas = r#"<https://api.github.com/user/repos?affiliation=owner,collaborator&page=2>; rel="next", <https://api.github.com/user/repos?affiliation=owner,collaborator&page=9>; rel="last""#;
        assert_eq!(
            next_link(with_commas).as_deref(),
            Some("https://api.github.com/user/repos?affiliation=owner,collaborator&page=2")
        );
    }
}
