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
    row_labelled(m, "");
}

/// A row whose workload name carries a label (which endpoint, in rounds).
pub fn row_labelled(m: &Measured, label: &str) {
    let name = match label {
        "" => m.workload.name().to_string(),
        label => format!("{} {label}", m.workload.name()),
    };
    println!(
        "{:<24} {:>11.0} {:>9.3} {:>9.3} {:>9.3} {:>8}",
        name,
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
        let (throughput, p99) = ratio(a, b);
        println!(
            "{:<24} {:>16.2} {:>16.2}",
            a.workload.name(),
            throughput,
            p99
        );
    }
}

/// The lowest, the median and the highest of `values` (not empty).
fn spread(values: &[f64]) -> (f64, f64, f64) {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    let median = if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    };
    (sorted[0], median, sorted[n - 1])
}

/// A workload's figures over the rounds as the reports print them:
/// throughput (or its ratio) as `low-median-high`, p99 as `low-high`, each
/// to `places` decimals.
fn spread_text(throughput: &[f64], p99: &[f64], places: (usize, usize)) -> (String, String) {
    let (low, median, high) = spread(throughput);
    let (p99_low, _, p99_high) = spread(p99);
    let (t, p) = places;
    (
        format!("{low:.t$}-{median:.t$}-{high:.t$}"),
        format!("{p99_low:.p$}-{p99_high:.p$}"),
    )
}

/// An endpoint's results over several rounds: each workload's range.
pub fn ranges(endpoint: &str, rounds: &[Vec<Measured>]) {
    println!("\n{endpoint}, over the rounds");
    println!(
        "{:<24} {:>23} {:>17} {:>8}",
        "workload", "ops/s low-median-high", "p99 ms low-high", "errors"
    );
    for results in rounds.iter().filter(|r| !r.is_empty()) {
        let throughput: Vec<f64> = results.iter().map(Measured::throughput).collect();
        let p99: Vec<f64> = results.iter().map(|m| m.percentile_ms(0.99)).collect();
        let (throughput, p99) = spread_text(&throughput, &p99, (0, 3));
        println!(
            "{:<24} {:>23} {:>17} {:>8}",
            results[0].workload.name(),
            throughput,
            p99,
            results.iter().map(|m| m.errors).sum::<u64>()
        );
    }
}

/// How many times `b`'s throughput `a`'s is, and how many times `a`'s p99
/// latency `b`'s is: above 1, `a` did better.
fn ratio(a: &Measured, b: &Measured) -> (f64, f64) {
    (
        a.throughput() / b.throughput().max(f64::MIN_POSITIVE),
        b.percentile_ms(0.99) / a.percentile_ms(0.99).max(0.001),
    )
}

/// [`ratios`] round by round: the range of each workload's ratios, each
/// taken between two runs made one right after the other.
pub fn ratio_ranges(first: &[Vec<Measured>], second: &[Vec<Measured>], names: (&str, &str)) {
    println!("\n{} versus {}, round by round", names.0, names.1);
    println!(
        "{:<24} {:>26} {:>16}",
        "workload", "throughput x low-med-high", "p99 x low-high"
    );
    for (a, b) in first.iter().zip(second).filter(|(a, _)| !a.is_empty()) {
        let (throughput, p99): (Vec<f64>, Vec<f64>) =
            a.iter().zip(b).map(|(a, b)| ratio(a, b)).unzip();
        if throughput.is_empty() {
            continue;
        }
        let (throughput, p99) = spread_text(&throughput, &p99, (2, 2));
        println!(
            "{:<24} {:>26} {:>16}",
            a[0].workload.name(),
            throughput,
            p99
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_gives_low_median_and_high() {
        assert_eq!(spread(&[3.0]), (3.0, 3.0, 3.0));
        assert_eq!(spread(&[5.0, 1.0, 3.0]), (1.0, 3.0, 5.0));
        assert_eq!(spread(&[4.0, 1.0, 2.0, 10.0]), (1.0, 3.0, 10.0));
    }

    #[test]
    fn spread_text_prints_each_range_to_its_places() {
        let text = spread_text(&[12_000.4, 9_000.0, 11_000.6], &[2.5, 1.25], (0, 3));
        assert_eq!(text, ("9000-11001-12000".into(), "1.250-2.500".into()));
    }
}
