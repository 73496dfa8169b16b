//! Benchmark: the consumer rendering 1,000 provider apps with 5 units each (5,000 units), every
//! app publishing one job with two wildcard ports (10,000 targets).
//!
//! Run: `cargo bench --bench consumer`. Prints the median and best of 200 renders, then the
//! median of the whole parca.yaml pipeline (issue 9's P2).
//! Target (issue 3): ≤ 2 ms on a 2-core machine; the Python library takes ~144 ms.

#![allow(clippy::unwrap_used, clippy::expect_used)] // bench code: a panic is a failure report

use parca_broker::fixes::FixSet;
use parca_broker::interfaces::parca_scrape::{render_jobs, render_jobs_with};
use parca_broker::model::RelationSnapshot;
use std::hint::black_box;
use std::time::{Duration, Instant};

const APPS: u64 = 1_000;
const UNITS_PER_APP: u64 = 5;
const RUNS: usize = 200;

/// Fewer runs for profiling under valgrind: `BENCH_RUNS=3`.
fn runs() -> usize {
    std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(RUNS)
}

fn model() -> Vec<RelationSnapshot> {
    parca_broker::bench::provider_relations(APPS, UNITS_PER_APP, false)
}

fn main() {
    let relations = model();
    let check = render_jobs(&relations, FixSet::ALL);
    let targets: usize = check.jobs.iter().map(|j| j.targets().count()).sum();
    assert_eq!(targets as u64, APPS * UNITS_PER_APP * 2);
    assert!(check.rejections.is_empty());

    let runs = runs();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    for (label, workers) in [("all cores", cores), ("one thread", 1)] {
        let mut times: Vec<Duration> = (0..runs)
            .map(|_| {
                let start = Instant::now();
                let output = black_box(render_jobs_with(
                    black_box(&relations),
                    FixSet::ALL,
                    workers,
                ));
                let elapsed = start.elapsed();
                drop(output); // freeing the result is the caller's cost, not rendering's
                elapsed
            })
            .collect();
        times.sort();
        println!(
            "consumer render ({label}, {workers} workers): {APPS} apps, {} units, {targets} targets: median {:.3} ms, best {:.3} ms ({runs} runs)",
            APPS * UNITS_PER_APP,
            times[runs / 2].as_secs_f64() * 1e3,
            times[0].as_secs_f64() * 1e3,
        );
    }
    // Issue 9's P2: the whole pipeline (consumer, unique names, Parca's rules, YAML text).
    let full = parca_broker::bench::render_median(&relations, runs);
    println!(
        "render + validate + serialise: {APPS} apps, {} units: median {:.3} ms ({runs} runs)",
        APPS * UNITS_PER_APP,
        full.as_secs_f64() * 1e3,
    );
}
