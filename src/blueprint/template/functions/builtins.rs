//! text/template's predefined functions (text/template/funcs.go).

use super::args::{arity, at_least, string};
use crate::blueprint::template::gofmt::sprint;
use crate::blueprint::template::printf::sprintf;
use crate::blueprint::template::value::GoValue;
use serde_json::Value;
use std::cmp::Ordering;

fn truth(v: &Value) -> bool {
    GoValue::classify(v).is_true()
}

/// Go 1.18+: returns the first falsy argument, or the last one.
pub fn and(args: &[Value]) -> Result<Value, String> {
    at_least(args, 1)?;
    Ok(args
        .iter()
        .find(|a| !truth(a))
        .unwrap_or(&args[args.len() - 1])
        .clone())
}

/// Returns the first truthy argument, or the last one.
pub fn or(args: &[Value]) -> Result<Value, String> {
    at_least(args, 1)?;
    Ok(args
        .iter()
        .find(|a| truth(a))
        .unwrap_or(&args[args.len() - 1])
        .clone())
}

pub fn not(args: &[Value]) -> Result<Value, String> {
    arity(args, 1)?;
    Ok(Value::Bool(!truth(&args[0])))
}

/// Strings count bytes, as Go's `len`.
pub fn len(args: &[Value]) -> Result<Value, String> {
    arity(args, 1)?;
    let n = match GoValue::classify(&args[0]) {
        GoValue::String(s) => s.len(),
        GoValue::Bytes(b) => b.len(),
        GoValue::List(l) => l.len(),
        GoValue::Map(m) => super::super::value::visible_entries(m).len(),
        GoValue::Nil => return Err("error calling len: len of nil pointer".into()),
        other => {
            return Err(format!(
                "error calling len: len of type {}",
                other.type_name()
            ))
        }
    };
    Ok(Value::from(n))
}

/// `index x 1 "k" …`: missing map keys give nil (not an error, unlike fields).
pub fn index(args: &[Value]) -> Result<Value, String> {
    at_least(args, 1)?;
    let fail = |m: String| format!("error calling index: {m}");
    let mut cur = args[0].clone();
    if matches!(GoValue::classify(&cur), GoValue::Nil) {
        return Err(fail("index of untyped nil".into()));
    }
    for key in &args[1..] {
        let next = match GoValue::classify(&cur) {
            GoValue::List(items) => items[list_index(key, items.len()).map_err(fail)?].clone(),
            GoValue::Bytes(b) => Value::from(b[list_index(key, b.len()).map_err(fail)?]),
            GoValue::String(s) => {
                Value::from(s.as_bytes()[list_index(key, s.len()).map_err(fail)?])
            }
            GoValue::Map(m) => match GoValue::classify(key) {
                GoValue::String(k) => m.get(k).cloned().unwrap_or(Value::Null),
                GoValue::Nil => return Err(fail("value is nil; should be of type string".into())),
                other => {
                    return Err(fail(format!(
                        "value has type {}; should be string",
                        other.type_name()
                    )))
                }
            },
            GoValue::Nil | GoValue::NilPtr(_) => return Err(fail("index of nil pointer".into())),
            other => {
                return Err(fail(format!(
                    "can't index item of type {}",
                    other.type_name()
                )))
            }
        };
        cur = next;
    }
    Ok(cur)
}

fn list_index(key: &Value, len: usize) -> Result<usize, String> {
    match GoValue::classify(key) {
        GoValue::Int(i) if i >= 0 && (i as usize) < len => Ok(i as usize),
        GoValue::Int(i) => Err(format!("index out of range: {i}")),
        GoValue::Nil => Err("cannot index slice/array with nil".into()),
        other => Err(format!(
            "cannot index slice/array with type {}",
            other.type_name()
        )),
    }
}

/// The comparable "basic kinds" of funcs.go `basicKind`.
#[derive(PartialEq)]
enum Basic<'a> {
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(&'a str),
}

fn basic(v: &Value) -> Result<Option<Basic<'_>>, String> {
    Ok(Some(match GoValue::classify(v) {
        GoValue::Bool(b) => Basic::Bool(b),
        GoValue::Int(i) => Basic::Int(i),
        GoValue::Float(f) => Basic::Float(f),
        GoValue::String(_) => Basic::Str(v.as_str().unwrap_or_default()),
        GoValue::Nil => return Ok(None),
        other => {
            return Err(format!(
                "non-comparable type {}: {}",
                sprint(v),
                other.type_name()
            ))
        }
    }))
}

fn same_kind(a: &Basic, b: &Basic) -> bool {
    std::mem::discriminant(a) == std::mem::discriminant(b)
}

/// `eq a b c…`: true if a equals any of b, c, …; mixing kinds is an error.
pub fn eq(args: &[Value]) -> Result<Value, String> {
    at_least(args, 1)?;
    if args.len() < 2 {
        return Err("error calling eq: missing argument for comparison".into());
    }
    let fail = |m: String| format!("error calling eq: {m}");
    let a = basic(&args[0]).map_err(fail)?;
    for arg in &args[1..] {
        let b = basic(arg).map_err(fail)?;
        let equal = match (&a, &b) {
            (Some(x), Some(y)) if !same_kind(x, y) => {
                return Err(fail("incompatible types for comparison".into()))
            }
            (Some(x), Some(y)) => x == y,
            (None, None) => true,
            _ => false,
        };
        if equal {
            return Ok(Value::Bool(true));
        }
    }
    Ok(Value::Bool(false))
}

pub fn ne(args: &[Value]) -> Result<Value, String> {
    arity(args, 2)?;
    let equal = eq(args).map_err(|e| e.replace("calling eq", "calling ne"))?;
    Ok(Value::Bool(!truth(&equal)))
}

fn order(args: &[Value], name: &str) -> Result<Ordering, String> {
    arity(args, 2)?;
    let fail = |m: &str| format!("error calling {name}: {m}");
    fn kind(v: &Value) -> Option<Basic<'_>> {
        match basic(v) {
            Ok(Some(Basic::Bool(_))) | Ok(None) | Err(_) => None,
            Ok(Some(b)) => Some(b),
        }
    }
    let invalid = || fail("invalid type for comparison");
    match (
        kind(&args[0]).ok_or_else(invalid)?,
        kind(&args[1]).ok_or_else(invalid)?,
    ) {
        (Basic::Int(a), Basic::Int(b)) => Ok(a.cmp(&b)),
        (Basic::Float(a), Basic::Float(b)) => Ok(a.partial_cmp(&b).unwrap_or(Ordering::Equal)),
        (Basic::Str(a), Basic::Str(b)) => Ok(a.cmp(b)),
        _ => Err(fail("incompatible types for comparison")),
    }
}

pub fn lt(args: &[Value]) -> Result<Value, String> {
    Ok(Value::Bool(order(args, "lt")? == Ordering::Less))
}
pub fn le(args: &[Value]) -> Result<Value, String> {
    Ok(Value::Bool(order(args, "le")? != Ordering::Greater))
}
pub fn gt(args: &[Value]) -> Result<Value, String> {
    Ok(Value::Bool(order(args, "gt")? == Ordering::Greater))
}
pub fn ge(args: &[Value]) -> Result<Value, String> {
    Ok(Value::Bool(order(args, "ge")? != Ordering::Less))
}

pub fn printf(args: &[Value]) -> Result<Value, String> {
    at_least(args, 1)?;
    Ok(Value::String(sprintf(string(&args[0])?, &args[1..])))
}

/// `fmt.Sprint`: a space between operands when neither is a string.
pub fn print(args: &[Value]) -> Result<Value, String> {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        let is_str = |v: &Value| matches!(GoValue::classify(v), GoValue::String(_));
        if i > 0 && !is_str(a) && !is_str(&args[i - 1]) {
            out.push(' ');
        }
        out.push_str(&sprint(a));
    }
    Ok(Value::String(out))
}

/// `fmt.Sprintln`: always spaces, and a final newline.
pub fn println(args: &[Value]) -> Result<Value, String> {
    let parts: Vec<String> = args.iter().map(sprint).collect();
    Ok(Value::String(parts.join(" ") + "\n"))
}
