//! A container's `indexingPolicy`: which paths are indexed.
//!
//! Paths are patterns like `/*` (everything), `/a/?` (the scalar at `a`),
//! `/a/*` (everything under `a`) and `/tags/[]/?` (array elements). A path
//! is indexed when the most specific matching included pattern is more
//! specific than every matching excluded one; on a tie, exclusion wins.
//!
//! `compositeIndexes` lists tuples of paths with a direction each; the
//! service needs one for every `ORDER BY` over several properties.

use cosmonaut_query::ComputedProperty;
use serde_json::Value;

use super::Segment;
use crate::ttl::Ttl;

#[derive(Debug, Clone)]
pub struct IndexPolicy {
    enabled: bool,
    included: Vec<Pattern>,
    excluded: Vec<Pattern>,
    composites: Vec<CompositeIndex>,
    /// When items expire: their expiry times are kept as an index too.
    pub ttl: Ttl,
    /// `uniqueKeyPolicy`: path tuples unique within a logical partition.
    pub unique_keys: Vec<Vec<Vec<Segment>>>,
    /// Names of the container's computed properties: indexed only where an
    /// included path names them explicitly, never by a wildcard.
    computed_names: Vec<String>,
    /// The computed properties that are indexed.
    pub computed: Vec<ComputedProperty>,
}

/// The container's unique keys, each a list of property paths.
fn unique_keys(body: &Value) -> Vec<Vec<Vec<Segment>>> {
    let Some(keys) = body
        .pointer("/uniqueKeyPolicy/uniqueKeys")
        .and_then(Value::as_array)
    else {
        return Vec::new();
    };
    keys.iter()
        .filter_map(|k| k.get("paths")?.as_array())
        .map(|paths| {
            paths
                .iter()
                .filter_map(Value::as_str)
                .filter_map(|p| Pattern::parse(&format!("{p}/?")))
                .map(|p| {
                    p.prefix
                        .into_iter()
                        .map(|s| Segment::Property(s.unwrap_or_default()))
                        .collect()
                })
                .collect()
        })
        .filter(|paths: &Vec<Vec<Segment>>| !paths.is_empty())
        .collect()
}

/// One composite index: paths, each ascending (`false`) or descending (`true`).
#[derive(Debug, Clone, PartialEq)]
pub struct CompositeIndex {
    pub paths: Vec<(Vec<Segment>, bool)>,
}

impl CompositeIndex {
    fn parse(list: &Value) -> Option<Self> {
        let paths = list
            .as_array()?
            .iter()
            .map(|p| {
                let path = Pattern::parse(&format!("{}/?", p.get("path")?.as_str()?))?;
                let descending = p
                    .get("order")
                    .and_then(Value::as_str)
                    .is_some_and(|o| o.eq_ignore_ascii_case("descending"));
                let segments = path
                    .prefix
                    .into_iter()
                    .map(|s| s.map(Segment::Property))
                    .collect::<Option<Vec<_>>>()?;
                Some((segments, descending))
            })
            .collect::<Option<Vec<_>>>()?;
        (paths.len() >= 2).then_some(Self { paths })
    }

    /// A stable name for the index's keys: its paths and directions.
    pub fn name(&self) -> String {
        self.paths
            .iter()
            .map(|(path, descending)| {
                let text = super::policy_path(path);
                format!("{} {}", text, if *descending { "desc" } else { "asc" })
            })
            .collect::<Vec<_>>()
            .join(",")
    }
}

#[derive(Debug, Clone)]
struct Pattern {
    /// `None` is `[]`, any array element.
    prefix: Vec<Option<String>>,
    /// `/?`: only the scalar exactly at `prefix`; `/*`: anything below too.
    exact: bool,
}

impl Pattern {
    fn parse(text: &str) -> Option<Self> {
        // The legacy path `/` is the root, everything below it included.
        let text = if text == "/" { "/*" } else { text };
        let mut segments: Vec<&str> = text.trim_start_matches('/').split('/').collect();
        let last = segments.pop()?;
        let exact = match last {
            "?" => true,
            "*" => false,
            _ => return None,
        };
        let prefix = segments
            .into_iter()
            .map(|s| match s {
                "[]" => None,
                quoted if quoted.len() >= 2 && quoted.starts_with('"') && quoted.ends_with('"') => {
                    Some(quoted[1..quoted.len() - 1].to_string())
                }
                name => Some(name.to_string()),
            })
            .collect();
        Some(Self { prefix, exact })
    }

    /// How specifically this pattern matches `path`, if it does.
    fn specificity(&self, path: &[Segment]) -> Option<usize> {
        if path.len() < self.prefix.len() || (self.exact && path.len() != self.prefix.len()) {
            return None;
        }
        let matches = self.prefix.iter().zip(path).all(|(p, s)| match (p, s) {
            (None, Segment::Element) => true,
            (Some(name), Segment::Property(actual)) => name == actual,
            _ => false,
        });
        matches.then_some(self.prefix.len() * 2 + usize::from(self.exact))
    }
}

fn patterns(policy: &Value, key: &str) -> Vec<Pattern> {
    policy
        .get(key)
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|p| p.get("path").and_then(Value::as_str))
                .filter_map(Pattern::parse)
                .collect()
        })
        .unwrap_or_default()
}

impl IndexPolicy {
    /// Reads a container's `indexingPolicy` (absent: index everything) and
    /// which of its computed properties it indexes.
    pub fn from_container(body: &Value) -> Self {
        let mut policy = Self::paths_of(body);
        let computed = crate::containers::computed_properties(body).unwrap_or_default();
        policy.computed_names = computed.iter().map(|c| c.name.clone()).collect();
        policy.computed = computed
            .into_iter()
            .filter(|c| policy.includes(&[Segment::Property(c.name.clone())]))
            .collect();
        policy
    }

    fn paths_of(body: &Value) -> Self {
        let Some(policy) = body.get("indexingPolicy").filter(|p| p.is_object()) else {
            return Self {
                computed_names: Vec::new(),
                computed: Vec::new(),
                enabled: true,
                included: vec![Pattern {
                    prefix: Vec::new(),
                    exact: false,
                }],
                excluded: Vec::new(),
                composites: Vec::new(),
                ttl: Ttl::from_container(body),
                unique_keys: unique_keys(body),
            };
        };
        let mode = policy
            .get("indexingMode")
            .and_then(Value::as_str)
            .unwrap_or("consistent");
        let automatic = policy
            .get("automatic")
            .and_then(Value::as_bool)
            .unwrap_or(true);
        let mut included = patterns(policy, "includedPaths");
        if included.is_empty() && policy.get("includedPaths").is_none() {
            included.push(Pattern {
                prefix: Vec::new(),
                exact: false,
            });
        }
        Self {
            enabled: automatic && !mode.eq_ignore_ascii_case("none"),
            included,
            excluded: patterns(policy, "excludedPaths"),
            composites: policy
                .get("compositeIndexes")
                .and_then(Value::as_array)
                .map(|all| all.iter().filter_map(CompositeIndex::parse).collect())
                .unwrap_or_default(),
            ttl: Ttl::from_container(body),
            unique_keys: unique_keys(body),
            computed_names: Vec::new(),
            computed: Vec::new(),
        }
    }

    pub fn composites(&self) -> &[CompositeIndex] {
        &self.composites
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }

    pub fn includes(&self, path: &[Segment]) -> bool {
        let computed = matches!(path.first(), Some(Segment::Property(name)) if self.computed_names.contains(name));
        // A computed property counts as included only by a path that names it.
        let explicit = |p: &&Pattern| !computed || p.prefix.first().is_some_and(Option::is_some);
        let best = |list: &[Pattern]| {
            list.iter()
                .filter(explicit)
                .filter_map(|p| p.specificity(path))
                .max()
        };
        match (best(&self.included), best(&self.excluded)) {
            (Some(inc), Some(exc)) => inc > exc,
            (Some(_), None) => true,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn path(p: &[&str]) -> Vec<Segment> {
        p.iter()
            .map(|s| {
                if *s == "[]" {
                    Segment::Element
                } else {
                    Segment::Property(s.to_string())
                }
            })
            .collect()
    }

    #[test]
    fn include_and_exclude() {
        let default = IndexPolicy::from_container(&json!({}));
        assert!(default.includes(&path(&["a", "b"])));
        let p = IndexPolicy::from_container(&json!({"indexingPolicy": {
            "indexingMode": "consistent",
            "includedPaths": [{"path": "/*"}, {"path": "/secret/public/?"}],
            "excludedPaths": [{"path": "/secret/*"}, {"path": "/\"_etag\"/?"}, {"path": "/tags/[]/?"}]
        }}));
        assert!(p.includes(&path(&["name"])));
        assert!(!p.includes(&path(&["secret", "x"])));
        assert!(p.includes(&path(&["secret", "public"])));
        assert!(!p.includes(&path(&["_etag"])));
        assert!(!p.includes(&path(&["tags", "[]"])));
        assert!(p.includes(&path(&["tags", "[]", "name"])));
        let none = IndexPolicy::from_container(
            &json!({"indexingPolicy": {"indexingMode": "none", "automatic": false}}),
        );
        assert!(!none.enabled());
    }

    #[test]
    fn composite_indexes() {
        let p = IndexPolicy::from_container(&json!({"indexingPolicy": {
            "compositeIndexes": [
                [{"path": "/a", "order": "ascending"}, {"path": "/b/c", "order": "descending"}],
                [{"path": "/x"}],
                [{"path": "/x"}, {"path": "/tags/[]"}]
            ]
        }}));
        assert_eq!(
            p.composites().len(),
            1,
            "single paths and array paths are not composites"
        );
        let c = &p.composites()[0];
        assert_eq!(c.paths[0], (path(&["a"]), false));
        assert_eq!(c.paths[1], (path(&["b", "c"]), true));
        assert_eq!(c.name(), "/a/? asc,/b/c/? desc");
    }
}
