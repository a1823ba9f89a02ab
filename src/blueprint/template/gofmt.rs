//! Go's `fmt` printing rules for template values: `%v` (what `{{ .X }}`
//! prints), float formatting and `strconv.Quote`. (`printf` is in printf.rs.)

use super::structs;
use super::timefmt;
use super::value::{visible_entries, GoValue};
use serde_json::Value;

/// `fmt.Sprint(v)`: what Go prints for a value nested in a map/list or passed
/// to `toString`. (Top-level `{{ nil }}` prints `<no value>`: see `print_action`.)
pub fn sprint(v: &Value) -> String {
    let mut out = String::new();
    write_v(&mut out, v);
    out
}

/// What a `{{ pipeline }}` action writes (text/template `printValue`).
pub fn print_action(v: &Value) -> String {
    match GoValue::classify(v) {
        GoValue::Nil => "<no value>".into(),
        _ => sprint(v),
    }
}

fn write_v(out: &mut String, v: &Value) {
    match GoValue::classify(v) {
        GoValue::Nil | GoValue::NilPtr(_) => out.push_str("<nil>"),
        GoValue::Bool(b) => out.push_str(if b { "true" } else { "false" }),
        GoValue::Int(i) => out.push_str(&i.to_string()),
        GoValue::Float(f) => out.push_str(&format_float_v(f)),
        GoValue::String(s) => out.push_str(s),
        GoValue::Bytes(b) => {
            let parts: Vec<String> = b.iter().map(|x| x.to_string()).collect();
            out.push('[');
            out.push_str(&parts.join(" "));
            out.push(']');
        }
        GoValue::Time(t) => out.push_str(&timefmt::go_time_string(&t)),
        GoValue::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_v(out, item);
            }
            out.push(']');
        }
        GoValue::Map(m) => {
            out.push_str("map[");
            for (i, (k, item)) in visible_entries(m).into_iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(k);
                out.push(':');
                write_v(out, item);
            }
            out.push(']');
        }
        GoValue::Struct(name, m) => {
            // Go prints a pointer nested in a struct as an address, which we
            // cannot reproduce; we print the pointee like the top-level
            // `&{...}` form instead.
            if name.starts_with('*') {
                out.push('&');
            }
            out.push('{');
            let mut first = true;
            for (_, key) in struct_fields(name, m) {
                if !first {
                    out.push(' ');
                }
                first = false;
                write_v(out, m.get(&key).unwrap_or(&Value::Null));
            }
            out.push('}');
        }
    }
}

/// Fields of a tagged struct in Go declaration order: known fields first
/// (from the struct table), then any extra JSON keys sorted.
pub fn struct_fields(go_type: &str, m: &serde_json::Map<String, Value>) -> Vec<(String, String)> {
    let mut fields = Vec::new();
    if let Some(def) = structs::find(go_type) {
        for (go, json, _) in def.fields {
            fields.push((go.to_string(), json.to_string()));
        }
    }
    for (k, _) in visible_entries(m) {
        if !fields.iter().any(|f| &f.1 == k) {
            fields.push((k.clone(), k.clone()));
        }
    }
    fields
}

/// Shortest decimal digits and decimal exponent of `f` (`d.ddd × 10^exp`).
fn shortest_digits(f: f64) -> (String, i32) {
    let sci = format!("{:e}", f.abs()); // e.g. "1.5e-7": Rust prints the shortest round-trip digits
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    (mantissa.replace('.', ""), exp.parse().unwrap_or(0))
}

fn exponent_form(digits: &str, exp: i32) -> String {
    let mut s = digits[..1].to_string();
    if digits.len() > 1 {
        s.push('.');
        s.push_str(&digits[1..]);
    }
    s.push('e');
    s.push(if exp < 0 { '-' } else { '+' });
    s.push_str(&format!("{:02}", exp.abs()));
    s
}

fn decimal_form(digits: &str, exp: i32) -> String {
    if exp < 0 {
        format!("0.{}{}", "0".repeat((-exp - 1) as usize), digits)
    } else {
        let int_len = exp as usize + 1;
        if digits.len() <= int_len {
            format!("{}{}", digits, "0".repeat(int_len - digits.len()))
        } else {
            format!("{}.{}", &digits[..int_len], &digits[int_len..])
        }
    }
}

fn special_float(f: f64) -> Option<String> {
    if f.is_nan() {
        Some("NaN".into())
    } else if f.is_infinite() {
        Some(if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        })
    } else {
        None
    }
}

/// Go `%v` for float64 is strconv 'g' with shortest precision; strconv/ftoa.go
/// then uses exponent form when exp < -4 || exp >= 6 ("if precision was the
/// shortest possible, use precision 6 for this decision"), so 1e6 prints
/// `1e+06`, 123456 prints `123456` and 1e21 prints `1e+21`.
#[allow(clippy::manual_range_contains)] // written as in strconv/ftoa.go
pub fn format_float_v(f: f64) -> String {
    if let Some(s) = special_float(f) {
        return s;
    }
    if f == 0.0 {
        return if f.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    let (digits, exp) = shortest_digits(f);
    let body = if exp < -4 || exp >= 6 {
        exponent_form(&digits, exp)
    } else {
        decimal_form(&digits, exp)
    };
    if f < 0.0 {
        format!("-{body}")
    } else {
        body
    }
}

/// `encoding/json` float64 encoding: 'f' unless |f| < 1e-6 or |f| >= 1e21,
/// then 'e' with `e-07` cleaned to `e-7`. `None` for NaN/Inf (Marshal errors).
#[allow(clippy::manual_range_contains)] // written as in encoding/json
pub fn format_float_json(f: f64) -> Option<String> {
    if !f.is_finite() {
        return None;
    }
    if f == 0.0 {
        return Some(if f.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        });
    }
    let (digits, exp) = shortest_digits(f);
    let abs = f.abs();
    let mut body = if abs < 1e-6 || abs >= 1e21 {
        exponent_form(&digits, exp)
    } else {
        decimal_form(&digits, exp)
    };
    if let Some(pos) = body.find("e-0") {
        if body.len() == pos + 4 {
            body.remove(pos + 2);
        }
    }
    Some(if f < 0.0 { format!("-{body}") } else { body })
}

/// Is `c` printable per Go's `strconv.IsPrint`? Approximation: Unicode letters,
/// marks, numbers, punctuation and symbols plus ASCII space. Rust has no
/// general-category API, so we exclude controls, non-ASCII spaces and the
/// common format characters instead.
fn is_go_printable(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    !matches!(c as u32,
        0x00AD | 0x0600..=0x0605 | 0x061C | 0x06DD | 0x070F | 0x180E | 0x200B..=0x200F
        | 0x202A..=0x202E | 0x2060..=0x2064 | 0x2066..=0x206F | 0xFEFF | 0xFFF9..=0xFFFB
        | 0xE000..=0xF8FF | 0xF0000..=0x10FFFF)
}

/// `strconv.Quote`: double-quoted Go string literal.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if is_go_printable(c) => out.push(c),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
    out
}
