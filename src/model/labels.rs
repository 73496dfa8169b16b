//! Label sets shared between the rendered parca.yaml and the service's state (see [`Labels`]).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// A label set, by name: a map in YAML and JSON, held as one sorted list of shared strings.
/// 5,000 targets carry a handful of distinct label strings many times over: as maps of owned
/// strings they were ~2 MB of the service's idle RSS and tens of thousands of allocations per
/// parca.yaml render (issue 9, P2 and P5). Text read within [`with_shared_label_text`] is
/// shared, and [`Labels::with`] adds a label to a copy without copying any text.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Labels(Vec<(Arc<str>, Arc<str>)>);

impl Labels {
    /// No labels.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// A copy with `name` set to `value` (replaced if present); the text is shared, not copied.
    pub fn with(&self, name: &Arc<str>, value: &Arc<str>) -> Labels {
        let mut pairs = Vec::with_capacity(self.0.len() + 1);
        pairs.extend(self.0.iter().cloned());
        match pairs.binary_search_by(|(k, _)| (**k).cmp(&**name)) {
            Ok(i) => pairs[i].1 = Arc::clone(value),
            Err(i) => pairs.insert(i, (Arc::clone(name), Arc::clone(value))),
        }
        Labels(pairs)
    }

    /// `(name, value)` in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (&**k, &**v))
    }

    /// The value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .binary_search_by(|(k, _)| (**k).cmp(name))
            .ok()
            .map(|i| &*self.0[i].1)
    }

    fn from_pairs(mut pairs: Vec<(Arc<str>, Arc<str>)>) -> Self {
        // Stable sort, then the last of equal names wins: a map's meaning.
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        let mut labels: Vec<(Arc<str>, Arc<str>)> = Vec::with_capacity(pairs.len());
        for pair in pairs {
            match labels.last_mut() {
                Some(last) if last.0 == pair.0 => *last = pair,
                _ => labels.push(pair),
            }
        }
        Labels(labels)
    }
}

impl<K: AsRef<str>, V: AsRef<str>> FromIterator<(K, V)> for Labels {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Labels::from_pairs(
            iter.into_iter()
                .map(|(k, v)| (shared_text(k.as_ref()), shared_text(v.as_ref())))
                .collect(),
        )
    }
}

impl From<BTreeMap<String, String>> for Labels {
    fn from(map: BTreeMap<String, String>) -> Self {
        map.into_iter().collect()
    }
}

impl Serialize for Labels {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

impl<'de> Deserialize<'de> for Labels {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct LabelsVisitor;
        impl<'de> serde::de::Visitor<'de> for LabelsVisitor {
            type Value = Labels;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a map of label names to text")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Labels, A::Error> {
                let mut pairs = Vec::with_capacity(map.size_hint().unwrap_or(0).min(64));
                while let Some((k, v)) =
                    map.next_entry::<std::borrow::Cow<'de, str>, std::borrow::Cow<'de, str>>()?
                {
                    pairs.push((shared_text(&k), shared_text(&v)));
                }
                Ok(Labels::from_pairs(pairs))
            }
        }
        deserializer.deserialize_map(LabelsVisitor)
    }
}

thread_local! {
    /// The label text read so far in [`with_shared_label_text`] on this thread.
    static SHARED_TEXT: std::cell::RefCell<Option<std::collections::HashSet<Arc<str>>>> =
        const { std::cell::RefCell::new(None) };
}

/// `text` as an `Arc<str>`, the same allocation as an equal text read before within
/// [`with_shared_label_text`].
fn shared_text(text: &str) -> Arc<str> {
    SHARED_TEXT.with(|shared| match shared.borrow_mut().as_mut() {
        Some(set) => match set.get(text) {
            Some(existing) => Arc::clone(existing),
            None => {
                let new: Arc<str> = Arc::from(text);
                set.insert(Arc::clone(&new));
                new
            }
        },
        None => Arc::from(text),
    })
}

/// Runs `read` (a state file being parsed) with equal label names and values sharing one
/// allocation. The sharing ends with `read`: nothing is kept for the next file.
pub fn with_shared_label_text<T>(read: impl FnOnce() -> T) -> T {
    /// Ends the sharing even if `read` panics.
    struct EndSharing;
    impl Drop for EndSharing {
        fn drop(&mut self) {
            SHARED_TEXT.with(|shared| *shared.borrow_mut() = None);
        }
    }
    SHARED_TEXT.with(|shared| *shared.borrow_mut() = Some(Default::default()));
    let _end = EndSharing;
    read()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_a_map_in_the_state_file() {
        let map = BTreeMap::from([
            ("juju_unit".to_owned(), "a/0".to_owned()),
            ("juju_application".to_owned(), "a".to_owned()),
        ]);
        let labels = Labels::from(map.clone());
        assert_eq!(
            serde_json::to_string(&labels).unwrap(),
            serde_json::to_string(&map).unwrap()
        );
        let back: Labels = serde_json::from_str(r#"{"b": "1", "a": "2", "b": "3"}"#).unwrap();
        assert_eq!(back.iter().collect::<Vec<_>>(), [("a", "2"), ("b", "3")]);
        assert_eq!(back.get("b"), Some("3"));
        assert_eq!(back.get("c"), None);
    }

    #[test]
    fn label_text_read_in_one_file_is_shared_and_only_there() {
        let text = r#"[{"juju_model": "m"}, {"juju_model": "m"}]"#;
        let shared: Vec<Labels> = with_shared_label_text(|| serde_json::from_str(text)).unwrap();
        assert!(Arc::ptr_eq(&shared[0].0[0].1, &shared[1].0[0].1));
        assert!(Arc::ptr_eq(&shared[0].0[0].0, &shared[1].0[0].0));
        let separate: Vec<Labels> = serde_json::from_str(text).unwrap();
        assert!(!Arc::ptr_eq(&separate[0].0[0].1, &separate[1].0[0].1));
        assert_eq!(shared, separate);
    }

    #[test]
    fn with_sets_or_replaces_one_label_in_order() {
        let labels: Labels = [("b", "1"), ("d", "2")].into_iter().collect();
        let (c, x): (Arc<str>, Arc<str>) = (Arc::from("c"), Arc::from("x"));
        let added = labels.with(&c, &x);
        assert_eq!(
            added.iter().collect::<Vec<_>>(),
            [("b", "1"), ("c", "x"), ("d", "2")]
        );
        let replaced = added.with(&Arc::from("b"), &x);
        assert_eq!(replaced.get("b"), Some("x"));
        assert_eq!(replaced.iter().count(), 3);
        assert!(Arc::ptr_eq(&replaced.0[1].1, &x));
        assert!(!labels.is_empty() && Labels::default().is_empty());
    }
}
