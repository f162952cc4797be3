//! Request-unit charges, shaped like the service's (every front end reports
//! them: the REST gateway in `x-ms-request-charge`, the MongoDB front end in
//! `getLastRequestStatistics`): a 1 KB point read costs
//! 1 RU, a 1 KB write about 5.7, growing with size; a query pays a fixed
//! part, then for the documents it had to load and the results it returns,
//! so a query served by an index costs less than one that scans.

fn kilobytes(bytes: usize) -> f64 {
    (bytes as f64 / 1024.0).max(1.0)
}

pub fn point_read(bytes: usize) -> f64 {
    kilobytes(bytes)
}

pub fn write(bytes: usize) -> f64 {
    5.71 * kilobytes(bytes)
}

pub fn replace(bytes: usize) -> f64 {
    10.29 * kilobytes(bytes)
}

pub fn delete(bytes: usize) -> f64 {
    5.71 * kilobytes(bytes)
}

pub fn feed(items: usize, bytes: usize) -> f64 {
    1.0 + 0.05 * items as f64 + bytes as f64 / (1024.0 * 16.0)
}

/// A query page: the fixed cost of a query, about a thirtieth of an RU per
/// document loaded (whether or not it matched), and a tenth of an RU per KB
/// of results.
pub fn query(documents_read: usize, result_bytes: usize) -> f64 {
    2.31 + 0.03 * documents_read as f64 + 0.1 * result_bytes as f64 / 1024.0
}

/// Metadata operations (databases, containers, routing).
pub const METADATA: f64 = 1.0;

/// An operation of a batch that the service looked at and refused
/// (a conflict, a failed precondition, an invalid body).
pub const REFUSED: f64 = 1.0;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_pay_for_what_they_read() {
        let lookup = query(1, 1024);
        let scan = query(10_000, 1024);
        assert!(lookup < 3.0, "{lookup}");
        assert!(scan > 100.0 * lookup / 2.0, "{scan}");
        assert!(query(0, 0) > 2.0);
    }
}
