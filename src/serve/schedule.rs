//! When `serve` starts a run: a cron expression (croner, the only user of it) or `@every DURATION`,
//! in the process's local time zone, optionally restricted to backup windows (riotkit's idea: a
//! run may *start* only inside one of them; a tick outside every window is skipped, as cron skips
//! a time the machine was off).

use std::fmt;
use std::time::Duration;

use anyhow::{anyhow, bail, Result};
use chrono::{DateTime, Local, NaiveTime, TimeDelta, TimeZone};
use croner::parser::{CronParser, Seconds, Year};
use croner::Cron;

/// How often: cron fields, or a fixed period from the moment serve started.
#[derive(Debug, Clone)]
pub enum Recurrence {
    Cron {
        expression: String,
        cron: Box<Cron>,
    },
    /// Go cron's `@every`: ticks at start + k × period.
    Every {
        period: Duration,
        origin: DateTime<Local>,
    },
}

/// Whether a 6-field expression (seconds first) is allowed: `--schedule` takes it, gickup's `cron`
/// key is standard cron (5 fields) only, as gickup documents it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fields {
    FiveOnly,
    FiveOrSix,
}

impl Recurrence {
    /// Parses `expression`; `origin` anchors `@every` (serve's start).
    pub fn parse(expression: &str, fields: Fields, origin: DateTime<Local>) -> Result<Recurrence> {
        let text = expression.trim();
        if let Some(period) = text.strip_prefix("@every") {
            let period = humantime::parse_duration(period.trim()).map_err(|_| {
                anyhow!("schedule {text:?}: `@every` takes a duration such as 30m, 6h or 1h30m")
            })?;
            if period < Duration::from_secs(1) {
                bail!("schedule {text:?}: `@every` needs at least 1s");
            }
            return Ok(Recurrence::Every { period, origin });
        }
        let seconds = match fields {
            Fields::FiveOnly => Seconds::Disallowed,
            Fields::FiveOrSix => Seconds::Optional,
        };
        let parser = CronParser::builder()
            .seconds(seconds)
            .year(Year::Disallowed)
            .build();
        let cron = parser.parse(text).map_err(|e| {
            let shape = match fields {
                Fields::FiveOnly => "5 fields: minute hour day-of-month month day-of-week, e.g. \"0 2 * * *\"",
                Fields::FiveOrSix => "5 fields (minute hour day-of-month month day-of-week), 6 with seconds first, @daily-style names, or @every 6h",
            };
            anyhow!("schedule {text:?} is not a cron expression ({e}); give {shape}")
        })?;
        Ok(Recurrence::Cron {
            expression: text.to_string(),
            cron: Box::new(cron),
        })
    }

    /// The first tick strictly after `after`.
    fn next_after(&self, after: DateTime<Local>) -> Option<DateTime<Local>> {
        match self {
            Recurrence::Cron { cron, .. } => cron.find_next_occurrence(&after, false).ok(),
            Recurrence::Every { period, origin } => {
                let period = TimeDelta::from_std(*period).ok()?;
                if after < *origin {
                    return Some(*origin + period);
                }
                let elapsed = (after - *origin).num_milliseconds();
                let step = period.num_milliseconds().max(1);
                let ticks = elapsed / step + 1;
                Some(*origin + TimeDelta::milliseconds(ticks * step))
            }
        }
    }

    /// The first tick at or after `at`.
    fn next_from(&self, at: DateTime<Local>) -> Option<DateTime<Local>> {
        self.next_after(at - TimeDelta::milliseconds(1))
    }
}

impl fmt::Display for Recurrence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Recurrence::Cron { expression, .. } => f.write_str(expression),
            Recurrence::Every { period, .. } => {
                write!(f, "@every {}", humantime::format_duration(*period))
            }
        }
    }
}

/// `HH:MM-HH:MM` in local time; the end is exclusive, and a window may cross midnight
/// (`22:00-04:00`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    start: NaiveTime,
    end: NaiveTime,
}

impl std::str::FromStr for Window {
    type Err = String;

    fn from_str(text: &str) -> Result<Window, String> {
        let bad = || {
            format!("window {text:?}: give HH:MM-HH:MM in local time, e.g. 01:00-05:00 (22:00-04:00 crosses midnight)")
        };
        let (start, end) = text.trim().split_once('-').ok_or_else(bad)?;
        let parse = |t: &str| NaiveTime::parse_from_str(t.trim(), "%H:%M").map_err(|_| bad());
        let window = Window {
            start: parse(start)?,
            end: parse(end)?,
        };
        if window.start == window.end {
            return Err(format!("window {text:?} is empty: its start and end are the same; leave --window out to allow any time"));
        }
        Ok(window)
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}-{}",
            self.start.format("%H:%M"),
            self.end.format("%H:%M")
        )
    }
}

impl Window {
    fn contains(&self, time: NaiveTime) -> bool {
        if self.start < self.end {
            self.start <= time && time < self.end
        } else {
            time >= self.start || time < self.end
        }
    }

    /// The next moment at or after `at` when this window opens or is open.
    fn next_open_from(&self, at: DateTime<Local>) -> DateTime<Local> {
        if self.contains(at.time()) {
            return at;
        }
        let mut day = at.date_naive();
        loop {
            // A start time skipped by a DST jump resolves to the earliest valid local time after it.
            if let Some(open) = resolve_local(day.and_time(self.start)) {
                if open >= at {
                    return open;
                }
            }
            day = day.succ_opt().expect("dates far from the end of time");
        }
    }
}

fn resolve_local(naive: chrono::NaiveDateTime) -> Option<DateTime<Local>> {
    match Local.from_local_datetime(&naive) {
        chrono::LocalResult::Single(t) => Some(t),
        chrono::LocalResult::Ambiguous(earliest, _) => Some(earliest),
        chrono::LocalResult::None => Local
            .from_local_datetime(&(naive + TimeDelta::hours(1)))
            .earliest(),
    }
}

/// A recurrence and the windows a run may start in (none: any time).
#[derive(Debug, Clone)]
pub struct Timetable {
    pub recurrence: Recurrence,
    pub windows: Vec<Window>,
}

impl Timetable {
    pub fn new(recurrence: Recurrence, windows: Vec<Window>) -> Result<Timetable> {
        let timetable = Timetable {
            recurrence,
            windows,
        };
        if timetable.next_after(Local::now()).is_none() {
            bail!("schedule {} never starts a run inside the windows {}: widen a window or change the schedule", timetable.recurrence, timetable.describe_windows());
        }
        Ok(timetable)
    }

    /// The next start strictly after `after`: the first tick that falls inside a window.
    pub fn next_after(&self, after: DateTime<Local>) -> Option<DateTime<Local>> {
        let mut tick = self.recurrence.next_after(after)?;
        // Each pass moves to a later window opening, so a year of passes covers every case where a
        // tick can land in a window at all (a tick set that never does ends the search).
        for _ in 0..(366 * 2 * self.windows.len().max(1)) {
            if self.allows(tick) {
                return Some(tick);
            }
            let opening = self.windows.iter().map(|w| w.next_open_from(tick)).min()?;
            tick = self.recurrence.next_from(opening)?;
        }
        None
    }

    /// Whether a run may start at `time` (inside a window, or there are none).
    pub fn allows(&self, time: DateTime<Local>) -> bool {
        self.windows.is_empty() || self.windows.iter().any(|w| w.contains(time.time()))
    }

    pub fn describe_windows(&self) -> String {
        self.windows
            .iter()
            .map(Window::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(text: &str) -> DateTime<Local> {
        let naive = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").unwrap();
        Local.from_local_datetime(&naive).single().unwrap()
    }

    fn every(text: &str) -> Recurrence {
        Recurrence::parse(text, Fields::FiveOrSix, local("2026-12-03 10:00:00")).unwrap()
    }

    #[test]
    fn five_fields_are_minutes_and_six_put_seconds_first() {
        let five = Recurrence::parse("30 2 * * *", Fields::FiveOnly, Local::now()).unwrap();
        assert_eq!(
            five.next_after(local("2026-12-03 10:00:00")),
            Some(local("2026-12-04 02:30:00"))
        );
        let six = Recurrence::parse("*/5 * * * * *", Fields::FiveOrSix, Local::now()).unwrap();
        assert_eq!(
            six.next_after(local("2026-12-03 10:00:02")),
            Some(local("2026-12-03 10:00:05"))
        );
        let daily = Recurrence::parse("@daily", Fields::FiveOnly, Local::now()).unwrap();
        assert_eq!(
            daily.next_after(local("2026-12-03 10:00:00")),
            Some(local("2026-12-04 00:00:00"))
        );
    }

    #[test]
    fn gickups_key_refuses_seconds_and_bad_expressions_say_what_to_give() {
        let err = Recurrence::parse("*/5 * * * * *", Fields::FiveOnly, Local::now())
            .unwrap_err()
            .to_string();
        assert!(err.contains("5 fields: minute hour"), "{err}");
        let err = Recurrence::parse("every day", Fields::FiveOrSix, Local::now())
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("schedule \"every day\" is not a cron expression"),
            "{err}"
        );
        let err = Recurrence::parse("@every soon", Fields::FiveOrSix, Local::now())
            .unwrap_err()
            .to_string();
        assert!(err.contains("takes a duration"), "{err}");
        assert!(Recurrence::parse("61 * * * *", Fields::FiveOnly, Local::now()).is_err());
    }

    #[test]
    fn every_ticks_from_the_start_and_skips_ticks_already_missed() {
        let r = every("@every 90s");
        assert_eq!(
            r.next_after(local("2026-12-03 10:00:00")),
            Some(local("2026-12-03 10:01:30"))
        );
        // A run that overran two ticks resumes on the grid, not right away.
        assert_eq!(
            r.next_after(local("2026-12-03 10:04:00")),
            Some(local("2026-12-03 10:04:30"))
        );
        assert_eq!(r.to_string(), "@every 1m 30s");
    }

    #[test]
    fn windows_parse_contain_and_cross_midnight() {
        let night: Window = "22:00-04:00".parse().unwrap();
        assert!(night.contains(NaiveTime::from_hms_opt(23, 0, 0).unwrap()));
        assert!(night.contains(NaiveTime::from_hms_opt(3, 59, 0).unwrap()));
        assert!(!night.contains(NaiveTime::from_hms_opt(4, 0, 0).unwrap()));
        assert!(!night.contains(NaiveTime::from_hms_opt(12, 0, 0).unwrap()));
        assert!("01:00"
            .parse::<Window>()
            .unwrap_err()
            .contains("HH:MM-HH:MM"));
        assert!("03:00-03:00"
            .parse::<Window>()
            .unwrap_err()
            .contains("empty"));
        assert_eq!(night.to_string(), "22:00-04:00");
    }

    #[test]
    fn a_tick_outside_every_window_is_skipped_to_the_first_tick_inside_one() {
        let hourly = Recurrence::parse("15 * * * *", Fields::FiveOnly, Local::now()).unwrap();
        let table = Timetable {
            recurrence: hourly,
            windows: vec![
                "01:00-03:00".parse().unwrap(),
                "22:00-23:00".parse().unwrap(),
            ],
        };
        assert_eq!(
            table.next_after(local("2026-12-03 10:00:00")),
            Some(local("2026-12-03 22:15:00"))
        );
        assert_eq!(
            table.next_after(local("2026-12-03 22:15:00")),
            Some(local("2026-12-04 01:15:00"))
        );
        assert_eq!(
            table.next_after(local("2026-12-04 02:15:00")),
            Some(local("2026-12-04 22:15:00"))
        );

        let every = Timetable {
            recurrence: every("@every 7m"),
            windows: vec!["11:00-11:30".parse().unwrap()],
        };
        // Ticks at 10:00 + k·7m: the first at or after 11:00 is 11:03.
        assert_eq!(
            every.next_after(local("2026-12-03 10:00:00")),
            Some(local("2026-12-03 11:03:00"))
        );
    }

    #[test]
    fn a_schedule_that_never_meets_a_window_is_refused() {
        let at_noon = Recurrence::parse("0 12 * * *", Fields::FiveOnly, Local::now()).unwrap();
        let err = Timetable::new(at_noon, vec!["01:00-02:00".parse().unwrap()])
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("never starts a run inside the windows 01:00-02:00"),
            "{err}"
        );
    }
}
