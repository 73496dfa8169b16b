//! Sharding across broker units (rendezvous hashing, `reconcile::plan::shard`): the hash is
//! pinned by a golden, ownership is a partition whatever the order, scale events move about
//! 1/N of the targets, and under the simulator every target ends up owned by exactly one unit
//! as units come and go.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

mod common;

use parca_broker::reconcile::plan::shard::{membership, owner, score};
use parca_broker::simulator::Model;
use proptest::prelude::*;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};

fn units(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("parca-broker/{i}")).collect()
}

/// The hash is part of the contract between versions (a rolling upgrade must not reshuffle):
/// these values never change.
#[test]
fn the_hash_is_stable_across_versions() {
    let members = units(3);
    let owners: String = (1..=16)
        .map(|i| {
            let target = format!("10.0.0.{i}:6060");
            format!(
                "{target} {:016x} {}\n",
                score("parca-broker/0", "cos_8d5d1f3b_zinc", &target),
                owner(&members, "cos_8d5d1f3b_zinc", &target).unwrap()
            )
        })
        .collect();
    insta::assert_snapshot!("rendezvous_owners", owners);
}

fn target_set() -> impl Strategy<Value = Vec<(String, String)>> {
    proptest::collection::btree_set(("[a-c]{1,2}", 0u32..100_000), 1000..1300).prop_map(|set| {
        set.into_iter()
            .map(|(job, n)| {
                (
                    job,
                    format!("10.{}.{}.{}:6060", n >> 16, (n >> 8) & 255, n & 255),
                )
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn ownership_is_a_partition_independent_of_order(
        n in 1usize..9,
        targets in target_set(),
        rotate in 0usize..9,
    ) {
        let members = units(n);
        let mut shuffled = members.clone();
        shuffled.rotate_left(rotate % n);
        shuffled.reverse();
        for (job, target) in &targets {
            let a = owner(&members, job, target).unwrap();
            prop_assert!(members.iter().any(|m| m == a));
            prop_assert_eq!(a, owner(&shuffled, job, target).unwrap());
        }
    }

    #[test]
    fn adding_a_unit_moves_about_one_in_n_and_only_to_it(
        n in 1usize..8,
        targets in target_set(),
    ) {
        let before = units(n);
        let after = units(n + 1);
        let new = &after[n];
        let moved: Vec<_> = targets
            .iter()
            .filter(|(job, t)| owner(&before, job, t) != owner(&after, job, t))
            .collect();
        for (job, t) in &moved {
            prop_assert_eq!(owner(&after, job, t).unwrap(), new.as_str());
        }
        let fraction = moved.len() as f64 / targets.len() as f64;
        // 1/(n+1) expected; ε = 0.06 covers the binomial spread at 1,000 targets (> 4σ).
        prop_assert!(fraction <= 1.0 / (n as f64 + 1.0) + 0.06, "{fraction} moved at n={n}");
    }

    #[test]
    fn removing_a_unit_moves_only_its_targets(
        n in 2usize..9,
        gone in 0usize..9,
        targets in target_set(),
    ) {
        let before = units(n);
        let gone = &before[gone % n];
        let after: Vec<String> = before.iter().filter(|u| *u != gone).cloned().collect();
        for (job, t) in &targets {
            let was = owner(&before, job, t).unwrap();
            if was != gone.as_str() {
                prop_assert_eq!(owner(&after, job, t).unwrap(), was);
            }
        }
    }
}

#[test]
fn membership_is_sorted_and_includes_this_unit() {
    let peers = ["parca-broker/4".to_owned(), "parca-broker/1".to_owned()];
    assert_eq!(
        membership("parca-broker/2", &peers),
        ["parca-broker/1", "parca-broker/2", "parca-broker/4"]
    );
}

/// (job, target) → the broker units whose parca.yaml lists it.
fn rendered_owners(m: &Model) -> BTreeMap<(String, String), Vec<String>> {
    let mut owners: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for unit in m.units("parca-broker") {
        let yaml = m.file(&unit, "/etc/parca/parca.yaml").unwrap();
        let config: Value = serde_saphyr::from_str(&yaml).unwrap();
        for job in config["scrape_configs"].as_array().unwrap() {
            let name = job["job_name"].as_str().unwrap().to_owned();
            for sc in job["static_configs"].as_array().into_iter().flatten() {
                for target in sc["targets"].as_array().unwrap() {
                    owners
                        .entry((name.clone(), target.as_str().unwrap().to_owned()))
                        .or_default()
                        .push(unit.clone());
                }
            }
        }
    }
    owners
}

/// Every target in exactly one unit's parca.yaml; returns target → owner.
fn assert_partition(
    m: &Model,
    all: &BTreeSet<(String, String)>,
) -> BTreeMap<(String, String), String> {
    let owners = rendered_owners(m);
    let listed: BTreeSet<_> = owners.keys().cloned().collect();
    assert_eq!(
        &listed, all,
        "the union of the units' configs is the single-unit config"
    );
    owners
        .into_iter()
        .map(|(target, units)| {
            assert_eq!(units.len(), 1, "{target:?} scraped by {units:?}");
            (target, units[0].clone())
        })
        .collect()
}

fn moved(a: &BTreeMap<(String, String), String>, b: &BTreeMap<(String, String), String>) -> usize {
    a.iter()
        .filter(|(t, owner)| b.get(*t) != Some(owner))
        .count()
}

#[test]
fn scale_out_and_in_keeps_a_partition_and_moves_little() {
    let dir = std::env::temp_dir().join(format!("parca-broker-shard-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut m = common::charm_model(&dir);
    m.in_process(true);
    m.deploy_charm("parca-broker", 1, Map::new()).unwrap();
    let targets = 120u32;
    m.add_remote_app("fleet", targets).unwrap();
    let id = m
        .relate(
            "parca-broker",
            "profiling-endpoint",
            "fleet",
            "profiling-endpoint",
        )
        .unwrap();
    m.set_app_data(
        id,
        "fleet",
        common::provider_app_bag(
            "fleet",
            &json!([{"static_configs": [{"targets": ["*:6060"]}]}]),
        ),
    )
    .unwrap();
    for n in 0..targets {
        let unit = format!("fleet/{n}");
        let address = format!("10.9.{}.{}", n / 250, n % 250 + 1);
        m.set_unit_data(
            id,
            &unit,
            common::bag(&[
                ("parca_scrape_unit_address", &address),
                ("parca_scrape_unit_name", &unit),
            ]),
        )
        .unwrap();
    }
    let single: BTreeSet<_> = rendered_owners(&m).into_keys().collect();
    assert_eq!(single.len(), targets as usize);
    let mut owners = assert_partition(&m, &single);
    let mut report = Vec::new();
    let mut step = |m: &mut Model, what: &str, before: usize, after: usize| {
        let now = assert_partition(m, &single);
        let moved = moved(&owners, &now);
        // Rendezvous: N → M units moves |M − N| / max(M, N) of the targets, in expectation.
        let expected = (after as f64 - before as f64).abs() / after.max(before) as f64;
        report.push(format!(
            "{what}: {before} → {after} units, {moved} of {targets} targets moved (expected ≈ {:.0})",
            expected * f64::from(targets)
        ));
        assert!(
            moved as f64 <= expected * f64::from(targets) * 1.5 + 4.0,
            "{what}: {moved} moved"
        );
        let statuses: Vec<String> = m
            .units("parca-broker")
            .iter()
            .map(|u| m.status(u).unwrap().message.clone())
            .collect();
        for status in &statuses {
            if after > 1 {
                assert!(
                    status.contains(&format!("targets, {after} units")),
                    "{status}"
                );
            }
        }
        owners = now;
    };

    m.add_unit("parca-broker").unwrap();
    m.add_unit("parca-broker").unwrap();
    step(&mut m, "add-unit ×2", 1, 3);
    m.add_unit("parca-broker").unwrap();
    m.add_unit("parca-broker").unwrap();
    step(&mut m, "add-unit ×2", 3, 5);
    // The leader goes first: a new leader is elected mid-way.
    assert!(m.is_leader("parca-broker/0"));
    m.remove_unit("parca-broker/0").unwrap();
    assert!(
        !m.units("parca-broker")
            .contains(&"parca-broker/0".to_owned())
    );
    step(&mut m, "remove-unit leader", 5, 4);

    // A unit whose hooks lag (they fail and wait for Juju's retry): until it catches up the
    // units' views differ; after the retry the partition holds again.
    m.inject_fault("parca-broker/1", "relation-list", 1, "agent lost");
    m.remove_unit("parca-broker/4").unwrap();
    m.remove_unit("parca-broker/3").unwrap();
    let lagging = rendered_owners(&m);
    let doubled = lagging.values().filter(|u| u.len() > 1).count();
    let orphaned = single.len() - lagging.len();
    let lag =
        format!("while parca-broker/1 lags: {doubled} targets scraped twice, {orphaned} by nobody");
    m.clear_faults();
    m.retry_failed().unwrap();
    step(&mut m, "remove-unit ×2 (one lagging)", 4, 2);
    eprintln!("{}\n{lag}", report.join("\n"));
    let state: Value = serde_json::from_str(
        &m.file("parca-broker/1", "/var/lib/parca-broker/state.json")
            .unwrap(),
    )
    .unwrap();
    let counts: usize = state["shard"]["units"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["targets"].as_u64().unwrap() as usize)
        .sum();
    assert_eq!(counts, targets as usize, "{state}");
    drop(m);
    let _ = std::fs::remove_dir_all(&dir);
}
