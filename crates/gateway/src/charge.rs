//! Request-unit charges, shaped like the service's: a 1 KB point read costs
//! 1 RU, a 1 KB write about 5.7, growing with size. The full model (indexing
//! and query work) belongs to the throughput issue; these keep the SDKs'
//! expectation of a positive, size-dependent charge.

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

/// Metadata operations (databases, containers, routing).
pub const METADATA: f64 = 1.0;
