//! Conformance against vectors recorded from the real Python libraries (protocol.md §7).
//!
//! Each vector is evaluated with all fixes on (what we ship). If that differs from what Python
//! recorded, the difference must be exactly what named fixes predict: turning those fixes off
//! must reproduce the recorded output. Crash vectors (`x_*`, `px_*`, `sx_*`, `srx_*`) pass when
//! we report a typed error or drop exactly the offending data (the Python exception is matched
//! by type). No I/O here; the CLI and tests read the files.

mod sides;

use crate::fixes::{Fix, FixSet};
use crate::pyjson;
use serde::Deserialize;
use serde_json::Value;
use std::fmt;

/// One recorded case.
#[derive(Debug, Clone, Deserialize)]
pub struct Vector {
    /// Unique name; the prefix says the side and whether Python crashed.
    pub name: String,
    /// The input given to the Python library.
    pub input: Value,
    /// What the Python library produced.
    pub output: Value,
    /// A remark by whoever recorded it (e.g. that unit order is not deterministic).
    #[serde(default)]
    pub note: Option<String>,
}

/// Our output for one input, in the vectors' output format, plus what we reported.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// Output in the vector format (`jobs`, `relations`, `app_data`, `config`, `error`, …).
    pub output: Value,
    /// Rejections and conflicts we reported, as messages.
    pub reports: Vec<String>,
    /// Python exception types the reported problems correspond to.
    pub python_exceptions: Vec<&'static str>,
    /// Output fields recorded in the vector that this runner does not compare, with why.
    pub not_compared: Vec<String>,
}

/// The outcome for one vector.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Same as Python (or the crash is reported as a typed error / isolated drop).
    Pass,
    /// Differs exactly as these fixes predict.
    Fixed(Vec<Fix>),
    /// Differs in a way no fix explains.
    Fail(String),
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Pass => f.write_str("pass"),
            Verdict::Fixed(fixes) => {
                let ids: Vec<String> = fixes.iter().map(Fix::to_string).collect();
                write!(f, "fixed {}", ids.join(","))
            }
            Verdict::Fail(_) => f.write_str("FAIL"),
        }
    }
}

/// One vector's result.
#[derive(Debug, Clone)]
pub struct VectorResult {
    /// The vector's name.
    pub name: String,
    /// The outcome.
    pub verdict: Verdict,
    /// What we produced with all fixes on.
    pub ours: Evaluation,
}

/// An input the runner cannot evaluate (unknown side, malformed input).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("vector {name}: {reason}")]
pub struct VectorError {
    /// The vector.
    pub name: String,
    /// What is wrong with it.
    pub reason: String,
}

/// Evaluates `input` with `fixes`.
pub fn evaluate(name: &str, input: &Value, fixes: FixSet) -> Result<Evaluation, VectorError> {
    sides::evaluate(input, fixes).map_err(|reason| VectorError {
        name: name.to_owned(),
        reason,
    })
}

/// Runs one vector and classifies the result.
pub fn run(vector: &Vector) -> Result<VectorResult, VectorError> {
    let unordered = vector
        .note
        .as_deref()
        .is_some_and(|note| note.to_lowercase().contains("not deterministic"));
    let matches = |eval: &Evaluation| matches(&vector.output, eval, unordered);
    let ours = evaluate(&vector.name, &vector.input, FixSet::ALL)?;
    let result = |verdict| VectorResult {
        name: vector.name.clone(),
        verdict,
        ours: ours.clone(),
    };
    if matches(&ours) {
        return Ok(result(Verdict::Pass));
    }
    // Which fixes change our output when turned off on their own?
    let mut responsible = Vec::new();
    for fix in Fix::ALL {
        let without = evaluate(&vector.name, &vector.input, FixSet::ALL.without(fix))?;
        if without.output != ours.output || without.reports != ours.reports {
            responsible.push(fix);
        }
    }
    // Those fixes off must reproduce Python. A fix can be masked by another (F6 drops the
    // relation before F14 would drop its unit): then one more fix off may be needed.
    let mut candidates = vec![responsible.clone()];
    if !responsible.is_empty() {
        for fix in Fix::ALL.into_iter().filter(|f| !responsible.contains(f)) {
            let mut set = responsible.clone();
            set.push(fix);
            set.sort();
            candidates.push(set);
        }
    }
    for set in candidates.into_iter().filter(|s| !s.is_empty()) {
        let reverted = set.iter().fold(FixSet::ALL, |all, fix| all.without(*fix));
        if matches(&evaluate(&vector.name, &vector.input, reverted)?) {
            return Ok(result(Verdict::Fixed(set)));
        }
    }
    let python_model = evaluate(&vector.name, &vector.input, FixSet::NONE)?;
    let mut diff = first_difference("", &vector.output, &ours.output)
        .unwrap_or_else(|| "outputs differ".to_owned());
    if !matches(&python_model) {
        diff.push_str("\n  (with every fix off we do not reproduce the Python output either)");
    }
    Ok(result(Verdict::Fail(diff)))
}

/// Whether `eval` is what the vector expects. An expected Python crash is matched by an error
/// of the same exception type or by a reported problem that Python would have raised it for.
fn matches(expected: &Value, eval: &Evaluation, unordered_units: bool) -> bool {
    for key in ["error", "config_error"] {
        if let Some(want) = expected.get(key) {
            let want_type = want.get("type").and_then(Value::as_str).unwrap_or_default();
            let same_error = eval
                .output
                .get(key)
                .and_then(|e| e.get("type"))
                .and_then(Value::as_str)
                == Some(want_type);
            return same_error || eval.python_exceptions.contains(&want_type);
        }
    }
    let Value::Object(want) = expected else {
        return false;
    };
    want.iter().all(|(key, want_value)| {
        if eval
            .not_compared
            .iter()
            .any(|field| field.starts_with(key.as_str()))
        {
            return true;
        }
        let Some(got) = eval.output.get(key) else {
            return false;
        };
        if unordered_units && key == "jobs" {
            canonical_unit_order(want_value) == canonical_unit_order(got)
        } else {
            pyjson::dumps(&sorted_databags(want_value)) == pyjson::dumps(&sorted_databags(got))
        }
    })
}

/// The value with the keys of every `app_data` / `unit_data` object sorted: a Juju databag is an
/// unordered map, only its values are bytes that must match.
fn sorted_databags(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, item)| {
                    let item = match item {
                        Value::Object(bag) if key == "app_data" || key == "unit_data" => {
                            let sorted: std::collections::BTreeMap<_, _> = bag.iter().collect();
                            serde_json::to_value(sorted).unwrap_or(Value::Null)
                        }
                        other => sorted_databags(other),
                    };
                    (key.clone(), item)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(sorted_databags).collect()),
        other => other.clone(),
    }
}

/// The jobs with each run of per-unit static_configs sorted, for vectors whose unit order the
/// Python library leaves to chance (Q-C1). Unit entries are the ones Python writes labels-first.
fn canonical_unit_order(jobs: &Value) -> String {
    let mut jobs = jobs.clone();
    if let Value::Array(list) = &mut jobs {
        for job in list {
            if let Some(Value::Array(configs)) = job.get_mut("static_configs") {
                let is_unit = |c: &Value| {
                    c.as_object()
                        .and_then(|o| o.keys().next())
                        .is_some_and(|k| k == "labels")
                };
                for run in configs.chunk_by_mut(|a, b| is_unit(a) && is_unit(b)) {
                    run.sort_by_cached_key(pyjson::dumps);
                }
            }
        }
    }
    pyjson::dumps(&jobs)
}

/// The first place two JSON values differ, as `path: expected X, got Y`.
pub fn first_difference(path: &str, expected: &Value, actual: &Value) -> Option<String> {
    match (expected, actual) {
        (Value::Object(a), Value::Object(b)) => {
            let (ka, kb): (Vec<_>, Vec<_>) = (a.keys().collect(), b.keys().collect());
            for (key, va) in a {
                let sub = format!("{path}.{key}");
                match b.get(key) {
                    None => {
                        return Some(format!(
                            "{sub}: expected {}, got nothing",
                            pyjson::dumps(va)
                        ));
                    }
                    Some(vb) => {
                        if let Some(d) = first_difference(&sub, va, vb) {
                            return Some(d);
                        }
                    }
                }
            }
            (ka != kb).then(|| format!("{path}: expected keys {ka:?}, got {kb:?}"))
        }
        (Value::Array(a), Value::Array(b)) => {
            for (i, (va, vb)) in a.iter().zip(b).enumerate() {
                if let Some(d) = first_difference(&format!("{path}[{i}]"), va, vb) {
                    return Some(d);
                }
            }
            (a.len() != b.len())
                .then(|| format!("{path}: expected {} items, got {}", a.len(), b.len()))
        }
        _ => (pyjson::dumps(expected) != pyjson::dumps(actual)).then(|| {
            format!(
                "{}: expected {}, got {}",
                if path.is_empty() { "." } else { path },
                pyjson::dumps(expected),
                pyjson::dumps(actual)
            )
        }),
    }
}

/// Parses a vector file (a JSON list of vectors).
pub fn parse_file(text: &str) -> Result<Vec<Vector>, serde_json::Error> {
    serde_json::from_str(text)
}
