//! Dotted paths (`a.b.0.c`) into documents, as MongoDB resolves them: a
//! field name applied to an array reaches into each of its documents, a
//! number names an element.

use bson::{Bson, Document};

/// The values a path reaches in `document` (none when it is missing).
/// Arrays at the end of the path are returned as arrays; matchers look into
/// them themselves.
pub fn lookup<'a>(document: &'a Document, path: &str) -> Vec<&'a Bson> {
    let parts: Vec<&str> = path.split('.').collect();
    let mut found = Vec::new();
    if let Some(first) = document.get(parts[0]) {
        descend(first, &parts[1..], &mut found);
    }
    found
}

fn descend<'a>(value: &'a Bson, rest: &[&str], found: &mut Vec<&'a Bson>) {
    let Some((part, tail)) = rest.split_first() else {
        found.push(value);
        return;
    };
    match value {
        Bson::Document(d) => {
            if let Some(next) = d.get(*part) {
                descend(next, tail, found);
            }
        }
        Bson::Array(items) => {
            if let Some(element) = part.parse::<usize>().ok().and_then(|i| items.get(i)) {
                descend(element, tail, found);
            }
            for item in items {
                if let Bson::Document(d) = item {
                    if let Some(next) = d.get(*part) {
                        descend(next, tail, found);
                    }
                }
            }
        }
        _ => {}
    }
}

/// The one value at a path without reaching into arrays by field name (what
/// update operators and projections address); `None` when missing.
pub fn get<'a>(document: &'a Document, path: &str) -> Option<&'a Bson> {
    let mut parts = path.split('.');
    let mut current = document.get(parts.next()?)?;
    for part in parts {
        current = match current {
            Bson::Document(d) => d.get(part)?,
            Bson::Array(items) => items.get(part.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(current)
}

/// The value for an aggregation field path (`$a.b`): through arrays it
/// gathers the values of every element into an array, as `$a.b` does.
pub fn expression_value(document: &Document, path: &str) -> Bson {
    let mut parts = path.split('.');
    let Some(first) = parts.next().and_then(|p| document.get(p)) else {
        return Bson::Null;
    };
    let rest: Vec<&str> = parts.collect();
    gather(first, &rest).unwrap_or(Bson::Null)
}

fn gather(value: &Bson, rest: &[&str]) -> Option<Bson> {
    let Some((part, tail)) = rest.split_first() else {
        return Some(value.clone());
    };
    match value {
        Bson::Document(d) => gather(d.get(*part)?, tail),
        Bson::Array(items) => Some(Bson::Array(
            items.iter().filter_map(|i| gather(i, rest)).collect(),
        )),
        _ => None,
    }
}

/// The sort key of a path: for arrays, the smallest element ascending and
/// the largest descending; missing sorts as null.
pub fn sort_key(document: &Document, path: &str, descending: bool) -> Bson {
    let mut candidates: Vec<&Bson> = Vec::new();
    for value in lookup(document, path) {
        match value {
            Bson::Array(items) if !items.is_empty() => candidates.extend(items.iter()),
            other => candidates.push(other),
        }
    }
    let pick = if descending {
        candidates
            .into_iter()
            .max_by(|a, b| crate::compare::compare(a, b))
    } else {
        candidates
            .into_iter()
            .min_by(|a, b| crate::compare::compare(a, b))
    };
    pick.cloned().unwrap_or(Bson::Null)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    #[test]
    fn a_field_name_reaches_into_arrays_of_documents() {
        let d = doc! {"a": [{"b": 1}, {"b": [2, 3]}, 4], "c": {"d": 5}};
        assert_eq!(lookup(&d, "a.b").len(), 2);
        assert_eq!(lookup(&d, "a.2"), vec![&Bson::Int32(4)]);
        assert_eq!(lookup(&d, "c.d"), vec![&Bson::Int32(5)]);
        assert!(lookup(&d, "x.y").is_empty());
        assert_eq!(get(&d, "a.1.b.0"), Some(&Bson::Int32(2)));
        assert_eq!(
            expression_value(&d, "a.b"),
            Bson::Array(vec![
                Bson::Int32(1),
                Bson::Array(vec![Bson::Int32(2), Bson::Int32(3)])
            ])
        );
    }
}
