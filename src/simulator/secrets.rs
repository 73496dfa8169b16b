//! Juju secrets in the simulator (juju.md §3, "Secrets"): `secret-add`, `secret-set`,
//! `secret-get`, `secret-info-get`, `secret-grant`, as the hook tools answer them, and the
//! model's store of secrets they commit to.
//!
//! What is modelled: application-owned secrets (the default owner; only the leader adds, sets
//! and grants them), revisions, labels, grants to a relation (every unit of the remote
//! application may then read the secret), a consumer's tracked revision (`secret-get` returns
//! it; `--refresh` moves it to the latest, `--peek` reads the latest without moving it), and
//! the commit rule (a failed hook's secret changes are discarded). Content is passed as
//! `key=value` or `key#file=<path>` (the way to keep a value off argv).

use super::context::HookContext;
use crate::model::Databag;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// A secret in the model.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct SimSecret {
    /// The owning application.
    pub owner: String,
    /// The owner's label, if any.
    pub label: Option<String>,
    /// Content by revision (revision 1 first).
    pub revisions: Vec<Databag>,
    /// Relations the secret is granted to.
    pub grants: BTreeSet<u64>,
    /// Consumer unit → the revision it tracks.
    pub tracked: BTreeMap<String, usize>,
}

/// What a hook sees of one secret, and what it changed (committed on success).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct CtxSecret {
    /// The unit's application owns it.
    pub owned: bool,
    /// The owner's label.
    pub label: Option<String>,
    /// Content by revision.
    pub revisions: Vec<Databag>,
    /// The revision this unit tracks (consumers).
    pub tracked: Option<usize>,
    /// Relations granted, including this hook's grants.
    pub grants: BTreeSet<u64>,
    /// Changed by this hook (added, new revision, granted or tracked).
    pub dirty: bool,
}

/// A hook tool failure: exit code and message.
pub type Failure = (i32, String);

/// `secret:<xid>`.
pub(crate) fn uri(xid: &str) -> String {
    format!("secret:{xid}")
}

/// The `n`-th secret's xid in the model (Juju's are 20 characters too).
pub(crate) fn new_xid(n: u64) -> String {
    format!("sim{n:017}")
}

/// The xid of `secret:<xid>`, `secret://<model>/<xid>` or a bare xid.
pub(crate) fn xid_of(text: &str) -> &str {
    let rest = text.strip_prefix("secret:").unwrap_or(text);
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    rest.rsplit('/').next().unwrap_or(rest)
}

/// The secrets a unit of `app` sees: its application's, and those granted to one of
/// `relations` (ids of relations of `app`).
pub fn visible(
    secrets: &BTreeMap<String, SimSecret>,
    app: &str,
    unit: &str,
    relations: &BTreeSet<u64>,
) -> BTreeMap<String, CtxSecret> {
    secrets
        .iter()
        .filter(|(_, s)| s.owner == app || !s.grants.is_disjoint(relations))
        .map(|(xid, s)| {
            (
                xid.clone(),
                CtxSecret {
                    owned: s.owner == app,
                    label: s.label.clone(),
                    revisions: s.revisions.clone(),
                    tracked: s.tracked.get(unit).copied(),
                    grants: s.grants.clone(),
                    dirty: false,
                },
            )
        })
        .collect()
}

/// Commits a successful hook's secret changes.
pub fn commit(
    secrets: &mut BTreeMap<String, SimSecret>,
    app: &str,
    unit: &str,
    seen: &BTreeMap<String, CtxSecret>,
) {
    for (xid, ctx) in seen.iter().filter(|(_, s)| s.dirty) {
        let secret = secrets.entry(xid.clone()).or_insert_with(|| SimSecret {
            owner: app.to_owned(),
            ..Default::default()
        });
        if ctx.owned {
            secret.label = ctx.label.clone();
            secret.revisions = ctx.revisions.clone();
            secret.grants = ctx.grants.clone();
        }
        if let Some(revision) = ctx.tracked {
            secret.tracked.insert(unit.to_owned(), revision);
        }
    }
}

/// `key=value`, `key#file=<path>` and `key#base64=<b64>` arguments as content.
fn content(args: &[String]) -> Result<Databag, Failure> {
    let mut bag = Databag::new();
    for arg in args {
        let (key, value) = arg
            .split_once('=')
            .ok_or_else(|| (2, format!("expected \"key=value\", got {arg:?}")))?;
        let (key, value) = match key.split_once('#') {
            Some((key, "file")) => (
                key,
                std::fs::read_to_string(value)
                    .map_err(|e| (1, format!("cannot read {value:?}: {e}")))?,
            ),
            Some((_, encoding)) => return Err((2, format!("unsupported encoding {encoding:?}"))),
            None => (key, value.to_owned()),
        };
        bag.insert(key.to_owned(), value);
    }
    if bag.is_empty() {
        return Err((2, "missing secret value".to_owned()));
    }
    Ok(bag)
}

/// Splits `--name value` / `--name=value` options off; returns (options, positional).
fn options(args: &[String], valued: &[&str]) -> (BTreeMap<String, String>, Vec<String>) {
    let mut values = BTreeMap::new();
    let mut positional = Vec::new();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let Some(body) = arg.strip_prefix("--").or_else(|| arg.strip_prefix('-')) else {
            positional.push(arg.clone());
            continue;
        };
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v.to_owned())),
            None => (body, None),
        };
        let name = if name == "r" { "relation" } else { name };
        if valued.contains(&name) {
            let value = inline.or_else(|| rest.next().cloned()).unwrap_or_default();
            values.insert(name.to_owned(), value);
        } else {
            values.insert(name.to_owned(), inline.unwrap_or_else(|| "true".to_owned()));
        }
    }
    (values, positional)
}

fn find<'a>(
    ctx: &'a mut HookContext,
    reference: Option<&str>,
    label: Option<&str>,
) -> Result<(String, &'a mut CtxSecret), Failure> {
    let xid = match (reference, label) {
        (Some(reference), _) => xid_of(reference).to_owned(),
        (None, Some(label)) => ctx
            .secrets
            .iter()
            .find(|(_, s)| s.label.as_deref() == Some(label))
            .map(|(xid, _)| xid.clone())
            .unwrap_or_default(),
        (None, None) => return Err((2, "missing secret URI or label".to_owned())),
    };
    let shown = reference.or(label).unwrap_or_default().to_owned();
    match ctx.secrets.get_mut(&xid) {
        Some(secret) => Ok((xid, secret)),
        None => Err((1, format!("secret {shown:?} not found"))),
    }
}

/// Runs one secret tool.
pub fn run(ctx: &mut HookContext, tool: &str, args: &[String]) -> Result<String, Failure> {
    let leader = ctx.leader;
    let not_leader = || (1, "this unit is not the leader".to_owned());
    match tool {
        "secret-add" => {
            let (opts, positional) =
                options(args, &["label", "description", "expire", "rotate", "owner"]);
            if opts.get("owner").is_some_and(|o| o != "application") {
                return Err((1, "only application-owned secrets are simulated".to_owned()));
            }
            if !leader {
                return Err(not_leader());
            }
            let bag = content(&positional)?;
            if let Some(label) = opts.get("label")
                && ctx
                    .secrets
                    .values()
                    .any(|s| s.owned && s.label.as_deref() == Some(label))
            {
                return Err((1, format!("secret with label {label:?} already exists")));
            }
            ctx.next_secret += 1;
            let xid = new_xid(ctx.next_secret);
            ctx.secrets.insert(
                xid.clone(),
                CtxSecret {
                    owned: true,
                    label: opts.get("label").cloned(),
                    revisions: vec![bag],
                    tracked: None,
                    grants: BTreeSet::new(),
                    dirty: true,
                },
            );
            Ok(format!("{}\n", uri(&xid)))
        }
        "secret-set" => {
            let (opts, positional) = options(args, &["label", "description", "expire", "rotate"]);
            let (reference, values) = positional
                .split_first()
                .ok_or_else(|| (2, "missing secret URI".to_owned()))?;
            if !leader {
                return Err(not_leader());
            }
            let bag = content(values)?;
            let (_, secret) = find(ctx, Some(reference), None)?;
            if !secret.owned {
                return Err((1, "permission denied".to_owned()));
            }
            if secret.revisions.last() != Some(&bag) {
                secret.revisions.push(bag);
            }
            if let Some(label) = opts.get("label") {
                secret.label = Some(label.clone());
            }
            secret.dirty = true;
            Ok(String::new())
        }
        "secret-get" => {
            let (opts, positional) = options(args, &["label", "format"]);
            let (_, secret) = find(
                ctx,
                positional.first().map(String::as_str),
                opts.get("label").map(String::as_str),
            )?;
            let latest = secret.revisions.len();
            let revision = if secret.owned || opts.contains_key("peek") {
                latest
            } else if opts.contains_key("refresh") || secret.tracked.is_none() {
                secret.tracked = Some(latest);
                secret.dirty = true;
                latest
            } else {
                secret.tracked.unwrap_or(latest)
            };
            let bag = secret
                .revisions
                .get(revision.saturating_sub(1))
                .cloned()
                .unwrap_or_default();
            Ok(format!("{}\n", json!(bag)))
        }
        "secret-info-get" => {
            let (opts, positional) = options(args, &["label", "format"]);
            let (xid, secret) = find(
                ctx,
                positional.first().map(String::as_str),
                opts.get("label").map(String::as_str),
            )?;
            if !secret.owned {
                return Err((1, "permission denied".to_owned()));
            }
            let info = json!({xid: {
                "revision": secret.revisions.len(),
                "label": secret.label.clone().map_or(Value::Null, Value::from),
                "owner": "application",
                "rotation": "never",
            }});
            Ok(format!("{info}\n"))
        }
        "secret-grant" => {
            let (opts, positional) = options(args, &["relation", "unit"]);
            let relation = opts
                .get("relation")
                .and_then(|r| r.rsplit(':').next())
                .and_then(|n| n.parse::<u64>().ok())
                .ok_or_else(|| (2, "missing or invalid relation id".to_owned()))?;
            if !ctx.relations.contains_key(&relation) {
                return Err((
                    2,
                    format!("invalid value {relation:?} for option -r: relation not found"),
                ));
            }
            if !leader {
                return Err(not_leader());
            }
            let reference = positional
                .first()
                .ok_or_else(|| (2, "missing secret URI".to_owned()))?
                .clone();
            let (_, secret) = find(ctx, Some(&reference), None)?;
            if !secret.owned {
                return Err((1, "permission denied".to_owned()));
            }
            secret.grants.insert(relation);
            secret.dirty = true;
            Ok(String::new())
        }
        other => Err((1, format!("unknown secret tool {other}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_and_xids() {
        assert_eq!(xid_of("secret:abc"), "abc");
        assert_eq!(xid_of("secret://model-uuid/abc"), "abc");
        assert_eq!(xid_of("abc"), "abc");
    }
}
