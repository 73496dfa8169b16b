//! Alert rules as the provider publishes them (`prometheus_scrape.md` §6): rule files in YAML
//! → `{"groups": [...]}` with topology-prefixed group names, `juju_*` labels and the
//! `%%juju_topology%%` placeholder removed, plus the generic `HostHealth` group. Pure: the
//! files come in as (path, text) pairs.

use crate::interfaces::topology::JujuTopology;
use serde_json::{Map, Value, json};
use std::sync::OnceLock;

/// One rule file, by its path relative to the rules directory (`/`-separated).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleFile {
    /// Path under the rules directory, e.g. `nested/deep.yaml`.
    pub path: String,
    /// Its content.
    pub text: String,
}

/// Why a rule file was skipped (the library only logs these).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedFile {
    /// Path under the rules directory.
    pub path: String,
    /// Why.
    pub reason: String,
}

/// The `cos-tool … transform` step (§6.5): given a rule's `expr` and its `juju_model`,
/// `juju_model_uuid`, `juju_application` label values, the new `expr` (`None`: keep it).
/// The charm passes none, as a provider without cos-tool does.
pub type ExprTransform<'a> = &'a dyn Fn(&str, &[(String, String)]) -> Option<String>;

/// The processed groups and the files that were skipped.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRules {
    /// `{"groups": [...]}`.
    pub document: Value,
    /// Files not used, with the reason.
    pub skipped: Vec<SkippedFile>,
}

const SUFFIXES: [&str; 4] = [".rule", ".rules", ".yml", ".yaml"];

/// Builds the `alert_rules` document from `files` (any order; non-rule suffixes ignored).
pub fn alert_rules(
    files: &[RuleFile],
    topology: &JujuTopology,
    transform: Option<ExprTransform<'_>>,
) -> AlertRules {
    let identifier = topology.identifier();
    let mut files: Vec<&RuleFile> = files
        .iter()
        .filter(|f| {
            let name = f.path.rsplit('/').next().unwrap_or("");
            SUFFIXES.iter().any(|s| last_suffix(name) == Some(&s[1..]))
        })
        .collect();
    // Python's Path ordering: segment by segment, so `a/b.rule` sorts before `a.rule` (Q6).
    files.sort_by(|a, b| a.path.split('/').cmp(b.path.split('/')));
    let mut groups = Vec::new();
    let mut skipped = Vec::new();
    for file in files {
        let (dir, name) = match file.path.rsplit_once('/') {
            Some((dir, name)) => (dir, name),
            None => ("", file.path.as_str()),
        };
        let document = match parse_yaml(&file.text) {
            Ok(Value::Null) => {
                skipped.push(skip(file, "empty"));
                continue;
            }
            Ok(document) => document,
            Err(err) => {
                skipped.push(skip(file, &format!("not YAML: {err}")));
                continue;
            }
        };
        let file_groups: Vec<Value> = match document {
            Value::Object(mut map) if map.contains_key("groups") => {
                match map.shift_remove("groups") {
                    Some(Value::Array(groups)) => groups,
                    _ => {
                        skipped.push(skip(file, "groups is not a list"));
                        continue;
                    }
                }
            }
            Value::Object(map)
                if map.contains_key("expr")
                    && (map.contains_key("alert") || map.contains_key("record")) =>
            {
                let stem = name.rsplit_once('.').map_or(name, |(stem, _)| stem);
                vec![json!({"name": stem, "rules": [Value::Object(map)]})]
            }
            _ => {
                skipped.push(skip(file, "neither `groups` nor a single rule"));
                continue;
            }
        };
        let prefix = if dir.is_empty() {
            identifier.clone()
        } else {
            format!("{identifier}_{dir}")
        };
        for group in file_groups {
            groups.push(process_group(group, &prefix, topology, transform));
        }
    }
    groups.push(process_group(
        host_health(),
        &identifier,
        topology,
        transform,
    ));
    AlertRules {
        document: json!({ "groups": groups }),
        skipped,
    }
}

fn skip(file: &RuleFile, reason: &str) -> SkippedFile {
    SkippedFile {
        path: file.path.clone(),
        reason: reason.to_owned(),
    }
}

/// The part after the last `.` of a file name (Python's `Path.suffix` without the dot).
fn last_suffix(name: &str) -> Option<&str> {
    let (stem, suffix) = name.rsplit_once('.')?;
    (!stem.is_empty()).then_some(suffix)
}

/// PyYAML `safe_load` as far as rule files need it: YAML 1.1 booleans (`yes`, `on`), legacy
/// octal, the last of duplicate keys. (Sexagesimal `1:30` and dates stay strings here; PyYAML
/// would give 90 and crash on the date.)
fn parse_yaml(text: &str) -> Result<Value, String> {
    let options = serde_saphyr::options! {
        duplicate_keys: serde_saphyr::options::DuplicateKeyPolicy::LastWins,
        legacy_octal_numbers: true,
    };
    if text.trim().is_empty() {
        return Ok(Value::Null);
    }
    serde_saphyr::from_str_with_options::<Value>(text, options).map_err(|e| e.to_string())
}

/// §7–8: name the group, then add labels and strip the placeholder in each rule.
fn process_group(
    group: Value,
    prefix: &str,
    topology: &JujuTopology,
    transform: Option<ExprTransform<'_>>,
) -> Value {
    let Value::Object(mut group) = group else {
        return group;
    };
    if let Some(name) = group.get("name") {
        let original = crate::pyjson::py_str(name).unwrap_or_default();
        let named = if already_prefixed(&original) {
            original
        } else {
            let mut named = format!("{prefix}_{original}");
            if !named.ends_with("_rules") {
                named.push_str("_rules");
            }
            named
        };
        group.insert("name".into(), Value::String(sanitize_name(&named)));
    }
    if let Some(Value::Array(rules)) = group.get_mut("rules") {
        for rule in rules.iter_mut() {
            if let Value::Object(rule) = rule {
                process_rule(rule, topology, transform);
            }
        }
    }
    Value::Object(group)
}

fn process_rule(
    rule: &mut Map<String, Value>,
    topology: &JujuTopology,
    transform: Option<ExprTransform<'_>>,
) {
    let labels = rule
        .entry("labels")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(labels) = labels {
        for (key, value) in topology.label_matchers() {
            labels.entry(key).or_insert(value);
        }
    }
    if let Some(Value::String(expr)) = rule.get_mut("expr") {
        *expr = placeholder().replace_all(expr, "").into_owned();
    }
    if let Some(transform) = transform {
        let matchers: Vec<(String, String)> = ["juju_model", "juju_model_uuid", "juju_application"]
            .into_iter()
            .filter_map(|key| {
                let value = rule.get("labels")?.get(key)?;
                Some((key.to_owned(), crate::pyjson::py_str(value)?))
            })
            .collect();
        if let Some(Value::String(expr)) = rule.get_mut("expr")
            && let Some(new) = transform(expr, &matchers)
        {
            *expr = new;
        }
    }
}

fn placeholder() -> &'static regex::Regex {
    static RE: OnceLock<regex::Regex> = OnceLock::new();
    // A constant pattern: compiling it cannot fail.
    #[allow(clippy::expect_used)]
    RE.get_or_init(|| regex::Regex::new("%%juju_topology%%,?").expect("valid regex"))
}

/// A group name that already carries a topology prefix (`…_<8 hex>_…rules`) is kept (Q8).
fn already_prefixed(name: &str) -> bool {
    static RE: OnceLock<regex::Regex> = OnceLock::new();
    #[allow(clippy::expect_used)] // a constant pattern
    RE.get_or_init(|| regex::Regex::new(r"^.*?_[0-9a-f]{8}_.*?rules$").expect("valid regex"))
        .is_match(name)
}

/// Every character outside `[a-zA-Z0-9_:]` becomes `_`.
fn sanitize_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The generic group the library always appends (§6.4), before processing.
fn host_health() -> Value {
    json!({
        "name": "HostHealth",
        "rules": [
            {
                "alert": "HostDown",
                "expr": "up < 1",
                "for": "5m",
                "labels": {"severity": "critical"},
                "annotations": {
                    "summary": "Host '{{ $labels.instance }}' is down.",
                    "description": "Juju application '{{ $labels.juju_application }}' in model '{{ $labels.juju_model }}' is down. Prometheus has been unable to scrape it during at least the past five minutes."
                }
            },
            {
                "alert": "HostMetricsMissing",
                "expr": "absent(up)",
                "for": "5m",
                "labels": {"severity": "warning"},
                "annotations": {
                    "summary": "Unit '{{ $labels.juju_unit }}' of application '{{ $labels.juju_application }}' is down or failing to remote write.",
                    "description": "`Up` missing for unit '{{ $labels.juju_unit }}' of application {{ $labels.juju_application }} in model {{ $labels.juju_model }}. Please ensure the unit or the collector scraping it is up and is able to successfully reach the metrics backend."
                }
            }
        ]
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interfaces::topology::ModelUuid;

    fn topology() -> JujuTopology {
        JujuTopology {
            model: "cos-lab".into(),
            model_uuid: ModelUuid::parse("f8c6b8a2-4d2b-4e6c-9a1f-0123456789ab").unwrap(),
            application: "demo-app".into(),
            unit: "demo-app/0".into(),
            charm_name: "demo-exporter".into(),
        }
    }

    #[test]
    fn group_names_are_prefixed_suffixed_and_sanitised() {
        let files = [RuleFile {
            path: "g.rules".into(),
            text:
                "groups:\n- name: my-group\n  rules: []\n- name: x_deadbeef_y_rules\n  rules: []\n"
                    .into(),
        }];
        let doc = alert_rules(&files, &topology(), None).document;
        let names: Vec<&str> = doc["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "cos_lab_f8c6b8a2_demo_app_my_group_rules",
                "x_deadbeef_y_rules",
                "cos_lab_f8c6b8a2_demo_app_HostHealth_rules"
            ]
        );
    }

    #[test]
    fn placeholder_and_one_comma_are_removed() {
        let files = [RuleFile {
            path: "a.rule".into(),
            text: "alert: A\nexpr: rate(x{%%juju_topology%%,code=\"500\"}[5m])\n".into(),
        }];
        let doc = alert_rules(&files, &topology(), None).document;
        assert_eq!(
            doc["groups"][0]["rules"][0]["expr"],
            json!("rate(x{code=\"500\"}[5m])")
        );
    }
}
