//! Python-compatible JSON: the exact bytes of `json.dumps(value)` with Python's defaults.
//!
//! Databag values written by the Python libraries are `json.dumps` output (protocol.md §2.1.4).
//! Writing the same value with different bytes would make every peer see a spurious
//! `relation-changed`, so we reproduce the encoder byte for byte: `", "` / `": "` separators,
//! insertion order, `ensure_ascii` escapes (lower-case hex, surrogate pairs, DEL escaped too:
//! checked against CPython 3.11, the spec text says otherwise) and Python's float `repr`.
//! No I/O here.

use serde_json::{Map, Number, Value};
use std::fmt::Write as _;

/// Decodes a databag string like Python's `json.loads` (duplicate keys: the last value wins
/// at the first key's position, as in a Python dict).
pub fn loads(text: &str) -> Result<Value, serde_json::Error> {
    serde_json::from_str(text)
}

/// Encodes `value` exactly as Python's `json.dumps(value)` does with default arguments.
pub fn dumps(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value);
    out
}

fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => out.push_str(&number_repr(n)),
        Value::String(s) => write_str(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => write_object(out, map),
    }
}

fn write_object(out: &mut String, map: &Map<String, Value>) {
    out.push('{');
    for (i, (key, item)) in map.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_str(out, key);
        out.push_str(": ");
        write_value(out, item);
    }
    out.push('}');
}

/// A JSON string literal with Python's `ensure_ascii=True` escaping.
fn write_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    // Writing to a String cannot fail.
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
        }
    }
    out.push('"');
}

/// The text Python prints for a number that `json.loads` produced from this JSON number.
///
/// With `arbitrary_precision` the Number keeps its source text, so integers of any size are
/// printed as Python's `int` would print them, and anything with a fraction or exponent goes
/// through `float()` and `repr()` as in Python.
pub fn number_repr(n: &Number) -> String {
    let text = n.to_string();
    if text.contains(['.', 'e', 'E']) {
        // serde_json only produces syntactically valid JSON numbers, which Rust's parser
        // accepts; overflow gives ±inf exactly as Python's float() does.
        let x: f64 = text.parse().unwrap_or(f64::NAN);
        float_repr(x)
    } else if text.trim_start_matches('-').bytes().all(|b| b == b'0') {
        "0".to_owned() // Python's int has no negative zero: json.loads("-0") == 0.
    } else {
        text
    }
}

/// Python's `repr(float)`: shortest round-trip digits, scientific notation when the decimal
/// exponent is below -4 or at least 16, and the `json` module's spellings of non-finite values.
pub fn float_repr(x: f64) -> String {
    if x.is_nan() {
        return "NaN".to_owned();
    }
    if x.is_infinite() {
        return if x > 0.0 { "Infinity" } else { "-Infinity" }.to_owned();
    }
    // Rust's `{:e}` gives the same shortest round-trip digits as Python, as `d.ddde<exp>`.
    let sci = format!("{:e}", x.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if x.is_sign_negative() { "-" } else { "" };
    if (-4..16).contains(&exp) {
        let body = if exp >= 0 {
            let int_len = exp as usize + 1;
            if digits.len() <= int_len {
                format!("{digits:0<int_len$}.0")
            } else {
                format!("{}.{}", &digits[..int_len], &digits[int_len..])
            }
        } else {
            format!("0.{}{}", "0".repeat((-exp - 1) as usize), digits)
        };
        format!("{sign}{body}")
    } else {
        let mant = if digits.len() > 1 {
            format!("{}.{}", &digits[..1], &digits[1..])
        } else {
            digits
        };
        let exp_sign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{mant}e{exp_sign}{:02}", exp.abs())
    }
}

/// Python's `str(value)` for the scalars that occur in topology fields and job names.
/// Returns `None` for arrays and objects, which we refuse rather than print as Python reprs.
pub fn py_str(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(number_repr(n)),
        Value::Bool(true) => Some("True".to_owned()),
        Value::Bool(false) => Some("False".to_owned()),
        Value::Null => Some("None".to_owned()),
        Value::Array(_) | Value::Object(_) => None,
    }
}

/// Python truthiness of a decoded JSON value (`if value:`).
pub fn is_truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => {
            let text = n.to_string();
            text.parse::<f64>().map(|x| x != 0.0).unwrap_or(true)
        }
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// A short name of the JSON type, for error messages.
pub fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn roundtrip(text: &str) -> String {
        dumps(&loads(text).unwrap())
    }

    #[test]
    fn separators_and_order_match_python() {
        assert_eq!(
            roundtrip(r#"{"b":1,"a":[true,false,null]}"#),
            r#"{"b": 1, "a": [true, false, null]}"#
        );
    }

    #[test]
    fn non_ascii_is_escaped_with_lowercase_hex_and_surrogates() {
        assert_eq!(dumps(&json!("café")), r#""caf\u00e9""#);
        assert_eq!(dumps(&json!("😀")), r#""\ud83d\ude00""#);
        assert_eq!(dumps(&json!("\u{7f}/\u{1}")), r#""\u007f/\u0001""#);
        assert_eq!(dumps(&json!("\"\\\n\r\t\u{8}\u{c}")), r#""\"\\\n\r\t\b\f""#);
    }

    #[test]
    fn floats_print_as_python_repr() {
        let cases = [
            ("1.0", "1.0"),
            ("1e-05", "1e-05"),
            ("1e16", "1e+16"),
            ("1e15", "1000000000000000.0"),
            ("123456789012345678.0", "1.2345678901234568e+17"),
            ("0.1", "0.1"),
            ("-0.0", "-0.0"),
            ("0.0001", "0.0001"),
            ("2.5e-7", "2.5e-07"),
            ("1E2", "100.0"),
            ("1.50", "1.5"),
            ("1e400", "Infinity"),
            ("-1e400", "-Infinity"),
        ];
        for (input, python) in cases {
            assert_eq!(roundtrip(input), python, "input {input}");
        }
    }

    #[test]
    fn integers_keep_full_precision_and_lose_negative_zero() {
        assert_eq!(
            roundtrip("100000000000000000000000"),
            "100000000000000000000000"
        );
        assert_eq!(roundtrip("-0"), "0");
        assert_eq!(roundtrip("-12"), "-12");
    }

    #[test]
    fn duplicate_keys_keep_first_position_and_last_value() {
        assert_eq!(roundtrip(r#"{"a":1,"b":2,"a":3}"#), r#"{"a": 3, "b": 2}"#);
    }

    #[test]
    fn py_str_and_truthiness_follow_python() {
        assert_eq!(py_str(&json!(7)).unwrap(), "7");
        assert_eq!(py_str(&json!(true)).unwrap(), "True");
        assert_eq!(py_str(&json!(null)).unwrap(), "None");
        assert!(py_str(&json!([1])).is_none());
        assert!(!is_truthy(&json!(0)));
        assert!(!is_truthy(&loads("0.0").unwrap()));
        assert!(!is_truthy(&json!("")));
        assert!(!is_truthy(&json!({})));
        assert!(is_truthy(&json!("0")));
    }
}
