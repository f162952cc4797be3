//! How MongoDB orders and compares values: one order across types
//! (MinKey < null < numbers < strings < objects < arrays < binary < ObjectId
//! < booleans < dates < timestamps < regexes < MaxKey), numbers compared by
//! value whatever their type, documents field by field.

use std::cell::Cell;
use std::cmp::Ordering;

use bson::{Bson, Document};

thread_local! {
    /// Whether strings compare without regard to case (a collation of
    /// strength 1 or 2 for the command being run on this thread).
    static CASELESS: Cell<bool> = const { Cell::new(false) };
}

/// Runs `work` with a command's collation in force for every comparison it
/// makes. Collations of strength 1 and 2 compare strings without regard to
/// case (the "basics": accents and locale-specific orders are not
/// modelled); others, and `locale: "simple"`, compare them binary.
pub fn with_collation<T>(collation: Option<&Document>, work: impl FnOnce() -> T) -> T {
    let caseless = collation.is_some_and(|c| {
        c.get_str("locale").is_ok_and(|l| l != "simple")
            && c.get("strength").and_then(as_f64).is_some_and(|s| s <= 2.0)
    });
    let before = CASELESS.replace(caseless);
    let out = work();
    CASELESS.set(before);
    out
}

/// Whether the command's collation folds case.
pub fn caseless() -> bool {
    CASELESS.get()
}

fn compare_strings(x: &str, y: &str) -> Ordering {
    if caseless() {
        x.to_lowercase().cmp(&y.to_lowercase())
    } else {
        x.cmp(y)
    }
}

/// The rank of a value's type in the order across types. Numbers share one.
pub fn type_rank(value: &Bson) -> u8 {
    match value {
        Bson::MinKey => 1,
        Bson::Undefined | Bson::Null => 2,
        Bson::Int32(_) | Bson::Int64(_) | Bson::Double(_) | Bson::Decimal128(_) => 3,
        Bson::String(_) | Bson::Symbol(_) => 4,
        Bson::Document(_) => 5,
        Bson::Array(_) => 6,
        Bson::Binary(_) => 7,
        Bson::ObjectId(_) => 8,
        Bson::Boolean(_) => 9,
        Bson::DateTime(_) => 10,
        Bson::Timestamp(_) => 11,
        Bson::RegularExpression(_) => 12,
        Bson::DbPointer(_) => 13,
        Bson::JavaScriptCode(_) => 14,
        Bson::JavaScriptCodeWithScope(_) => 15,
        Bson::MaxKey => 16,
    }
}

/// A number as f64, for comparing across numeric types.
pub fn as_f64(value: &Bson) -> Option<f64> {
    match value {
        Bson::Int32(i) => Some(f64::from(*i)),
        Bson::Int64(i) => Some(*i as f64),
        Bson::Double(f) => Some(*f),
        Bson::Decimal128(d) => d.to_string().parse().ok(),
        _ => None,
    }
}

fn compare_numbers(a: &Bson, b: &Bson) -> Ordering {
    // Two integers compare exactly; anything with a fraction as doubles,
    // with NaN below every number, as MongoDB orders it.
    if let (Some(x), Some(y)) = (as_i64(a), as_i64(b)) {
        return x.cmp(&y);
    }
    let (x, y) = (as_f64(a).unwrap_or(f64::NAN), as_f64(b).unwrap_or(f64::NAN));
    match (x.is_nan(), y.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        _ => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
    }
}

fn as_i64(value: &Bson) -> Option<i64> {
    match value {
        Bson::Int32(i) => Some(i64::from(*i)),
        Bson::Int64(i) => Some(*i),
        _ => None,
    }
}

/// The total order MongoDB sorts and compares by.
pub fn compare(a: &Bson, b: &Bson) -> Ordering {
    let (ra, rb) = (type_rank(a), type_rank(b));
    if ra != rb {
        return ra.cmp(&rb);
    }
    match (a, b) {
        _ if ra == 3 => compare_numbers(a, b),
        (Bson::String(x) | Bson::Symbol(x), Bson::String(y) | Bson::Symbol(y)) => {
            compare_strings(x, y)
        }
        (Bson::Document(x), Bson::Document(y)) => compare_documents(x, y),
        (Bson::Array(x), Bson::Array(y)) => {
            for (p, q) in x.iter().zip(y) {
                let o = compare(p, q);
                if o != Ordering::Equal {
                    return o;
                }
            }
            x.len().cmp(&y.len())
        }
        (Bson::Binary(x), Bson::Binary(y)) => x
            .bytes
            .len()
            .cmp(&y.bytes.len())
            .then(u8::from(x.subtype).cmp(&u8::from(y.subtype)))
            .then(x.bytes.cmp(&y.bytes)),
        (Bson::ObjectId(x), Bson::ObjectId(y)) => x.bytes().cmp(&y.bytes()),
        (Bson::Boolean(x), Bson::Boolean(y)) => x.cmp(y),
        (Bson::DateTime(x), Bson::DateTime(y)) => x.cmp(y),
        (Bson::Timestamp(x), Bson::Timestamp(y)) => {
            (x.time, x.increment).cmp(&(y.time, y.increment))
        }
        (Bson::RegularExpression(x), Bson::RegularExpression(y)) => x
            .pattern
            .as_str()
            .cmp(y.pattern.as_str())
            .then(x.options.as_str().cmp(y.options.as_str())),
        (Bson::JavaScriptCode(x), Bson::JavaScriptCode(y)) => x.cmp(y),
        _ => Ordering::Equal,
    }
}

fn compare_documents(x: &Document, y: &Document) -> Ordering {
    let mut right = y.iter();
    for (ka, va) in x {
        let Some((kb, vb)) = right.next() else {
            return Ordering::Greater;
        };
        let o = type_rank(va)
            .cmp(&type_rank(vb))
            .then_with(|| ka.cmp(kb))
            .then_with(|| compare(va, vb));
        if o != Ordering::Equal {
            return o;
        }
    }
    if right.next().is_some() {
        Ordering::Less
    } else {
        Ordering::Equal
    }
}

/// Equality as queries use it: numbers by value, documents in field order.
pub fn equal(a: &Bson, b: &Bson) -> bool {
    let (ra, rb) = (type_rank(a), type_rank(b));
    // null and undefined are one type for ranking but not equal to each other
    // in queries only through the missing-field rule, which callers handle.
    ra == rb && compare(a, b) == Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    #[test]
    fn numbers_compare_by_value_across_types() {
        assert!(equal(&Bson::Int32(1), &Bson::Double(1.0)));
        assert!(equal(&Bson::Int64(2), &Bson::Int32(2)));
        assert_eq!(
            compare(&Bson::Int64(i64::MAX), &Bson::Int64(i64::MAX - 1)),
            Ordering::Greater
        );
        assert_eq!(
            compare(&Bson::Double(f64::NAN), &Bson::Int32(-5)),
            Ordering::Less
        );
    }

    #[test]
    fn a_collation_of_strength_two_folds_case() {
        let (a, b) = (Bson::String("PING".into()), Bson::String("ping".into()));
        assert!(!equal(&a, &b));
        let collation = bson::doc! {"locale": "en_US", "strength": 2};
        assert!(with_collation(Some(&collation), || equal(&a, &b)));
        assert!(!equal(&a, &b), "the collation ends with its command");
    }

    #[test]
    fn types_order_as_mongodb_sorts_them() {
        let mut values = [
            Bson::Boolean(false),
            Bson::String("a".into()),
            Bson::Int32(3),
            Bson::Null,
            Bson::Document(doc! {}),
            Bson::MaxKey,
            Bson::MinKey,
        ];
        values.sort_by(compare);
        assert_eq!(
            values.iter().map(type_rank).collect::<Vec<_>>(),
            vec![1, 2, 3, 4, 5, 9, 16]
        );
    }
}
