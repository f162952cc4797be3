//! Projections (`{a: 1, "b.c": 1, _id: 0}`, `{a: 0}`, computed fields and
//! `$slice`), as `find` and `$project` apply them.

use bson::{Bson, Document};

use crate::compare::as_f64;
use crate::error::{MongoError, Result};
use crate::expr::eval;

#[derive(Debug, Clone)]
enum Node {
    Keep,
    Drop,
    Computed(Bson),
    Slice(i64, Option<i64>),
    Children(Vec<(String, Node)>),
}

/// A parsed projection.
#[derive(Debug, Clone)]
pub struct Projection {
    inclusive: bool,
    tree: Vec<(String, Node)>,
    keep_id: bool,
}

fn insert(tree: &mut Vec<(String, Node)>, path: &str, node: Node) -> Result<()> {
    let (head, rest) = match path.split_once('.') {
        Some((h, r)) => (h, Some(r)),
        None => (path, None),
    };
    let at = tree.iter().position(|(k, _)| k == head);
    match rest {
        None => match at {
            Some(_) => Err(MongoError::location(format!("Path collision at {path}"))),
            None => {
                tree.push((head.to_string(), node));
                Ok(())
            }
        },
        Some(rest) => {
            let at = match at {
                Some(at) => at,
                None => {
                    tree.push((head.to_string(), Node::Children(Vec::new())));
                    tree.len() - 1
                }
            };
            match &mut tree[at].1 {
                Node::Children(children) => insert(children, rest, node),
                _ => Err(MongoError::location(format!("Path collision at {path}"))),
            }
        }
    }
}

impl Projection {
    pub fn parse(spec: &Document) -> Result<Projection> {
        let mut tree = Vec::new();
        let mut inclusive: Option<bool> = None;
        let mut keep_id = true;
        for (path, value) in spec {
            let node = match value {
                Bson::Boolean(b) => {
                    if *b {
                        Node::Keep
                    } else {
                        Node::Drop
                    }
                }
                v if as_f64(v).is_some() => {
                    if as_f64(v) != Some(0.0) {
                        Node::Keep
                    } else {
                        Node::Drop
                    }
                }
                Bson::Document(d) if d.contains_key("$slice") => match d.get("$slice") {
                    Some(Bson::Array(pair)) if pair.len() == 2 => Node::Slice(
                        as_f64(&pair[0]).unwrap_or(0.0) as i64,
                        Some(as_f64(&pair[1]).unwrap_or(0.0) as i64),
                    ),
                    Some(n) => Node::Slice(
                        as_f64(n).ok_or_else(|| MongoError::bad_value("$slice takes a number"))?
                            as i64,
                        None,
                    ),
                    None => Node::Drop,
                },
                other => Node::Computed(other.clone()),
            };
            if path == "_id" && matches!(node, Node::Drop) {
                keep_id = false;
                continue;
            }
            if path == "_id" && matches!(node, Node::Keep) {
                continue;
            }
            let this = match node {
                Node::Drop => Some(false),
                Node::Keep | Node::Computed(_) => Some(true),
                _ => None,
            };
            if let (Some(a), Some(b)) = (inclusive, this) {
                if a != b {
                    return Err(MongoError {
                        code: 31254,
                        name: "Location31254",
                        message: format!(
                            "Cannot do {} on field {path} in {} projection",
                            if b { "inclusion" } else { "exclusion" },
                            if a { "inclusion" } else { "exclusion" }
                        ),
                    });
                }
            }
            inclusive = inclusive.or(this);
            insert(&mut tree, path, node)?;
        }
        Ok(Projection {
            inclusive: inclusive.unwrap_or(false),
            tree,
            keep_id,
        })
    }

    pub fn apply(&self, document: &Document) -> Result<Document> {
        let mut out = if self.inclusive {
            let mut out = Document::new();
            if self.keep_id {
                if let Some(id) = document.get("_id") {
                    out.insert("_id", id.clone());
                }
            }
            out.extend(include(document, &self.tree, document)?);
            out
        } else {
            exclude(document, &self.tree)?
        };
        if !self.keep_id {
            out.remove("_id");
        }
        Ok(out)
    }
}

fn slice(items: &[Bson], skip: i64, limit: Option<i64>) -> Vec<Bson> {
    let len = items.len() as i64;
    let (start, count) = match limit {
        None if skip >= 0 => (0, skip),
        None => ((len + skip).max(0), -skip),
        Some(n) => {
            let start = if skip < 0 {
                (len + skip).max(0)
            } else {
                skip.min(len)
            };
            (start, n.max(0))
        }
    };
    items
        .iter()
        .skip(start as usize)
        .take(count as usize)
        .cloned()
        .collect()
}

fn include(document: &Document, tree: &[(String, Node)], root: &Document) -> Result<Document> {
    let mut out = Document::new();
    for (key, value) in document {
        let Some((_, node)) = tree.iter().find(|(k, _)| k == key) else {
            continue;
        };
        match (node, value) {
            (Node::Keep, v) => {
                out.insert(key.clone(), v.clone());
            }
            (Node::Slice(s, l), Bson::Array(items)) => {
                out.insert(key.clone(), Bson::Array(slice(items, *s, *l)));
            }
            (Node::Children(children), Bson::Document(d)) => {
                out.insert(key.clone(), include(d, children, root)?);
            }
            (Node::Children(children), Bson::Array(items)) => {
                let mut kept = Vec::new();
                for item in items {
                    if let Bson::Document(d) = item {
                        kept.push(Bson::Document(include(d, children, root)?));
                    }
                }
                out.insert(key.clone(), kept);
            }
            _ => {}
        }
    }
    for (key, node) in tree {
        match node {
            Node::Computed(e) => {
                let value = eval(e, root)?;
                if !matches!(value, Bson::Undefined) {
                    out.insert(key.clone(), value);
                }
            }
            Node::Children(children) if !document.contains_key(key) => {
                let computed = include(&Document::new(), children, root)?;
                if !computed.is_empty() {
                    out.insert(key.clone(), computed);
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

fn exclude(document: &Document, tree: &[(String, Node)]) -> Result<Document> {
    let mut out = Document::new();
    for (key, value) in document {
        match (tree.iter().find(|(k, _)| k == key).map(|(_, n)| n), value) {
            (Some(Node::Drop), _) => {}
            (Some(Node::Slice(s, l)), Bson::Array(items)) => {
                out.insert(key.clone(), Bson::Array(slice(items, *s, *l)));
            }
            (Some(Node::Children(children)), Bson::Document(d)) => {
                out.insert(key.clone(), exclude(d, children)?);
            }
            (Some(Node::Children(children)), Bson::Array(items)) => {
                let mut kept = Vec::new();
                for item in items {
                    kept.push(match item {
                        Bson::Document(d) => Bson::Document(exclude(d, children)?),
                        other => other.clone(),
                    });
                }
                out.insert(key.clone(), kept);
            }
            _ => {
                out.insert(key.clone(), value.clone());
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    fn project(spec: Document, d: Document) -> Document {
        Projection::parse(&spec).unwrap().apply(&d).unwrap()
    }

    #[test]
    fn inclusion_exclusion_and_computed_fields() {
        let d = doc! {"_id": 1, "a": {"b": 1, "c": 2}, "l": [1, 2, 3], "x": "y"};
        assert_eq!(
            project(doc! {"a.b": 1}, d.clone()),
            doc! {"_id": 1, "a": {"b": 1}}
        );
        assert_eq!(
            project(doc! {"x": 0, "a.c": 0, "_id": 0}, d.clone()),
            doc! {"a": {"b": 1}, "l": [1, 2, 3]}
        );
        assert_eq!(
            project(doc! {"l": {"$slice": -2}, "_id": 0, "x": 1}, d.clone()),
            doc! {"l": [2, 3], "x": "y"}
        );
        assert_eq!(
            project(doc! {"_id": 0, "n": {"$add": ["$a.b", 1]}}, d.clone()),
            doc! {"n": 2}
        );
        assert!(Projection::parse(&doc! {"a": 1, "x": 0}).is_err());
    }
}
