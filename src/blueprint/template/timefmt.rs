//! Go reference-time layouts ("Mon Jan 2 15:04:05 MST 2006") for sprig's
//! `date` (formatting) and `toDate` (parsing), following time/format.go's
//! chunk rules (`nextStdChunk`).
//!
//! Zones: like a Kanister pod we assume the local zone is UTC, so a zero
//! offset is named "UTC" and any other offset has no name (Go then prints the
//! numeric offset for `MST`).

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, TimeZone, Timelike};

pub const RFC3339_NANO: &str = "2006-01-02T15:04:05.999999999Z07:00";
const GO_TIME_STRING: &str = "2006-01-02 15:04:05.999999999 -0700 MST";

const LONG_MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const LONG_DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

#[derive(Debug, Clone, PartialEq)]
enum Chunk {
    Literal(String),
    LongMonth,
    Month,
    NumMonth,
    ZeroMonth,
    LongWeekDay,
    WeekDay,
    Day,
    UnderDay,
    ZeroDay,
    ZeroYearDay,
    UnderYearDay,
    Hour,
    Hour12,
    ZeroHour12,
    Minute,
    ZeroMinute,
    Second,
    ZeroSecond,
    LongYear,
    Year,
    PM {
        upper: bool,
    },
    TzName,
    /// Numeric offset: `z` = prints "Z" for UTC, `colon`, with seconds, hours only.
    Offset {
        z: bool,
        colon: bool,
        seconds: bool,
        hours_only: bool,
    },
    /// `.000` (fixed digits) or `.999` (trailing zeros trimmed); `sep` is '.' or ','.
    Frac {
        digits: usize,
        trim: bool,
        sep: char,
    },
}

/// Split a Go layout into chunks (time/format.go `nextStdChunk`).
fn chunks(layout: &str) -> Vec<Chunk> {
    let b = layout.as_bytes();
    let mut out = Vec::new();
    let mut lit = String::new();
    let mut i = 0;
    let starts = |i: usize, s: &str| layout[i..].starts_with(s);
    while i < b.len() {
        let (chunk, len): (Option<Chunk>, usize) = match b[i] {
            b'J' if starts(i, "January") => (Some(Chunk::LongMonth), 7),
            b'J' if starts(i, "Jan") => (Some(Chunk::Month), 3),
            b'M' if starts(i, "Monday") => (Some(Chunk::LongWeekDay), 6),
            b'M' if starts(i, "Mon") => (Some(Chunk::WeekDay), 3),
            b'M' if starts(i, "MST") => (Some(Chunk::TzName), 3),
            b'0' if starts(i, "002") => (Some(Chunk::ZeroYearDay), 3),
            b'0' if i + 1 < b.len() && (b'1'..=b'6').contains(&b[i + 1]) => {
                let c = [
                    Chunk::ZeroMonth,
                    Chunk::ZeroDay,
                    Chunk::ZeroHour12,
                    Chunk::ZeroMinute,
                    Chunk::ZeroSecond,
                    Chunk::Year,
                ][(b[i + 1] - b'1') as usize]
                    .clone();
                (Some(c), 2)
            }
            b'1' if starts(i, "15") => (Some(Chunk::Hour), 2),
            b'1' => (Some(Chunk::NumMonth), 1),
            b'2' if starts(i, "2006") => (Some(Chunk::LongYear), 4),
            b'2' => (Some(Chunk::Day), 1),
            b'_' if starts(i, "_2006") => (None, 1), // "_" is literal, then LongYear
            b'_' if starts(i, "__2") => (Some(Chunk::UnderYearDay), 3),
            b'_' if starts(i, "_2") => (Some(Chunk::UnderDay), 2),
            b'3' => (Some(Chunk::Hour12), 1),
            b'4' => (Some(Chunk::Minute), 1),
            b'5' => (Some(Chunk::Second), 1),
            b'P' if starts(i, "PM") => (Some(Chunk::PM { upper: true }), 2),
            b'p' if starts(i, "pm") => (Some(Chunk::PM { upper: false }), 2),
            b'-' | b'Z' => {
                let z = b[i] == b'Z';
                let rest = &layout[i + 1..];
                let forms = [
                    ("070000", false, true, false),
                    ("07:00:00", true, true, false),
                    ("0700", false, false, false),
                    ("07:00", true, false, false),
                    ("07", false, false, true),
                ];
                match forms.iter().find(|f| rest.starts_with(f.0)) {
                    Some(&(s, colon, seconds, hours_only)) => (
                        Some(Chunk::Offset {
                            z,
                            colon,
                            seconds,
                            hours_only,
                        }),
                        s.len() + 1,
                    ),
                    None => (None, 1),
                }
            }
            c @ (b'.' | b',') if i + 1 < b.len() && (b[i + 1] == b'0' || b[i + 1] == b'9') => {
                let digit = b[i + 1];
                let mut j = i + 1;
                while j < b.len() && b[j] == digit {
                    j += 1;
                }
                if j < b.len() && b[j].is_ascii_digit() {
                    (None, 1)
                } else {
                    (
                        Some(Chunk::Frac {
                            digits: j - i - 1,
                            trim: digit == b'9',
                            sep: c as char,
                        }),
                        j - i,
                    )
                }
            }
            _ => (None, layout[i..].chars().next().map_or(1, |c| c.len_utf8())),
        };
        match chunk {
            Some(c) => {
                if !lit.is_empty() {
                    out.push(Chunk::Literal(std::mem::take(&mut lit)));
                }
                out.push(c);
            }
            None => lit.push_str(&layout[i..i + len]),
        }
        i += len;
    }
    if !lit.is_empty() {
        out.push(Chunk::Literal(lit));
    }
    out
}

fn zone_name(t: &DateTime<FixedOffset>) -> Option<&'static str> {
    (t.offset().local_minus_utc() == 0).then_some("UTC")
}

fn format_offset(
    out: &mut String,
    secs: i32,
    z: bool,
    colon: bool,
    seconds: bool,
    hours_only: bool,
) {
    if z && secs == 0 {
        out.push('Z');
        return;
    }
    out.push(if secs < 0 { '-' } else { '+' });
    let a = secs.abs();
    out.push_str(&format!("{:02}", a / 3600));
    if hours_only {
        return;
    }
    if colon {
        out.push(':');
    }
    out.push_str(&format!("{:02}", (a / 60) % 60));
    if seconds {
        if colon {
            out.push(':');
        }
        out.push_str(&format!("{:02}", a % 60));
    }
}

/// Go `Time.Format(layout)`.
pub fn format(t: &DateTime<FixedOffset>, layout: &str) -> String {
    let mut out = String::new();
    let hour12 = |h: u32| if h % 12 == 0 { 12 } else { h % 12 };
    for chunk in chunks(layout) {
        match chunk {
            Chunk::Literal(s) => out.push_str(&s),
            Chunk::LongMonth => out.push_str(LONG_MONTHS[t.month0() as usize]),
            Chunk::Month => out.push_str(&LONG_MONTHS[t.month0() as usize][..3]),
            Chunk::NumMonth => out.push_str(&t.month().to_string()),
            Chunk::ZeroMonth => out.push_str(&format!("{:02}", t.month())),
            Chunk::LongWeekDay => {
                out.push_str(LONG_DAYS[t.weekday().num_days_from_sunday() as usize])
            }
            Chunk::WeekDay => {
                out.push_str(&LONG_DAYS[t.weekday().num_days_from_sunday() as usize][..3])
            }
            Chunk::Day => out.push_str(&t.day().to_string()),
            Chunk::UnderDay => out.push_str(&format!("{:>2}", t.day())),
            Chunk::ZeroDay => out.push_str(&format!("{:02}", t.day())),
            Chunk::ZeroYearDay => out.push_str(&format!("{:03}", t.ordinal())),
            Chunk::UnderYearDay => out.push_str(&format!("{:>3}", t.ordinal())),
            Chunk::Hour => out.push_str(&format!("{:02}", t.hour())),
            Chunk::Hour12 => out.push_str(&hour12(t.hour()).to_string()),
            Chunk::ZeroHour12 => out.push_str(&format!("{:02}", hour12(t.hour()))),
            Chunk::Minute => out.push_str(&t.minute().to_string()),
            Chunk::ZeroMinute => out.push_str(&format!("{:02}", t.minute())),
            Chunk::Second => out.push_str(&t.second().to_string()),
            Chunk::ZeroSecond => out.push_str(&format!("{:02}", t.second())),
            Chunk::LongYear => out.push_str(&format!("{:04}", t.year())),
            Chunk::Year => out.push_str(&format!("{:02}", t.year().rem_euclid(100))),
            Chunk::PM { upper } => {
                let pm = if t.hour() >= 12 { "PM" } else { "AM" };
                out.push_str(&if upper {
                    pm.to_string()
                } else {
                    pm.to_lowercase()
                });
            }
            Chunk::TzName => match zone_name(t) {
                Some(name) => out.push_str(name),
                None => format_offset(
                    &mut out,
                    t.offset().local_minus_utc(),
                    false,
                    false,
                    false,
                    false,
                ),
            },
            Chunk::Offset {
                z,
                colon,
                seconds,
                hours_only,
            } => format_offset(
                &mut out,
                t.offset().local_minus_utc(),
                z,
                colon,
                seconds,
                hours_only,
            ),
            Chunk::Frac { digits, trim, sep } => {
                let nanos = format!("{:09}", t.nanosecond().min(999_999_999));
                let mut frac = nanos[..digits.min(9)].to_string();
                if trim {
                    while frac.ends_with('0') {
                        frac.pop();
                    }
                }
                if !frac.is_empty() {
                    out.push(sep);
                    out.push_str(&frac);
                }
            }
        }
    }
    out
}

/// Go's `Time.String()` (without the monotonic clock suffix).
pub fn go_time_string(t: &DateTime<FixedOffset>) -> String {
    format(t, GO_TIME_STRING)
}

/// Go's zero `time.Time{}`, which sprig's `toDate` returns on a parse error.
pub fn zero_time() -> DateTime<FixedOffset> {
    FixedOffset::east_opt(0).unwrap().from_utc_datetime(
        &NaiveDate::from_ymd_opt(1, 1, 1)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap(),
    )
}

/// Reads up to `max` digits (at least `min`).
fn take_digits(s: &str, min: usize, max: usize) -> Option<(i64, &str)> {
    let n = s
        .bytes()
        .take(max)
        .take_while(|b| b.is_ascii_digit())
        .count();
    if n < min {
        return None;
    }
    Some((s[..n].parse().ok()?, &s[n..]))
}

fn take_name<'a>(s: &'a str, names: &[&str], len: Option<usize>) -> Option<(usize, &'a str)> {
    names.iter().enumerate().find_map(|(i, name)| {
        let name = len.map_or(*name, |l| &name[..l]);
        let head = s.get(..name.len())?;
        head.eq_ignore_ascii_case(name)
            .then(|| (i, &s[name.len()..]))
    })
}

/// Go `time.ParseInLocation(layout, value, UTC)`; `None` on any mismatch.
pub fn parse(layout: &str, value: &str) -> Option<DateTime<FixedOffset>> {
    let (mut year, mut month, mut day, mut hour, mut min, mut sec, mut nanos) =
        (1i64, 1i64, 1i64, 0i64, 0i64, 0i64, 0i64);
    let mut pm: Option<bool> = None;
    let mut offset = 0i64;
    let mut s = value;
    let parsed = chunks(layout);
    for (idx, chunk) in parsed.iter().enumerate() {
        match chunk {
            Chunk::Literal(l) => s = s.strip_prefix(l.as_str())?,
            Chunk::LongMonth => {
                let (m, r) = take_name(s, &LONG_MONTHS, None)?;
                month = m as i64 + 1;
                s = r;
            }
            Chunk::Month => {
                let (m, r) = take_name(s, &LONG_MONTHS, Some(3))?;
                month = m as i64 + 1;
                s = r;
            }
            Chunk::LongWeekDay => {
                s = take_name(s, &LONG_DAYS, None)?.1;
            }
            Chunk::WeekDay => {
                s = take_name(s, &LONG_DAYS, Some(3))?.1;
            }
            Chunk::NumMonth => {
                (month, s) = take_digits(s, 1, 2)?;
            }
            Chunk::ZeroMonth => {
                (month, s) = take_digits(s, 2, 2)?;
            }
            Chunk::Day | Chunk::UnderDay => {
                (day, s) = take_digits(s.trim_start_matches(' '), 1, 2)?;
            }
            Chunk::ZeroDay => {
                (day, s) = take_digits(s, 2, 2)?;
            }
            Chunk::ZeroYearDay | Chunk::UnderYearDay => return None, // rarely used; unsupported
            Chunk::Hour => {
                (hour, s) = take_digits(s, 2, 2)?;
            }
            Chunk::Hour12 => {
                (hour, s) = take_digits(s, 1, 2)?;
            }
            Chunk::ZeroHour12 => {
                (hour, s) = take_digits(s, 2, 2)?;
            }
            Chunk::Minute => {
                (min, s) = take_digits(s, 1, 2)?;
            }
            Chunk::ZeroMinute => {
                (min, s) = take_digits(s, 2, 2)?;
            }
            Chunk::Second | Chunk::ZeroSecond => {
                (sec, s) = take_digits(s, if *chunk == Chunk::Second { 1 } else { 2 }, 2)?;
                // Go accepts a fractional second after seconds even when the
                // layout has none, unless the layout itself continues with one.
                let layout_has_frac = matches!(parsed.get(idx + 1), Some(Chunk::Frac { .. }));
                if !layout_has_frac
                    && (s.starts_with('.') || s.starts_with(','))
                    && s[1..].starts_with(|c: char| c.is_ascii_digit())
                {
                    let n = s[1..].bytes().take_while(|b| b.is_ascii_digit()).count();
                    nanos = frac_to_nanos(&s[1..1 + n]);
                    s = &s[1 + n..];
                }
            }
            Chunk::LongYear => {
                (year, s) = take_digits(s, 4, 4)?;
            }
            Chunk::Year => {
                let (y, r) = take_digits(s, 2, 2)?;
                year = if y >= 69 { 1900 + y } else { 2000 + y };
                s = r;
            }
            Chunk::PM { .. } => {
                let head = s.get(..2)?;
                pm = Some(match head.to_ascii_uppercase().as_str() {
                    "PM" => true,
                    "AM" => false,
                    _ => return None,
                });
                s = &s[2..];
            }
            Chunk::TzName => {
                // Go fabricates a zone for an unknown abbreviation; we take it as UTC.
                let n = s.bytes().take_while(|b| b.is_ascii_uppercase()).count();
                if n < 3 {
                    return None;
                }
                s = &s[n..];
            }
            Chunk::Offset {
                z,
                colon,
                seconds,
                hours_only,
            } => {
                if *z && s.starts_with('Z') {
                    s = &s[1..];
                    continue;
                }
                let sign = match s.as_bytes().first()? {
                    b'+' => 1,
                    b'-' => -1,
                    _ => return None,
                };
                s = &s[1..];
                let (h, r) = take_digits(s, 2, 2)?;
                s = r;
                let mut total = h * 3600;
                if !hours_only {
                    if *colon {
                        s = s.strip_prefix(':')?;
                    }
                    let (m, r) = take_digits(s, 2, 2)?;
                    s = r;
                    total += m * 60;
                    if *seconds {
                        if *colon {
                            s = s.strip_prefix(':')?;
                        }
                        let (sc, r) = take_digits(s, 2, 2)?;
                        s = r;
                        total += sc;
                    }
                }
                offset = sign * total;
            }
            Chunk::Frac { digits, trim, sep } => {
                if *trim {
                    // `.999` is optional and takes any number of digits.
                    if s.starts_with(*sep) || (s.starts_with('.') || s.starts_with(',')) {
                        let n = s[1..].bytes().take_while(|b| b.is_ascii_digit()).count();
                        nanos = frac_to_nanos(&s[1..1 + n]);
                        s = &s[1 + n..];
                    }
                } else {
                    s = s.strip_prefix(*sep)?;
                    let n = s
                        .bytes()
                        .take(*digits)
                        .take_while(|b| b.is_ascii_digit())
                        .count();
                    if n != *digits {
                        return None;
                    }
                    nanos = frac_to_nanos(&s[..n]);
                    s = &s[n..];
                }
            }
        }
    }
    if !s.is_empty() {
        return None;
    }
    if let Some(pm) = pm {
        if hour > 12 {
            return None;
        }
        hour = match (pm, hour) {
            (true, h) if h < 12 => h + 12,
            (false, 12) => 0,
            (_, h) => h,
        };
    }
    let date = NaiveDate::from_ymd_opt(year as i32, month as u32, day as u32)?;
    let naive = date.and_hms_nano_opt(hour as u32, min as u32, sec as u32, nanos as u32)?;
    let tz = FixedOffset::east_opt(offset as i32)?;
    tz.from_local_datetime(&naive).single()
}

fn frac_to_nanos(digits: &str) -> i64 {
    let mut d: String = digits.chars().take(9).collect();
    while d.len() < 9 {
        d.push('0');
    }
    d.parse().unwrap_or(0)
}
