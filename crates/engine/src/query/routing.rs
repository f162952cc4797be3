//! Whether a query's filter pins it to one logical partition: an equality
//! on every partition key path (`WHERE c.city = 'x' AND c.zip = @z`). The
//! service serves such a query without a partition key header and without
//! the client's consent to fan out, and refuses any other query sent so.

use cosmonaut_query::{BinaryOp, Expr, Query};

use crate::engine::{require_container, Engine};
use crate::error::Result;
use crate::index::{document_alias, flatten_and, path_of, Segment};
use crate::partition::split_path;

impl Engine {
    /// Whether `query`'s filter names one value for every partition key path
    /// of the container.
    pub fn query_pins_one_partition(&self, db: &str, coll: &str, query: &Query) -> Result<bool> {
        let container = require_container(self.snapshot()?.as_ref(), db, coll)?;
        let definition = container.partition_key()?;
        let Some(alias) = document_alias(query) else {
            return Ok(false);
        };
        let mut conjuncts = Vec::new();
        if let Some(filter) = &query.filter {
            flatten_and(filter, &mut conjuncts);
        }
        for path in &definition.paths {
            let segments = split_path(path)?;
            if !conjuncts.iter().any(|c| pins(c, alias, &segments)) {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// Whether `conjunct` is `<alias>.<segments> = <literal or parameter>`.
fn pins(conjunct: &Expr, alias: &str, segments: &[String]) -> bool {
    let Expr::Binary(BinaryOp::Equal, a, b) = conjunct else {
        return false;
    };
    let constant = |e: &Expr| matches!(e, Expr::Literal(_) | Expr::Parameter(_));
    let is_key_path = |e: &Expr| {
        path_of(e, alias).is_some_and(|path| {
            path.len() == segments.len()
                && path
                    .iter()
                    .zip(segments)
                    .all(|(p, s)| matches!(p, Segment::Property(name) if name == s))
        })
    };
    (is_key_path(a) && constant(b)) || (is_key_path(b) && constant(a))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pinned(text: &str, paths: &[&str]) -> bool {
        let query = cosmonaut_query::parse(text).expect("parses");
        let alias = document_alias(&query).expect("from the documents");
        let mut conjuncts = Vec::new();
        if let Some(filter) = &query.filter {
            flatten_and(filter, &mut conjuncts);
        }
        paths.iter().all(|p| {
            let segments = split_path(p).expect("path");
            conjuncts.iter().any(|c| pins(c, alias, &segments))
        })
    }

    #[test]
    fn equalities_on_every_path_pin_a_partition() {
        let hpk = ["/city", "/zip"];
        assert!(pinned(
            "SELECT * FROM r WHERE r.city = 'a' AND r.zip = @z",
            &hpk
        ));
        assert!(pinned(
            "SELECT * FROM r WHERE 'a' = r.city AND r.x > 1 AND r['zip'] = 1",
            &hpk
        ));
        assert!(!pinned("SELECT * FROM r WHERE r.city = 'a'", &hpk));
        assert!(!pinned(
            "SELECT * FROM r WHERE r.city = 'a' OR r.zip = 1",
            &hpk
        ));
        assert!(!pinned("SELECT * FROM c", &["/pk"]));
        assert!(pinned("SELECT * FROM c WHERE c.a.b = null", &["/a/b"]));
        assert!(!pinned("SELECT * FROM c WHERE c.a = c.b", &["/a"]));
    }
}
