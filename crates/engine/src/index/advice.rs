//! Index advice for index metrics: the indexes a query would have used had
//! the container's policy held them, as the service's "potential indexes".
//! - a filter on a path the policy leaves out wants that path's range index;
//! - an equality filter with a range filter or an `ORDER BY` on another path
//!   wants a composite index: the equality paths first, then the other one,
//!   unless the policy already has a composite index that starts so.

use cosmonaut_query::{Parameters, Query};

use super::lookup::{document_alias, flatten_and, lookup_for, path_of};
use super::{policy_path, IndexPolicy, Segment, ValueRange};
use crate::query::IndexUse;

pub fn potential_indexes(
    query: &Query,
    parameters: &Parameters,
    policy: &IndexPolicy,
) -> Vec<IndexUse> {
    let Some(alias) = document_alias(query) else {
        return Vec::new();
    };
    let mut conjuncts = Vec::new();
    if let Some(filter) = &query.filter {
        flatten_and(filter, &mut conjuncts);
    }
    let lookups: Vec<_> = conjuncts
        .into_iter()
        .filter_map(|c| lookup_for(c, alias, parameters))
        .collect();
    let mut potential = Vec::new();
    for lookup in &lookups {
        let single = IndexUse::Single(policy_path(&lookup.path));
        if !policy.includes(&lookup.path) && !potential.contains(&single) {
            potential.push(single);
        }
    }
    let is_point = |ranges: &[ValueRange]| ranges.iter().all(|r| matches!(r, ValueRange::Equal(_)));
    let mut equal: Vec<&[Segment]> = Vec::new();
    for lookup in lookups.iter().filter(|l| is_point(&l.ranges)) {
        if !equal.contains(&lookup.path.as_slice()) {
            equal.push(&lookup.path);
        }
    }
    // The path after the equalities: the first range filter on another
    // path, else the first ORDER BY key, with its direction.
    let ranged = lookups
        .iter()
        .find(|l| !is_point(&l.ranges) && !equal.contains(&l.path.as_slice()))
        .map(|l| (l.path.clone(), false));
    let ordered = || {
        let key = query.order_by.first()?;
        let path = path_of(&key.expr, alias).filter(|p| !p.is_empty())?;
        (!equal.contains(&path.as_slice())).then_some((path, key.descending))
    };
    if let (false, Some((last, descending))) = (equal.is_empty(), ranged.or_else(ordered)) {
        let mut wanted: Vec<(&[Segment], bool)> = equal.iter().map(|p| (*p, false)).collect();
        wanted.push((&last, descending));
        let served = policy.composites().iter().any(|index| {
            index.paths.len() >= wanted.len()
                && index
                    .paths
                    .iter()
                    .zip(&wanted)
                    .all(|((path, _), (want, _))| path.as_slice() == *want)
        });
        if !served {
            potential.push(IndexUse::Composite(
                wanted
                    .iter()
                    .map(|(path, descending)| {
                        let text = policy_path(path);
                        let text = text.strip_suffix("/?").unwrap_or(&text).to_string();
                        format!("{text} {}", if *descending { "DESC" } else { "ASC" })
                    })
                    .collect(),
            ));
        }
    }
    potential
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn advise(sql: &str, container: serde_json::Value) -> Vec<IndexUse> {
        let query = cosmonaut_query::parse(sql).expect("parse");
        potential_indexes(
            &query,
            &Parameters::default(),
            &IndexPolicy::from_container(&container),
        )
    }

    #[test]
    fn equality_then_range_wants_a_composite_index() {
        let wanted = advise(
            r#"SELECT * FROM c WHERE c.id = "1" AND c.name > "Abc""#,
            json!({}),
        );
        assert_eq!(
            wanted,
            vec![IndexUse::Composite(vec![
                "/id ASC".into(),
                "/name ASC".into()
            ])]
        );
        assert!(advise(r#"SELECT * FROM c WHERE c.a = 1 AND c.b = 2"#, json!({})).is_empty());
        assert!(advise(r#"SELECT * FROM c WHERE c.a > 1 AND c.b > 2"#, json!({})).is_empty());
        assert_eq!(
            advise("SELECT * FROM c WHERE c.a = 1 ORDER BY c.b DESC", json!({})),
            vec![IndexUse::Composite(vec!["/a ASC".into(), "/b DESC".into()])]
        );
    }

    #[test]
    fn a_composite_index_that_starts_so_serves() {
        let container = json!({"indexingPolicy": {"compositeIndexes": [[
            {"path": "/a", "order": "ascending"}, {"path": "/b", "order": "ascending"}
        ]]}});
        assert!(advise("SELECT * FROM c WHERE c.a = 1 AND c.b > 2", container).is_empty());
    }

    #[test]
    fn a_filter_on_an_excluded_path_wants_its_index() {
        let container = json!({"indexingPolicy": {
            "includedPaths": [{"path": "/*"}], "excludedPaths": [{"path": "/secret/?"}]
        }});
        assert_eq!(
            advise("SELECT * FROM c WHERE c.secret = 1", container),
            vec![IndexUse::Single("/secret/?".into())]
        );
    }
}
