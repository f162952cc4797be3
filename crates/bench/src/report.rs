//! What a workload measured, and how it is printed.

use hdrhistogram::Histogram;

use crate::workload::Workload;

/// One workload's result on one endpoint.
pub struct Measured {
    pub workload: Workload,
    pub operations: u64,
    pub errors: u64,
    pub seconds: f64,
    /// Latencies in microseconds.
    pub latency: Histogram<u64>,
    /// The first error seen, to show what went wrong.
    pub first_error: Option<String>,
}

impl Measured {
    pub fn throughput(&self) -> f64 {
        self.operations as f64 / self.seconds
    }

    pub fn percentile_ms(&self, q: f64) -> f64 {
        self.latency.value_at_quantile(q) as f64 / 1000.0
    }
}

pub fn header(title: &str) {
    println!("\n{title}");
    println!(
        "{:<24} {:>11} {:>9} {:>9} {:>9} {:>8}",
        "workload", "ops/s", "p50 ms", "p99 ms", "p99.9 ms", "errors"
    );
}

pub fn row(m: &Measured) {
    println!(
        "{:<24} {:>11.0} {:>9.3} {:>9.3} {:>9.3} {:>8}",
        m.workload.name(),
        m.throughput(),
        m.percentile_ms(0.50),
        m.percentile_ms(0.99),
        m.percentile_ms(0.999),
        m.errors
    );
    if let Some(error) = &m.first_error {
        println!("    first error: {error}");
    }
}

/// Side by side: how many times the first endpoint's throughput the
/// second's is, and the same for p99 latency (lower is better).
pub fn ratios(first: &[Measured], second: &[Measured], names: (&str, &str)) {
    println!("\n{} versus {}", names.0, names.1);
    println!(
        "{:<24} {:>16} {:>16}",
        "workload", "throughput x", "p99 latency x"
    );
    for (a, b) in first.iter().zip(second) {
        let throughput = a.throughput() / b.throughput().max(f64::MIN_POSITIVE);
        let p99 = b.percentile_ms(0.99) / a.percentile_ms(0.99).max(0.001);
        println!(
            "{:<24} {:>16.2} {:>16.2}",
            a.workload.name(),
            throughput,
            p99
        );
    }
}
