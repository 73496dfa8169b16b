//! Issue 11, secrets: the store's bearer token as a Juju secret. As store provider the broker
//! hands the agents a secret (its URI in `remote-store-bearer-token-secret`, granted to each
//! agent relation) instead of, or beside, the legacy plain key (`store-token-relay`: plain, the
//! default; secret; both). As requirer it reads either. Under the simulator's secret tools
//! (juju.md §3): leader-only writes, grants, revisions, `secret-changed`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

mod common;

use parca_broker::simulator::Model;
use serde_json::{Map, Value, json};

const UNIT: &str = "parca-broker/0";
const TOKEN_KEY: &str = "remote-store-bearer-token";
const SECRET_KEY: &str = "remote-store-bearer-token-secret";

fn model(name: &str, config: Value) -> Model {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    let mut m = common::charm_model(&dir);
    m.deploy_charm("parca-broker", 1, config.as_object().unwrap().clone())
        .unwrap();
    m
}

fn set_config(m: &mut Model, key: &str, value: &str) {
    let mut changes = Map::new();
    changes.insert(key.into(), Value::from(value));
    m.set_config("parca-broker", changes).unwrap();
}

/// No hook tool was given `token` on its command line.
fn assert_not_on_argv(m: &Model, token: &str) {
    for run in m.runs() {
        for call in &run.context.calls {
            assert!(
                !call.iter().any(|a| a.contains(token)),
                "{token} on argv of {call:?} ({} on {})",
                run.hook,
                run.unit
            );
        }
    }
}

#[test]
fn agents_get_the_token_as_a_granted_secret_when_configured() {
    let mut m = model(
        "token-secret-provider",
        json!({"store-token-relay": "secret"}),
    );
    let upstream = common::relate_store(&mut m, "store.example:7070", "tok-1");
    let agents = [
        common::relate_agent(&mut m, "agent-a"),
        common::relate_agent(&mut m, "agent-b"),
    ];
    let bag = m.app_bag(agents[0], "parca-broker");
    assert!(!bag.contains_key(TOKEN_KEY), "{bag:?}");
    let uri = bag[SECRET_KEY].clone();
    assert!(uri.starts_with("secret:"), "{uri}");
    assert_eq!(m.app_bag(agents[1], "parca-broker")[SECRET_KEY], uri);
    let secret = m.secret(&uri).unwrap().clone();
    assert_eq!(secret.owner, "parca-broker");
    assert_eq!(secret.label.as_deref(), Some("parca-broker-store-token"));
    assert_eq!(secret.revisions.len(), 1);
    assert_eq!(secret.revisions[0]["token"], "tok-1");
    assert!(
        agents.iter().all(|id| secret.grants.contains(id)),
        "{secret:?}"
    );
    // The local Parca and agent still read the token from the file.
    assert_eq!(
        m.file(UNIT, "/etc/parca-broker/store-token").as_deref(),
        Some("tok-1")
    );
    assert_eq!(m.status(UNIT).unwrap().status, "active");

    // A new token: a new revision of the same secret; the agents' bags do not change.
    let before = m.runs().len();
    m.set_app_data(
        upstream,
        "store",
        common::store_bag("store.example:7070", "tok-2"),
    )
    .unwrap();
    let secret = m.secret(&uri).unwrap().clone();
    assert_eq!(secret.revisions.len(), 2);
    assert_eq!(secret.revisions[1]["token"], "tok-2");
    assert_eq!(m.app_bag(agents[0], "parca-broker")[SECRET_KEY], uri);
    assert!(
        m.runs()[before..]
            .iter()
            .all(|r| !r.context.calls.iter().any(|c| c[0] == "relation-set")),
        "the URI did not change: no databag write"
    );
    // A third agent is granted the same secret.
    let third = common::relate_agent(&mut m, "agent-c");
    assert_eq!(m.app_bag(third, "parca-broker")[SECRET_KEY], uri);
    assert!(m.secret(&uri).unwrap().grants.contains(&third));
    // Nothing changed: update-status touches no secret.
    let before = m.runs().len();
    m.update_status("parca-broker").unwrap();
    assert!(m.runs()[before..].iter().all(|r| {
        !r.context
            .calls
            .iter()
            .any(|c| c[0] == "secret-set" || c[0] == "secret-add" || c[0] == "secret-grant")
    }));

    // both: the legacy key too (for Python requirers); plain: the secret key goes away.
    set_config(&mut m, "store-token-relay", "both");
    let bag = m.app_bag(agents[0], "parca-broker");
    assert_eq!(
        (bag[TOKEN_KEY].as_str(), bag[SECRET_KEY].as_str()),
        ("tok-2", uri.as_str())
    );
    set_config(&mut m, "store-token-relay", "plain");
    let bag = m.app_bag(agents[0], "parca-broker");
    assert_eq!(bag[TOKEN_KEY], "tok-2");
    assert!(!bag.contains_key(SECRET_KEY), "{bag:?}");
    // The tokens went to secret-add/secret-set through a file, never on a command line.
    assert_not_on_argv(&m, "tok-1");
    assert_not_on_argv(&m, "tok-2");
    for run in m.runs() {
        assert_eq!(run.code, 0, "{} on {}: {}", run.hook, run.unit, run.stderr);
    }
}

#[test]
fn only_the_leader_makes_and_grants_the_secret() {
    let mut m = model(
        "token-secret-leader",
        json!({"store-token-relay": "secret"}),
    );
    common::relate_store(&mut m, "store.example:7070", "tok-1");
    let agent = common::relate_agent(&mut m, "agent");
    let follower = m.add_unit("parca-broker").unwrap();
    let uri = m.app_bag(agent, "parca-broker")[SECRET_KEY].clone();
    for run in m.runs().iter().filter(|r| r.unit == follower) {
        assert_eq!(run.code, 0, "{}: {}", run.hook, run.stderr);
        assert!(
            !run.context
                .calls
                .iter()
                .any(|c| c[0].starts_with("secret-")),
            "{}: {:?}",
            run.hook,
            run.context.calls
        );
    }
    assert_eq!(
        m.file(&follower, "/etc/parca-broker/store-token")
            .as_deref(),
        Some("tok-1")
    );
    // The new leader finds the secret by its label and keeps it.
    m.set_leader(&follower).unwrap();
    assert_eq!(m.app_bag(agent, "parca-broker")[SECRET_KEY], uri);
    assert_eq!(m.secrets_of("parca-broker").len(), 1);
}

#[test]
fn a_store_that_gives_its_token_as_a_secret_is_read_and_followed() {
    let mut m = model("token-secret-requirer", json!({}));
    let upstream = common::relate_store(&mut m, "store.example:7070", "");
    let agent = common::relate_agent(&mut m, "agent");
    let uri = m.add_secret("store", common::bag(&[("token", "sec-1")]));
    m.grant_secret(&uri, upstream).unwrap();
    let mut bag = common::store_bag("store.example:7070", "");
    bag.remove(TOKEN_KEY);
    bag.insert(SECRET_KEY.into(), uri.clone());
    m.set_app_data(upstream, "store", bag.clone()).unwrap();
    assert_eq!(
        m.file(UNIT, "/etc/parca-broker/store-token").as_deref(),
        Some("sec-1")
    );
    assert_eq!(m.app_bag(agent, "parca-broker")[TOKEN_KEY], "sec-1");
    assert_eq!(m.status(UNIT).unwrap().status, "active");

    // The store rotates the token: secret-changed, and the new revision is relayed.
    m.set_secret(&uri, common::bag(&[("token", "sec-2")]))
        .unwrap();
    assert!(
        m.runs()
            .iter()
            .any(|r| r.hook == "secret-changed" && r.unit == UNIT)
    );
    assert_eq!(
        m.file(UNIT, "/etc/parca-broker/store-token").as_deref(),
        Some("sec-2")
    );
    assert_eq!(m.app_bag(agent, "parca-broker")[TOKEN_KEY], "sec-2");

    // A secret we were not granted: reported, nothing relayed or written.
    let hidden = m.add_secret("store", common::bag(&[("token", "sec-3")]));
    bag.insert(SECRET_KEY.into(), hidden.clone());
    m.set_app_data(upstream, "store", bag).unwrap();
    let status = m.status(UNIT).unwrap();
    assert_eq!(status.status, "blocked");
    assert!(
        status.message.contains(&format!(
            "not relayed: remote-store-bearer-token-secret: cannot read secret {hidden}"
        )),
        "{}",
        status.message
    );
    assert_eq!(
        m.file(UNIT, "/etc/parca-broker/store-token").as_deref(),
        Some("sec-2")
    );
    assert_eq!(m.app_bag(agent, "parca-broker")[TOKEN_KEY], "sec-2");
    for run in m.runs() {
        assert_eq!(run.code, 0, "{} on {}: {}", run.hook, run.unit, run.stderr);
    }
}
