//! Sharding the targets among the broker's units by rendezvous (highest-random-weight)
//! hashing: every unit computes the same owner for every target from the same membership,
//! without coordination. Adding a unit moves only the targets it now wins (about 1/N);
//! removing one moves only that unit's targets. Pure.
//!
//! The hash (stable across versions; `tests/shard.rs` pins it with a golden):
//!
//! ```text
//! score(unit, job, target) = fmix64(fnv1a64(unit ‖ 0x00 ‖ job ‖ 0x00 ‖ target))
//! owner(job, target)       = the member with the highest score; ties: the smaller unit name
//! ```
//!
//! FNV-1a 64 (offset 0xcbf29ce484222325, prime 0x100000001b3) over the UTF-8 bytes, then
//! MurmurHash3's 64-bit finaliser, which spreads FNV's weak low bits so that scores of
//! neighbouring unit names are independent. A target is its job name and its `host:port`.

use crate::interfaces::parca_scrape::{ScrapeJob, StaticConfig};

/// FNV-1a, 64 bits.
fn fnv1a64(parts: &[&str]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            // The 0x00 separator: XOR with zero leaves the hash, then the multiply.
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
        for byte in part.bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    hash
}

/// MurmurHash3's fmix64.
fn fmix64(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^= k >> 33;
    k
}

/// A unit's score for a target.
pub fn score(unit: &str, job: &str, target: &str) -> u64 {
    fmix64(fnv1a64(&[unit, job, target]))
}

/// The owner of a target among `members` (`None` only when there are none).
pub fn owner<'m>(members: &'m [String], job: &str, target: &str) -> Option<&'m str> {
    members
        .iter()
        .map(|unit| (score(unit, job, target), unit))
        // Highest score; on a tie (never seen, but total), the smaller name.
        .max_by(|(a, ua), (b, ub)| a.cmp(b).then_with(|| ub.cmp(ua)))
        .map(|(_, unit)| unit.as_str())
}

/// The membership this unit shards over: the peers it sees plus itself, sorted, unique.
pub fn membership(me: &str, peers: &[String]) -> Vec<String> {
    let mut members: Vec<String> = peers.to_vec();
    members.push(me.to_owned());
    members.sort();
    members.dedup();
    members
}

/// The jobs with only the targets `me` owns. Static configs left without a target are dropped;
/// every job keeps its place (perhaps without targets), so every unit's parca.yaml has the
/// same jobs, validated the same way, and differs only in targets (in http-sd mode not at all:
/// each unit's `/sd` serves its own share).
/// A lone unit owns everything: its jobs are borrowed as they are, not copied.
pub fn my_share<'a>(
    jobs: &'a [ScrapeJob],
    members: &[String],
    me: &str,
) -> std::borrow::Cow<'a, [ScrapeJob]> {
    if members.len() <= 1 {
        return std::borrow::Cow::Borrowed(jobs);
    }
    let mine: Vec<ScrapeJob> = jobs
        .iter()
        .map(|job| {
            let mut mine = job.clone();
            mine.static_configs = job
                .static_configs
                .iter()
                .filter_map(|sc| {
                    let targets: std::sync::Arc<[String]> = sc
                        .targets
                        .iter()
                        .filter(|t| owner(members, &job.job_name, t) == Some(me))
                        .cloned()
                        .collect();
                    (!targets.is_empty()).then(|| StaticConfig {
                        targets,
                        ..sc.clone()
                    })
                })
                .collect();
            mine
        })
        .collect();
    std::borrow::Cow::Owned(mine)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_matches_the_reference_values() {
        // FNV-1a 64 test vectors (Fowler/Noll/Vo): "" and "a".
        assert_eq!(fnv1a64(&[""]), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(&["a"]), 0xaf63_dc4c_8601_ec8c);
        // The separator is a zero byte: ("ab","c") and ("a","bc") differ.
        assert_ne!(fnv1a64(&["ab", "c"]), fnv1a64(&["a", "bc"]));
    }

    #[test]
    fn membership_includes_me_once_and_is_sorted() {
        let peers = vec!["b/2".to_owned(), "b/0".to_owned()];
        assert_eq!(membership("b/1", &peers), ["b/0", "b/1", "b/2"]);
        assert_eq!(membership("b/0", &peers), ["b/0", "b/2"]);
        assert_eq!(owner(&[], "j", "t"), None);
    }
}
