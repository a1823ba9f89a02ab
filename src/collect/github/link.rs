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
            .any(|(key, value)| key.trim() == "rel" && value.trim().trim_matches('"').split(' ').any(|rel| rel == "next"));
        if is_next {
            return Some(url.to_string());
        }
        rest = &rest[params_end..];
    }
    None
}

/// Only follow links to the API host we were configured with: the token goes with every
/// request, so a link elsewhere must not receive it.
pub fn same_origin(base: &str, url: &str) -> bool {
    fn origin(url: &str) -> Option<&str> {
        let after_scheme = url.find("://")? + 3;
        let end = url[after_scheme..].find('/').map_or(url.len(), |i| after_scheme + i);
        Some(&url[..end])
    }
    matches!((origin(base), origin(url)), (Some(a), Some(b)) if a.eq_ignore_ascii_case(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_next_among_other_relations() {
        let header = r#"<https://api.github.com/user/repos?per_page=100&page=1>; rel="prev", <https://api.github.com/user/repos?per_page=100&page=3>; rel="next", <https://api.github.com/user/repos?per_page=100&page=5>; rel="last""#;
        assert_eq!(next_link(header).as_deref(), Some("https://api.github.com/user/repos?per_page=100&page=3"));
        assert_eq!(next_link(r#"<https://api.github.com/x?page=1>; rel="first""#), None);
        assert_eq!(next_link(""), None);
        let with_commas = r#"<https://api.github.com/user/repos?affiliation=owner,collaborator&page=2>; rel="next", <https://api.github.com/user/repos?affiliation=owner,collaborator&page=9>; rel="last""#;
        assert_eq!(next_link(with_commas).as_deref(), Some("https://api.github.com/user/repos?affiliation=owner,collaborator&page=2"));
    }

    #[test]
    fn origin_check_compares_scheme_host_and_port() {
        assert!(same_origin("https://api.github.com", "https://api.github.com/user/repos?page=2"));
        assert!(same_origin("http://127.0.0.1:8080/api/v3", "http://127.0.0.1:8080/user/repos"));
        assert!(!same_origin("https://api.github.com", "https://evil.example/user/repos"));
        assert!(!same_origin("https://api.github.com", "http://api.github.com/user/repos"));
        assert!(!same_origin("http://127.0.0.1:8080", "http://127.0.0.1:9090/x"));
    }
}
