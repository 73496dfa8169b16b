//! Our store flags against what the Python charms run (the store-requirer vectors'
//! `parca_k8s_command` and `parca_agent_flags_model`). Same address, mode and TLS choice; two
//! deliberate differences: the token goes through a file (never on argv), and an empty address
//! gives no flags (the agent snap would otherwise fall back to grpc.polarsignals.com, Q-S7).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

use parca_broker::interfaces::parca_store::{StoreConfig, Token};
use parca_broker::render::flags::{agent_flags, parca_scraper_flags};
use serde_json::Value;

const TOKEN_FILE: &str = "/etc/parca-broker/store-token";

#[test]
fn flags_agree_with_the_python_charms_except_for_the_token_file() {
    let vectors: Vec<Value> =
        serde_json::from_str(include_str!("vectors/store_vectors.json")).unwrap();
    let mut compared = 0;
    for vector in vectors
        .iter()
        .filter(|v| v["output"].get("parca_k8s_command").is_some())
    {
        let name = vector["name"].as_str().unwrap();
        let config = &vector["output"]["config"];
        let get = |k: &str| {
            config
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        let store = StoreConfig {
            address: get("remote-store-address"),
            token: Token::new(get("remote-store-bearer-token")),
            insecure: get("remote-store-insecure"),
        };
        let python: Vec<&str> = vector["output"]["parca_k8s_command"]
            .as_str()
            .unwrap()
            .split(' ')
            .collect();
        let ours = parca_scraper_flags(&store, TOKEN_FILE).unwrap();
        let has = |flags: &[&str], f: &str| flags.contains(&f);
        let ours_ref: Vec<&str> = ours.iter().map(String::as_str).collect();
        assert_eq!(
            has(&python, "--mode=scraper-only"),
            has(&ours_ref, "--mode=scraper-only"),
            "{name}"
        );
        if !store.address.is_empty() {
            let address = format!("--store-address={}", store.address);
            assert!(has(&python, &address) && has(&ours_ref, &address), "{name}");
        }
        let python_token = python.iter().any(|f| f.starts_with("--bearer-token="));
        assert_eq!(
            python_token,
            has(&ours_ref, &format!("--bearer-token-file={TOKEN_FILE}")),
            "{name}"
        );
        assert_eq!(
            has(&python, "--insecure=true"),
            has(&ours_ref, "--insecure"),
            "{name}"
        );
        assert!(
            ours.iter()
                .all(|f| !f.contains("s3cr3t") && !f.contains("deadbeef")),
            "{name}: token on argv"
        );

        let agent = agent_flags(&store, TOKEN_FILE).unwrap();
        match vector["output"]["parca_agent_flags_model"].as_array() {
            Some(model) if !store.address.is_empty() => {
                let model: Vec<&str> = model.iter().map(|f| f.as_str().unwrap()).collect();
                assert!(
                    model.contains(&format!("--remote-store-address={}", store.address).as_str()),
                    "{name}"
                );
                assert!(
                    agent.contains(&format!("--remote-store-address={}", store.address)),
                    "{name}"
                );
                assert_eq!(
                    model.contains(&"--remote-store-insecure=true"),
                    agent.contains(&"--remote-store-insecure".to_owned()),
                    "{name}"
                );
                assert_eq!(
                    model
                        .iter()
                        .any(|f| f.starts_with("--remote-store-bearer-token=")),
                    agent.contains(&format!("--remote-store-bearer-token-file={TOKEN_FILE}")),
                    "{name}"
                );
            }
            _ => assert!(agent.is_empty(), "{name}: no address, no flags"),
        }
        compared += 1;
    }
    assert_eq!(
        compared, 10,
        "every store-requirer vector with recorded flags"
    );
}
