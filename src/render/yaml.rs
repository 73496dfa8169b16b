//! A block-style YAML writer for the types of `parca.yaml`: a serde `Serializer` that streams
//! straight into one `String`.
//!
//! Why not a general YAML library: parca.yaml is written on every change of the fleet, 1.5 MB at
//! 5,000 units, and a general emitter spent ~50 ms on it (issue 9, P2). This one only writes
//! the shapes serde produces for our types (maps, sequences, scalars), in the layout of the
//! previous emitter (serde-saphyr), so the files read the same:
//!
//! ```yaml
//! scrape_configs:
//! - job_name: a
//!   static_configs:
//!   - targets:
//!     - 10.0.0.1:6060
//! ```
//!
//! Strings are written plain only when YAML 1.2 readers (Parca's yaml.v3, serde-saphyr) and
//! YAML 1.1 readers (yaml.v2, PyYAML: there `yes`, `0x1F`, `1:30` or `10.0.0.1` are not
//! strings) all take them back as the same string, and double-quoted with escapes otherwise:
//! the file means the same to whichever tool an operator reads it with. Tests read the output
//! back with PyYAML and serde-saphyr and compare.

use serde::Serialize;
use serde::ser::{self, Impossible};
use std::fmt::Write as _;

/// Why a value cannot be written.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum YamlError {
    /// A shape parca.yaml never has (bytes, a non-text map key, …).
    #[error("cannot write {0} in parca.yaml")]
    Unsupported(&'static str),
    /// YAML limits implicit keys to 1,024 characters (libyaml, yaml.v2 and yaml.v3 refuse
    /// longer ones).
    #[error("a map key of {0} bytes is over YAML's 1,024-character limit for a key")]
    KeyTooLong(usize),
    /// From a `Serialize` implementation.
    #[error("{0}")]
    Custom(String),
}

impl ser::Error for YamlError {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        YamlError::Custom(msg.to_string())
    }
}

/// The YAML text of `value` (a map at the top, as a parca.yaml is).
pub fn to_string<T: Serialize + ?Sized>(value: &T) -> Result<String, YamlError> {
    let mut out = String::new();
    write_to(&mut out, value)?;
    Ok(out)
}

/// Appends the YAML text of `value` to `out`.
pub fn write_to<T: Serialize + ?Sized>(out: &mut String, value: &T) -> Result<(), YamlError> {
    value.serialize(ValueWriter {
        out,
        slot: Slot::Top,
    })
}

/// Where the next value goes, which decides how it starts.
#[derive(Clone, Copy)]
enum Slot {
    /// The document itself.
    Top,
    /// After `key:` written at column `indent`.
    AfterKey { indent: usize },
    /// After `- ` whose dash is at column `indent`.
    AfterDash { indent: usize },
}

impl Slot {
    /// The column of a collection's second and later entries (and of its first, when it
    /// starts on a new line).
    fn map_indent(self) -> usize {
        match self {
            Slot::Top => 0,
            Slot::AfterKey { indent } | Slot::AfterDash { indent } => indent + 2,
        }
    }

    /// Sequences under a key are not indented further (`key:` then `- item` in its column).
    fn seq_indent(self) -> usize {
        match self {
            Slot::Top => 0,
            Slot::AfterKey { indent } => indent,
            Slot::AfterDash { indent } => indent + 2,
        }
    }
}

fn push_indent(out: &mut String, columns: usize) {
    const SPACES: &str = "                                                                ";
    let mut left = columns;
    while left > 0 {
        let n = left.min(SPACES.len());
        out.push_str(&SPACES[..n]);
        left -= n;
    }
}

/// Writes one scalar whose text is already YAML (a number, `true`, `null`, a quoted string).
fn put_scalar(out: &mut String, slot: Slot, text: impl FnOnce(&mut String)) {
    if let Slot::AfterKey { .. } = slot {
        out.push(' ');
    }
    text(out);
    out.push('\n');
}

/// The serializer for one value at `slot`.
struct ValueWriter<'a> {
    out: &'a mut String,
    slot: Slot,
}

impl<'a> ValueWriter<'a> {
    fn scalar(self, text: impl FnOnce(&mut String)) -> Result<(), YamlError> {
        put_scalar(self.out, self.slot, text);
        Ok(())
    }

    fn seq(self) -> Block<'a> {
        Block {
            indent: self.slot.seq_indent(),
            out: self.out,
            slot: self.slot,
            first: true,
            empty: "[]",
        }
    }

    fn map(self) -> Block<'a> {
        Block {
            indent: self.slot.map_indent(),
            out: self.out,
            slot: self.slot,
            first: true,
            empty: "{}",
        }
    }
}

impl<'a> ser::Serializer for ValueWriter<'a> {
    type Ok = ();
    type Error = YamlError;
    type SerializeSeq = Block<'a>;
    type SerializeTuple = Block<'a>;
    type SerializeTupleStruct = Block<'a>;
    type SerializeTupleVariant = Impossible<(), YamlError>;
    type SerializeMap = Block<'a>;
    type SerializeStruct = Block<'a>;
    type SerializeStructVariant = Impossible<(), YamlError>;

    fn serialize_bool(self, v: bool) -> Result<(), YamlError> {
        self.scalar(|out| out.push_str(if v { "true" } else { "false" }))
    }
    fn serialize_i8(self, v: i8) -> Result<(), YamlError> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i16(self, v: i16) -> Result<(), YamlError> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i32(self, v: i32) -> Result<(), YamlError> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i64(self, v: i64) -> Result<(), YamlError> {
        // Writing into a String cannot fail.
        self.scalar(|out| {
            let _ = write!(out, "{v}");
        })
    }
    fn serialize_u8(self, v: u8) -> Result<(), YamlError> {
        self.serialize_u64(u64::from(v))
    }
    fn serialize_u16(self, v: u16) -> Result<(), YamlError> {
        self.serialize_u64(u64::from(v))
    }
    fn serialize_u32(self, v: u32) -> Result<(), YamlError> {
        self.serialize_u64(u64::from(v))
    }
    fn serialize_u64(self, v: u64) -> Result<(), YamlError> {
        self.scalar(|out| {
            let _ = write!(out, "{v}");
        })
    }
    fn serialize_f32(self, v: f32) -> Result<(), YamlError> {
        self.serialize_f64(f64::from(v))
    }
    fn serialize_f64(self, v: f64) -> Result<(), YamlError> {
        self.scalar(|out| push_float(out, v))
    }
    fn serialize_char(self, v: char) -> Result<(), YamlError> {
        self.serialize_str(v.encode_utf8(&mut [0; 4]))
    }
    fn serialize_str(self, v: &str) -> Result<(), YamlError> {
        self.scalar(|out| push_string(out, v))
    }
    fn serialize_bytes(self, _: &[u8]) -> Result<(), YamlError> {
        Err(YamlError::Unsupported("bytes"))
    }
    fn serialize_none(self) -> Result<(), YamlError> {
        self.scalar(|out| out.push_str("null"))
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), YamlError> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), YamlError> {
        self.serialize_none()
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), YamlError> {
        self.serialize_none()
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<(), YamlError> {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), YamlError> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), YamlError> {
        let mut map = self.map();
        ser::SerializeMap::serialize_entry(&mut map, variant, value)?;
        ser::SerializeMap::end(map)
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Block<'a>, YamlError> {
        Ok(self.seq())
    }
    fn serialize_tuple(self, _: usize) -> Result<Block<'a>, YamlError> {
        Ok(self.seq())
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Block<'a>, YamlError> {
        Ok(self.seq())
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, YamlError> {
        Err(YamlError::Unsupported("a tuple variant"))
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Block<'a>, YamlError> {
        Ok(self.map())
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Block<'a>, YamlError> {
        Ok(self.map())
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, YamlError> {
        Err(YamlError::Unsupported("a struct variant"))
    }
}

/// A sequence or map in progress (structs are maps). Its opening is written with its first
/// entry, so an empty one can still become `[]` or `{}`.
struct Block<'a> {
    out: &'a mut String,
    slot: Slot,
    /// Column of each `- ` or key.
    indent: usize,
    first: bool,
    /// Written when there was no entry.
    empty: &'static str,
}

impl Block<'_> {
    /// Goes to where the next entry starts.
    fn start_entry(&mut self) {
        match (self.first, self.slot) {
            // `- key: value`, `- - x`: a block's first entry continues its parent's dash line.
            (true, Slot::AfterDash { .. } | Slot::Top) => {}
            (true, Slot::AfterKey { .. }) => {
                self.out.push('\n');
                push_indent(self.out, self.indent);
            }
            (false, _) => push_indent(self.out, self.indent),
        }
        self.first = false;
    }

    fn item<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), YamlError> {
        self.start_entry();
        self.out.push_str("- ");
        value.serialize(ValueWriter {
            out: self.out,
            slot: Slot::AfterDash {
                indent: self.indent,
            },
        })
    }

    fn key<K: Serialize + ?Sized>(&mut self, key: &K) -> Result<(), YamlError> {
        self.start_entry();
        let start = self.out.len();
        key.serialize(KeyWriter { out: self.out })?;
        let length = self.out.len() - start;
        if length > 1024 {
            return Err(YamlError::KeyTooLong(length));
        }
        self.out.push(':');
        Ok(())
    }

    fn value<V: Serialize + ?Sized>(&mut self, value: &V) -> Result<(), YamlError> {
        value.serialize(ValueWriter {
            out: self.out,
            slot: Slot::AfterKey {
                indent: self.indent,
            },
        })
    }

    fn finish(self) -> Result<(), YamlError> {
        if self.first {
            put_scalar(self.out, self.slot, |out| out.push_str(self.empty));
        }
        Ok(())
    }
}

/// The three sequence-like serde traits, all written as a sequence.
macro_rules! sequence_like {
    ($($trait:ident :: $method:ident),*) => {$(
        impl ser::$trait for Block<'_> {
            type Ok = ();
            type Error = YamlError;
            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), YamlError> {
                self.item(value)
            }
            fn end(self) -> Result<(), YamlError> {
                self.finish()
            }
        }
    )*};
}

sequence_like!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field
);

impl ser::SerializeMap for Block<'_> {
    type Ok = ();
    type Error = YamlError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), YamlError> {
        self.key(key)
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), YamlError> {
        self.value(value)
    }
    fn end(self) -> Result<(), YamlError> {
        self.finish()
    }
}

impl ser::SerializeStruct for Block<'_> {
    type Ok = ();
    type Error = YamlError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), YamlError> {
        self.key(key)?;
        self.value(value)
    }
    fn end(self) -> Result<(), YamlError> {
        self.finish()
    }
}

/// Map keys: text only (numbers and booleans as text, which is how YAML reads them back into
/// our string-keyed maps).
struct KeyWriter<'a> {
    out: &'a mut String,
}

impl ser::Serializer for KeyWriter<'_> {
    type Ok = ();
    type Error = YamlError;
    type SerializeSeq = Impossible<(), YamlError>;
    type SerializeTuple = Impossible<(), YamlError>;
    type SerializeTupleStruct = Impossible<(), YamlError>;
    type SerializeTupleVariant = Impossible<(), YamlError>;
    type SerializeMap = Impossible<(), YamlError>;
    type SerializeStruct = Impossible<(), YamlError>;
    type SerializeStructVariant = Impossible<(), YamlError>;

    fn serialize_bool(self, v: bool) -> Result<(), YamlError> {
        self.serialize_str(if v { "true" } else { "false" })
    }
    fn serialize_i8(self, v: i8) -> Result<(), YamlError> {
        self.serialize_str(&v.to_string())
    }
    fn serialize_i16(self, v: i16) -> Result<(), YamlError> {
        self.serialize_str(&v.to_string())
    }
    fn serialize_i32(self, v: i32) -> Result<(), YamlError> {
        self.serialize_str(&v.to_string())
    }
    fn serialize_i64(self, v: i64) -> Result<(), YamlError> {
        self.serialize_str(&v.to_string())
    }
    fn serialize_u8(self, v: u8) -> Result<(), YamlError> {
        self.serialize_str(&v.to_string())
    }
    fn serialize_u16(self, v: u16) -> Result<(), YamlError> {
        self.serialize_str(&v.to_string())
    }
    fn serialize_u32(self, v: u32) -> Result<(), YamlError> {
        self.serialize_str(&v.to_string())
    }
    fn serialize_u64(self, v: u64) -> Result<(), YamlError> {
        self.serialize_str(&v.to_string())
    }
    fn serialize_f32(self, _: f32) -> Result<(), YamlError> {
        Err(YamlError::Unsupported("a number as a map key"))
    }
    fn serialize_f64(self, _: f64) -> Result<(), YamlError> {
        Err(YamlError::Unsupported("a number as a map key"))
    }
    fn serialize_char(self, v: char) -> Result<(), YamlError> {
        self.serialize_str(v.encode_utf8(&mut [0; 4]))
    }
    fn serialize_str(self, v: &str) -> Result<(), YamlError> {
        push_string(self.out, v);
        Ok(())
    }
    fn serialize_bytes(self, _: &[u8]) -> Result<(), YamlError> {
        Err(YamlError::Unsupported("bytes"))
    }
    fn serialize_none(self) -> Result<(), YamlError> {
        Err(YamlError::Unsupported("a null map key"))
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), YamlError> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), YamlError> {
        Err(YamlError::Unsupported("a null map key"))
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), YamlError> {
        Err(YamlError::Unsupported("a null map key"))
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<(), YamlError> {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), YamlError> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), YamlError> {
        Err(YamlError::Unsupported("a structured map key"))
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, YamlError> {
        Err(YamlError::Unsupported("a structured map key"))
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, YamlError> {
        Err(YamlError::Unsupported("a structured map key"))
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, YamlError> {
        Err(YamlError::Unsupported("a structured map key"))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, YamlError> {
        Err(YamlError::Unsupported("a structured map key"))
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, YamlError> {
        Err(YamlError::Unsupported("a structured map key"))
    }
    fn serialize_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStruct, YamlError> {
        Err(YamlError::Unsupported("a structured map key"))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, YamlError> {
        Err(YamlError::Unsupported("a structured map key"))
    }
}

/// A float as both YAML 1.1 and 1.2 read it: always with a `.` or an exponent, so that it
/// stays a float (`3.0`, not `3`).
fn push_float(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str(".nan");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { ".inf" } else { "-.inf" });
    } else {
        // Debug prints `3.0`, `0.1`, `1e300`, `1e-7`: the shortest text that reads back as v.
        let start = out.len();
        let _ = write!(out, "{v:?}");
        // YAML 1.1 wants a dot in the mantissa and a sign in the exponent (`1.0e+300`).
        if let Some(e) = out[start..].find('e') {
            let (mantissa, exponent) = out[start..].split_at(e);
            let mantissa = if mantissa.contains('.') {
                mantissa.to_owned()
            } else {
                format!("{mantissa}.0")
            };
            let exponent = match exponent.as_bytes().get(1) {
                Some(b'-') => exponent.to_owned(),
                _ => format!("e+{}", &exponent[1..]),
            };
            out.truncate(start);
            out.push_str(&mantissa);
            out.push_str(&exponent);
        }
    }
}

/// A string, plain when that is safe, double-quoted otherwise.
fn push_string(out: &mut String, s: &str) {
    if plain_is_safe(s) {
        out.push_str(s);
    } else {
        push_double_quoted(out, s);
    }
}

fn push_double_quoted(out: &mut String, s: &str) {
    out.reserve(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if needs_escape(c) => {
                let code = u32::from(c);
                if code <= 0xFFFF {
                    let _ = write!(out, "\\u{code:04X}");
                } else {
                    let _ = write!(out, "\\U{code:08X}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Characters a YAML reader does not take literally in a scalar: control characters, NEL and
/// the other C1 controls, the Unicode line and paragraph separators (line breaks in YAML 1.1),
/// the byte-order mark, and the two non-characters YAML excludes.
fn needs_escape(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{1F}' | '\u{7F}'..='\u{9F}' | '\u{2028}' | '\u{2029}' | '\u{FEFF}'
        | '\u{FFFE}' | '\u{FFFF}')
}

/// Whether `s` can be written without quotes and read back as the same string by YAML 1.1
/// (Parca's yaml.v2) and 1.2 readers, in a block context.
fn plain_is_safe(s: &str) -> bool {
    let bytes = s.as_bytes();
    let (Some(&first), Some(&last)) = (bytes.first(), bytes.last()) else {
        return false; // empty: reads as null
    };
    // Indicators that start another kind of node, and whitespace a reader would trim.
    if matches!(
        first,
        b'-' | b'?'
            | b':'
            | b','
            | b'['
            | b']'
            | b'{'
            | b'}'
            | b'#'
            | b'&'
            | b'*'
            | b'!'
            | b'|'
            | b'>'
            | b'\''
            | b'"'
            | b'%'
            | b'@'
            | b'`'
            | b' '
    ) || last == b' '
        || last == b':'
    {
        return false;
    }
    let mut previous = 0u8;
    let mut ascii = true;
    for &b in bytes {
        match b {
            // Controls, tab and DEL are quoted.
            0..=0x1F | 0x7F => return false,
            b' ' if previous == b':' => return false, // `a: b` is a mapping
            b'#' if previous == b' ' => return false, // ` #` starts a comment
            0x80.. => ascii = false,
            _ => {}
        }
        previous = b;
    }
    if !ascii && s.chars().any(needs_escape) {
        return false;
    }
    !resolves_to_non_string(s)
}

/// Whether a plain `s` would be read as null, a boolean, a number, a timestamp or a merge key
/// by a YAML 1.1 or 1.2 reader (the union of both schemas' implicit types).
fn resolves_to_non_string(s: &str) -> bool {
    // Compared without case and without a lower-case copy: every short label value passes here.
    const WORDS: [&str; 16] = [
        "~", "null", "true", "false", "yes", "no", "on", "off", "y", "n", "<<", "=", ".inf",
        "+.inf", "-.inf", ".nan",
    ];
    if s.len() <= 5 && WORDS.iter().any(|w| w.eq_ignore_ascii_case(s)) {
        return true;
    }
    let unsigned = s.strip_prefix(['-', '+']).unwrap_or(s);
    match unsigned.as_bytes().first() {
        Some(b'0'..=b'9' | b'.') => looks_numeric(unsigned) || looks_like_timestamp(s),
        _ => false,
    }
}

/// YAML 1.1 ints (`0b1_0`, `017`, `1_000`, `0x1F`, sexagesimal `1:30`) and floats (`1.`,
/// `.5`, `1e5`, `1.5e+3`, `1:30.5`), and YAML 1.2's `0o17`. Conservative: anything made of
/// those pieces counts.
fn looks_numeric(s: &str) -> bool {
    if let Some(rest) = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0b"))
        .or_else(|| s.strip_prefix("0o"))
    {
        return !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_hexdigit() || b == b'_');
    }
    // Sexagesimal: digits, then `:`-separated groups of one or two digits, maybe a fraction.
    // Every `host:port` target with a numeric host comes here: no allocation.
    if let Some((head, rest)) = s.split_once(':') {
        let head_ok = !head.is_empty() && head.bytes().all(|b| b.is_ascii_digit() || b == b'_');
        if !head_ok {
            return false;
        }
        let mut groups = rest.split(':').peekable();
        while let Some(group) = groups.next() {
            // Only the last group may carry a fraction.
            let whole = match group.split_once('.').filter(|_| groups.peek().is_none()) {
                Some((whole, fraction)) => {
                    if !fraction.bytes().all(|b| b.is_ascii_digit() || b == b'_') {
                        return false;
                    }
                    whole
                }
                None => group,
            };
            if !(1..=2).contains(&whole.len()) || !whole.bytes().all(|b| b.is_ascii_digit()) {
                return false;
            }
        }
        return true;
    }
    // Decimal ints and floats: a mantissa of digits, `_` and `.`, then maybe an exponent.
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let mantissa_ok = mantissa
        .bytes()
        .all(|b| b.is_ascii_digit() || b == b'_' || b == b'.')
        && (mantissa.bytes().any(|b| b.is_ascii_digit()) || mantissa.starts_with('.'));
    let exponent_ok = exponent.is_none_or(|e| {
        let digits = e.strip_prefix(['-', '+']).unwrap_or(e);
        !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
    });
    mantissa_ok && exponent_ok
}

/// `2001-12-14`, `2001-12-14t21:59:43.10-05:00`, …: a four-digit year then `-` is enough to
/// quote.
fn looks_like_timestamp(s: &str) -> bool {
    let bytes = s.as_bytes();
    bytes.len() >= 8 && bytes[..4].iter().all(u8::is_ascii_digit) && bytes[4] == b'-'
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[derive(Serialize)]
    struct Doc {
        name: String,
        empty_list: Vec<String>,
        empty_map: BTreeMap<String, String>,
        nested: Vec<Vec<u32>>,
        maps: Vec<BTreeMap<String, Option<String>>>,
        float: f64,
    }

    #[test]
    fn layout_matches_the_previous_emitter() {
        let doc = Doc {
            name: "a".into(),
            empty_list: vec![],
            empty_map: BTreeMap::new(),
            nested: vec![vec![1, 2], vec![]],
            maps: vec![BTreeMap::from([
                ("k".to_owned(), Some("v".to_owned())),
                ("m".to_owned(), None),
            ])],
            float: 3.0,
        };
        let text = to_string(&doc).unwrap();
        assert_eq!(
            text,
            "name: a\nempty_list: []\nempty_map: {}\nnested:\n- - 1\n  - 2\n- []\nmaps:\n- k: v\n  m: null\nfloat: 3.0\n"
        );
    }

    #[test]
    fn strings_a_yaml_1_1_reader_would_retype_are_quoted() {
        for s in [
            "",
            "yes",
            "No",
            "ON",
            "~",
            "null",
            "0x1F",
            "017",
            "1_000",
            "1:30",
            "1:30.5",
            "10.0.0.1",
            ".5",
            "1e5",
            "1.5e+3",
            "-1",
            "+.inf",
            ".NaN",
            "2001-12-14",
            "<<",
            "=",
            "0o17",
            "1.",
            "190:20:30",
            "1:2:3.5",
            "1_0:30",
            "TRUE",
            "Off",
        ] {
            assert!(!plain_is_safe(s), "{s:?} must be quoted");
        }
        for s in [
            "10.0.0.1:6060",
            "zinc/0",
            "(.*)",
            "$1",
            "http://x:1/p",
            "café",
            "a b",
            "1a",
            "v1.2.3",
            "a:b",
            "0xZ",
            "e5",
            "_",
            "1:3a",
            "1:2.5:3",
            "1::2",
            "1:123",
            "1:30.5x",
            "10.0.0.1:6060:7",
            "truth",
            "nope",
        ] {
            assert!(plain_is_safe(s), "{s:?} can stay plain");
        }
    }

    #[test]
    fn syntax_that_would_change_the_document_is_quoted() {
        for s in [
            "- a",
            "a: b",
            "a #b",
            "#a",
            "[a]",
            "{a}",
            "*a",
            "&a",
            "!a",
            "|",
            ">",
            "'a",
            "\"a",
            "%a",
            "@a",
            "`a",
            " a",
            "a ",
            "a:",
            "a\tb",
            "a\nb",
            "\u{85}",
            "\u{2028}",
            "\u{feff}x",
        ] {
            assert!(!plain_is_safe(s), "{s:?} must be quoted");
        }
    }

    #[test]
    fn escapes_read_back() {
        let map = BTreeMap::from([(
            "k: \"x\"".to_owned(),
            "a\\b\n\t\u{85}\u{1F600}\u{7}".to_owned(),
        )]);
        let text = to_string(&map).unwrap();
        assert_eq!(
            text,
            "\"k: \\\"x\\\"\": \"a\\\\b\\n\\t\\u0085\u{1F600}\\u0007\"\n"
        );
        let back: BTreeMap<String, String> = serde_saphyr::from_str(&text).unwrap();
        assert_eq!(back, map);
    }

    #[test]
    fn floats_keep_their_type() {
        let floats = [
            0.1,
            3.0,
            1e300,
            1e-7,
            -2.5,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ];
        let text = to_string(&floats.to_vec()).unwrap();
        assert_eq!(
            text,
            "- 0.1\n- 3.0\n- 1.0e+300\n- 1.0e-7\n- -2.5\n- .inf\n- -.inf\n"
        );
        let back: Vec<f64> = serde_saphyr::from_str(&text).unwrap();
        assert_eq!(back, floats);
    }

    #[test]
    fn a_key_over_yaml_s_limit_is_an_error() {
        let map = BTreeMap::from([("k".repeat(1025), 1)]);
        assert_eq!(to_string(&map), Err(YamlError::KeyTooLong(1025)));
    }
}
