//! `fmt.Sprintf` for `printf`: the verbs `%s %d %v %q %%` with flags `-`,
//! `0` and `+` (for `%d`), width and (for strings) precision. Other verbs
//! print Go's bad-verb form; flags ` ` and `#` are ignored.

use super::gofmt::{go_quote, sprint};
use super::timefmt;
use super::value::{visible_entries, GoValue};
use serde_json::Value;

/// `strconv.QuoteRune`, used by `%q` on integers.
fn go_quote_rune(i: i128) -> String {
    match u32::try_from(i).ok().and_then(char::from_u32) {
        Some('\'') => "'\\''".into(),
        Some('"') => "'\"'".into(),
        Some(c) => {
            let q = go_quote(&c.to_string());
            format!("'{}'", &q[1..q.len() - 1])
        }
        None => "'\u{FFFD}'".into(),
    }
}

/// `fmt.Sprintf` for the verbs blueprints use: `%s %d %v %q %%`, with flags
/// `-`/`0`, width and (for strings) precision. Bad verbs, missing and extra
/// arguments are reported inline exactly as Go does (`%!d(string=x)`,
/// `%!s(MISSING)`, `%!(EXTRA string=x)`).
pub fn sprintf(format: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let mut next_arg = 0;
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut left = false;
        let mut zero = false;
        let mut plus = false;
        while let Some(&f) = chars.peek() {
            match f {
                '-' => left = true,
                '0' => zero = true,
                '+' => plus = true,
                ' ' | '#' => {} // not supported: ignored
                _ => break,
            }
            chars.next();
        }
        let mut width = String::new();
        while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
            width.push(d);
            chars.next();
        }
        let mut precision: Option<usize> = None;
        if chars.peek() == Some(&'.') {
            chars.next();
            let mut p = String::new();
            while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                p.push(d);
                chars.next();
            }
            precision = Some(p.parse().unwrap_or(0));
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = args.get(next_arg) else {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        };
        next_arg += 1;
        let mut text = format_verb(verb, arg);
        if plus && verb == 'd' && matches!(GoValue::classify(arg), GoValue::Int(i) if i >= 0) {
            text.insert(0, '+');
        }
        if let (Some(p), 's' | 'q' | 'v') = (precision, verb) {
            if matches!(GoValue::classify(arg), GoValue::String(_)) && verb == 's' {
                text = text.chars().take(p).collect();
            }
        }
        let width: usize = width.parse().unwrap_or(0);
        let len = text.chars().count();
        if len < width {
            let pad = width - len;
            if left {
                text.push_str(&" ".repeat(pad));
            } else if zero && verb == 'd' && !text.starts_with('%') {
                let (sign, digits) = text.split_at(if text.starts_with('-') { 1 } else { 0 });
                text = format!("{sign}{}{digits}", "0".repeat(pad));
            } else {
                text = format!("{}{text}", " ".repeat(pad));
            }
        }
        out.push_str(&text);
    }
    if next_arg < args.len() {
        let extra: Vec<String> = args[next_arg..]
            .iter()
            .map(|a| match GoValue::classify(a) {
                GoValue::Nil => "<nil>".to_string(),
                g => format!("{}={}", g.type_name(), sprint(a)),
            })
            .collect();
        out.push_str(&format!("%!(EXTRA {})", extra.join(", ")));
    }
    out
}

fn bad_verb(verb: char, arg: &Value) -> String {
    match GoValue::classify(arg) {
        GoValue::Nil => format!("%!{verb}(<nil>)"),
        g => format!("%!{verb}({}={})", g.type_name(), sprint(arg)),
    }
}

/// One verb applied to one argument; lists and maps apply it element-wise as
/// Go's `printValue` does.
fn format_verb(verb: char, arg: &Value) -> String {
    if verb == 'v' {
        return sprint(arg);
    }
    match GoValue::classify(arg) {
        GoValue::String(s) => match verb {
            's' => s.to_string(),
            'q' => go_quote(s),
            _ => bad_verb(verb, arg),
        },
        GoValue::Bytes(b) => {
            let s = String::from_utf8_lossy(&b).into_owned();
            match verb {
                's' => s,
                'q' => go_quote(&s),
                'd' => sprint(arg),
                _ => bad_verb(verb, arg),
            }
        }
        GoValue::Int(i) => match verb {
            'd' => i.to_string(),
            'q' => go_quote_rune(i),
            _ => bad_verb(verb, arg),
        },
        GoValue::List(items) => {
            let parts: Vec<String> = items.iter().map(|i| format_verb(verb, i)).collect();
            format!("[{}]", parts.join(" "))
        }
        GoValue::Map(m) => {
            let parts: Vec<String> = visible_entries(m)
                .into_iter()
                .map(|(k, v)| {
                    format!(
                        "{}:{}",
                        format_verb(verb, &Value::String(k.clone())),
                        format_verb(verb, v)
                    )
                })
                .collect();
            format!("map[{}]", parts.join(" "))
        }
        GoValue::Time(t) if verb == 's' => timefmt::go_time_string(&t),
        GoValue::Time(t) if verb == 'q' => go_quote(&timefmt::go_time_string(&t)),
        _ => bad_verb(verb, arg),
    }
}
