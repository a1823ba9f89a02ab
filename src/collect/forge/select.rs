//! Which listed repositories a gickup source entry selects, with gickup's rules and order:
//! filters first (`excludearchived`, `excludeforks`, `languages`, `stars`, `lastactivity`),
//! then `include` (always wins), `exclude`, `excludeorgs`, and `includeorgs` (when there is
//! no `include`, only repositories of those owners are kept).

use std::collections::HashSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Result};

use super::super::config::ForgeSource;
use super::repos::RepoSummary;

pub fn select_repos(
    repos: &[RepoSummary],
    source: &ForgeSource,
    now: SystemTime,
) -> Result<Vec<RepoSummary>> {
    let filter = &source.filter;
    let max_age = filter
        .last_activity
        .as_deref()
        .map(parse_last_activity)
        .transpose()?;
    let languages: HashSet<String> = filter.languages.iter().map(|l| l.to_lowercase()).collect();
    let include: HashSet<&str> = source.include.iter().map(String::as_str).collect();
    let exclude: HashSet<&str> = source.exclude.iter().map(String::as_str).collect();
    let include_orgs: HashSet<&str> = source.include_orgs.iter().map(String::as_str).collect();
    let exclude_orgs: HashSet<&str> = source.exclude_orgs.iter().map(String::as_str).collect();

    let passes_filter = |repo: &RepoSummary| {
        if (filter.exclude_archived && repo.archived) || (filter.exclude_forks && repo.fork) {
            return false;
        }
        // gickup keeps repositories without a detected language.
        if !languages.is_empty()
            && repo
                .language
                .as_ref()
                .is_some_and(|l| !languages.contains(&l.to_lowercase()))
        {
            return false;
        }
        if filter.stars.is_some_and(|min| repo.stargazers_count < min) {
            return false;
        }
        match (
            max_age,
            repo.pushed_at.as_deref().and_then(parse_rfc3339_utc),
        ) {
            (Some(age), Some(pushed)) => now
                .duration_since(pushed)
                .map_or(true, |since| since <= age),
            _ => true,
        }
    };
    let selected = repos
        .iter()
        .filter(|repo| passes_filter(repo))
        .filter(|repo| {
            let name = repo.name.as_str();
            let owner = repo.owner.login.as_str();
            if include.contains(name) {
                return true;
            }
            if exclude.contains(name) || exclude_orgs.contains(owner) {
                return false;
            }
            include.is_empty() && (include_orgs.is_empty() || include_orgs.contains(owner))
        })
        .cloned()
        .collect();
    Ok(selected)
}

/// gickup's `lastactivity`: years `y`, months `M`, days `d`, then hours `h`, minutes `m`,
/// seconds `s`, e.g. `1y6M`, `30d`, `12h`. Calendar units are approximated (365 and 30 days).
pub fn parse_last_activity(text: &str) -> Result<Duration> {
    let mut total = Duration::ZERO;
    let mut number = String::new();
    for c in text.trim().chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit_secs = match c {
            'y' => 365 * 86_400,
            'M' => 30 * 86_400,
            'w' => 7 * 86_400,
            'd' => 86_400,
            'h' => 3_600,
            'm' => 60,
            's' => 1,
            _ => bail!("filter.lastactivity: `{text}` is not a duration like 1y, 6M, 30d or 12h"),
        };
        let Ok(count) = number.parse::<u64>() else {
            bail!("filter.lastactivity: `{text}` is not a duration like 1y, 6M, 30d or 12h");
        };
        total += Duration::from_secs(count * unit_secs);
        number.clear();
    }
    if !number.is_empty() || total.is_zero() {
        bail!("filter.lastactivity: `{text}` is not a duration like 1y, 6M, 30d or 12h");
    }
    Ok(total)
}

/// GitHub timestamps are always `YYYY-MM-DDTHH:MM:SSZ`.
fn parse_rfc3339_utc(text: &str) -> Option<SystemTime> {
    let b = text.as_bytes();
    if b.len() != 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b[19] != b'Z'
    {
        return None;
    }
    let num = |range: std::ops::Range<usize>| text.get(range)?.parse::<i64>().ok();
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let seconds = num(11..13)? * 3600 + num(14..16)? * 60 + num(17..19)?;
    // Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let epoch = days * 86_400 + seconds;
    u64::try_from(epoch)
        .ok()
        .map(|secs| UNIX_EPOCH + Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_gickup_syntax() {
        assert_eq!(
            parse_last_activity("1y").unwrap(),
            Duration::from_secs(365 * 86_400)
        );
        assert_eq!(
            parse_last_activity("1M2d").unwrap(),
            Duration::from_secs(32 * 86_400)
        );
        assert_eq!(
            parse_last_activity("12h30m").unwrap(),
            Duration::from_secs(12 * 3600 + 1800)
        );
        for bad in ["", "y", "10", "1x", "abc"] {
            assert!(parse_last_activity(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn github_timestamps() {
        let at = |s| {
            parse_rfc3339_utc(s)
                .unwrap()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_secs()
        };
        assert_eq!(at("1970-01-01T00:00:00Z"), 0);
        assert_eq!(at("2000-03-01T00:00:00Z"), 951_868_800);
        assert_eq!(at("2024-02-29T12:34:56Z"), 1_709_210_096);
        assert!(parse_rfc3339_utc("2024-02-29").is_none());
    }
}
