//! `cosmonaut-bench run`: set up a database, preload items, run each
//! workload for a fixed time with N clients, and report.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde_json::json;

use crate::client::{Client, Outcome, Protocol};
use crate::report::{self, Measured};
use crate::workload::{item, Payload, Rng, Workload, PARTITION_KEYS};
use crate::WELL_KNOWN_KEY;

#[derive(clap::Args)]
pub struct RunArgs {
    /// The endpoint to measure, e.g. https://localhost:8081/.
    #[arg(long)]
    endpoint: String,
    #[arg(long, default_value = WELL_KNOWN_KEY, hide_default_value = true)]
    key: String,
    /// A second endpoint to run the same workloads against, for ratios.
    #[arg(long)]
    compare_endpoint: Option<String>,
    #[arg(long, default_value = WELL_KNOWN_KEY, hide_default_value = true)]
    compare_key: String,
    /// Workloads to run (all when absent).
    #[arg(long, value_enum, value_delimiter = ',')]
    workload: Vec<Workload>,
    /// Concurrent clients.
    #[arg(long, default_value_t = 32)]
    clients: u64,
    /// How long each workload runs.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// Items preloaded for reads, replaces and queries.
    #[arg(long, default_value_t = 10_000)]
    items: u64,
    /// Approximate size of each item in bytes (1024 and 10240 are the reference sizes).
    #[arg(long, default_value_t = 1024)]
    item_size: usize,
    /// What fills each item's padding (it decides how well items compress).
    #[arg(long, value_enum, default_value = "repeated")]
    payload: Payload,
    /// HTTP/1.1 connections per client (as the SDKs connect) or one
    /// multiplexed HTTP/2 connection.
    #[arg(long, value_enum, default_value = "http1")]
    protocol: Protocol,
    /// Run every workload this many times. Above 1, each workload runs on
    /// each endpoint in turn before the next starts, so a machine whose
    /// speed drifts (a shared VM) weighs on both sides alike, and the
    /// report gives each figure's range over the rounds.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100))]
    rounds: u32,
    /// How long a request may wait for its answer before it counts as an
    /// error: the SDKs' default unless told otherwise.
    #[arg(long, default_value = "60s", value_parser = above_zero)]
    request_timeout: Duration,
    /// Keep the benchmark database afterwards.
    #[arg(long)]
    keep: bool,
    /// Use the items an earlier run kept (`--keep`, the same `--items`)
    /// instead of loading them again: a large store is loaded once.
    #[arg(long)]
    reuse: bool,
}

/// A duration longer than zero: no request is answered in no time.
fn above_zero(text: &str) -> Result<Duration, String> {
    match humantime::parse_duration(text).map_err(|e| e.to_string())? {
        d if d.is_zero() => Err("must be longer than zero".into()),
        d => Ok(d),
    }
}

pub const DB: &str = "cosmonaut-bench";
pub const COLL: &str = "items";

/// The shape of a load: shared by `run` and `footprint`.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    pub clients: u64,
    pub duration: Duration,
    pub items: u64,
    pub item_size: usize,
    pub payload: Payload,
}

impl RunArgs {
    fn load(&self) -> Load {
        Load {
            clients: self.clients,
            duration: self.duration,
            items: self.items,
            item_size: self.item_size,
            payload: self.payload,
        }
    }
}

pub async fn run(args: RunArgs) -> Result<(), String> {
    let workloads = if args.workload.is_empty() {
        Workload::ALL.to_vec()
    } else {
        args.workload.clone()
    };
    println!(
        "{} clients over {:?}, {} per workload, {} preloaded items of about {} bytes",
        args.clients,
        args.protocol,
        humantime::format_duration(args.duration),
        args.items,
        args.item_size
    );
    let failed = if args.rounds > 1 {
        rounds(&args, &workloads).await?
    } else {
        let first = measure(&args.endpoint, &args.key, &args, &workloads).await?;
        let mut failed: u64 = first.iter().map(|m| m.errors).sum();
        if let Some(other) = &args.compare_endpoint {
            let second = measure(other, &args.compare_key, &args, &workloads).await?;
            report::ratios(&first, &second, (&args.endpoint, other));
            failed += second.iter().map(|m| m.errors).sum::<u64>();
        }
        failed
    };
    match failed {
        0 => Ok(()),
        n => Err(format!(
            "{n} operations failed (see the first errors above)"
        )),
    }
}

/// One endpoint under test in a run of several rounds.
struct Side {
    endpoint: String,
    client: Client,
    /// Its own database, so that both sides may be the same server.
    db: String,
    next_id: Arc<AtomicU64>,
    /// Per workload, one result per round.
    results: Vec<Vec<Measured>>,
}

/// `--rounds` above 1: every workload on every endpoint in turn, round
/// after round; returns the operations that failed.
async fn rounds(args: &RunArgs, workloads: &[Workload]) -> Result<u64, String> {
    let load = args.load();
    let mut endpoints = vec![(args.endpoint.as_str(), args.key.as_str())];
    if let Some(other) = &args.compare_endpoint {
        endpoints.push((other, args.compare_key.as_str()));
    }
    let mut sides = Vec::new();
    for (i, (endpoint, key)) in endpoints.into_iter().enumerate() {
        let db = match i {
            0 => DB.to_string(),
            n => format!("{DB}-{}", n + 1),
        };
        let mut client =
            Client::new(endpoint, key, args.protocol)?.with_request_timeout(args.request_timeout);
        println!("[{}] {endpoint}", i + 1);
        if !args.reuse {
            setup(&mut client, &load, &db).await?;
        }
        sides.push(Side {
            endpoint: endpoint.to_string(),
            client,
            db,
            next_id: Arc::new(AtomicU64::new(args.items)),
            results: workloads.iter().map(|_| Vec::new()).collect(),
        });
    }
    for round in 1..=args.rounds {
        report::header(&format!("round {round} of {}", args.rounds));
        for (w, workload) in workloads.iter().enumerate() {
            for (i, side) in sides.iter_mut().enumerate() {
                let measured = run_workload(
                    &side.client,
                    &side.db,
                    *workload,
                    &load,
                    Arc::clone(&side.next_id),
                )
                .await;
                report::row_labelled(&measured, &format!("[{}]", i + 1));
                side.results[w].push(measured);
            }
        }
    }
    for (i, side) in sides.iter().enumerate() {
        report::ranges(&format!("[{}] {}", i + 1, side.endpoint), &side.results);
    }
    if let [first, second] = sides.as_slice() {
        report::ratio_ranges(
            &first.results,
            &second.results,
            (&first.endpoint, &second.endpoint),
        );
    }
    let mut failed = 0;
    for side in &mut sides {
        failed += side.results.iter().flatten().map(|m| m.errors).sum::<u64>();
        if !args.keep {
            let _ = side.client.delete_database(&side.db).await;
        }
    }
    Ok(failed)
}

async fn measure(
    endpoint: &str,
    key: &str,
    args: &RunArgs,
    workloads: &[Workload],
) -> Result<Vec<Measured>, String> {
    let mut client =
        Client::new(endpoint, key, args.protocol)?.with_request_timeout(args.request_timeout);
    let load = args.load();
    if !args.reuse {
        setup(&mut client, &load, DB).await?;
    }
    report::header(endpoint);
    let mut results = Vec::new();
    let next_id = Arc::new(AtomicU64::new(args.items));
    for workload in workloads {
        let measured = run_workload(&client, DB, *workload, &load, Arc::clone(&next_id)).await;
        report::row(&measured);
        results.push(measured);
    }
    if !args.keep {
        let _ = client.delete_database(DB).await;
    }
    Ok(results)
}

fn expect(outcome: Outcome, what: &str, ok: &[u16]) -> Result<(), String> {
    match outcome {
        Ok(status) if ok.contains(&status.as_u16()) => Ok(()),
        Ok(status) => Err(format!("{what}: {status}")),
        Err(e) => Err(format!("{what}: {e}")),
    }
}

/// A fresh database `db` and its container, with `args.items` items loaded.
pub async fn setup(client: &mut Client, args: &Load, db: &str) -> Result<(), String> {
    let _ = client.delete_database(db).await;
    expect(
        client.create_database(db).await,
        "creating the database",
        &[201],
    )?;
    expect(
        client.create_container(db, COLL).await,
        "creating the container",
        &[201],
    )?;
    let started = Instant::now();
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..args.clients.max(1) {
        let (mut client, next, items, size, payload) = (
            client.clone(),
            Arc::clone(&next),
            args.items,
            args.item_size,
            args.payload,
        );
        let db = db.to_string();
        tasks.push(tokio::spawn(async move {
            loop {
                let n = next.fetch_add(1, Relaxed);
                if n >= items {
                    return Ok::<(), String>(());
                }
                expect(
                    client.create(&db, COLL, item(n, size, 0, payload)).await,
                    "preloading",
                    &[201],
                )?;
            }
        }));
    }
    for task in tasks {
        task.await.map_err(|e| e.to_string())??;
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "preloaded {} items in {seconds:.1} s ({:.0} creates/s)",
        args.items,
        args.items as f64 / seconds
    );
    Ok(())
}

pub async fn run_workload(
    client: &Client,
    db: &str,
    workload: Workload,
    args: &Load,
    next_id: Arc<AtomicU64>,
) -> Measured {
    let deadline = Instant::now() + args.duration;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..args.clients.max(1) {
        let mut client = client.clone();
        let next_id = Arc::clone(&next_id);
        let (items, size) = (args.items.max(1), (args.item_size, args.payload));
        let db = db.to_string();
        tasks.push(tokio::spawn(async move {
            let mut rng = Rng::new(c + 1);
            let mut latency = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)
                .unwrap_or_else(|_| unreachable!("valid bounds"));
            let (mut ops, mut errors, mut first_error) = (0u64, 0u64, None);
            while Instant::now() < deadline {
                let n = rng.below(items);
                let begun = Instant::now();
                let outcome =
                    one_operation(&mut client, &db, workload, n, size, &mut rng, &next_id).await;
                let micros = begun.elapsed().as_micros() as u64;
                match outcome {
                    Ok(status) if status.is_success() => {
                        ops += 1;
                        let _ = latency.record(micros.max(1));
                    }
                    other => {
                        errors += 1;
                        first_error.get_or_insert_with(|| match other {
                            Ok(status) => status.to_string(),
                            Err(e) => e,
                        });
                    }
                }
            }
            (ops, errors, latency, first_error)
        }));
    }
    let mut measured = Measured {
        workload,
        operations: 0,
        errors: 0,
        seconds: 0.0,
        latency: Histogram::new_with_bounds(1, 60_000_000, 3)
            .unwrap_or_else(|_| unreachable!("valid bounds")),
        first_error: None,
    };
    for task in tasks {
        if let Ok((ops, errors, latency, first_error)) = task.await {
            measured.operations += ops;
            measured.errors += errors;
            let _ = measured.latency.add(&latency);
            if measured.first_error.is_none() {
                measured.first_error = first_error;
            }
        }
    }
    measured.seconds = started.elapsed().as_secs_f64();
    measured
}

async fn one_operation(
    client: &mut Client,
    db: &str,
    workload: Workload,
    n: u64,
    (size, payload): (usize, Payload),
    rng: &mut Rng,
    next_id: &AtomicU64,
) -> Outcome {
    let id = format!("i{n}");
    let pk = format!("p{}", n % PARTITION_KEYS);
    match workload {
        Workload::Read | Workload::MixedC => client.read(db, COLL, &id, &pk).await,
        Workload::Create => {
            let fresh = next_id.fetch_add(1, Relaxed);
            client.create(db, COLL, item(fresh, size, 0, payload)).await
        }
        Workload::Upsert => {
            client
                .upsert(db, COLL, item(n, size, rng.below(1 << 30), payload))
                .await
        }
        Workload::Replace => {
            client
                .replace(db, COLL, item(n, size, rng.below(1 << 30), payload))
                .await
        }
        Workload::QuerySingle => {
            let params = json!([{"name": "@n", "value": n}]);
            client
                .query(
                    db,
                    COLL,
                    "SELECT * FROM c WHERE c.n = @n",
                    params,
                    Some(&pk),
                )
                .await
        }
        Workload::QueryCross => {
            let params = json!([{"name": "@n", "value": n}]);
            client
                .query(db, COLL, "SELECT * FROM c WHERE c.n = @n", params, None)
                .await
        }
        Workload::MixedA | Workload::MixedB => {
            if rng.below(100) < workload.update_percent() {
                client
                    .upsert(db, COLL, item(n, size, rng.below(1 << 30), payload))
                    .await
            } else {
                client.read(db, COLL, &id, &pk).await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_timeout_must_be_longer_than_zero() {
        assert_eq!(above_zero("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(above_zero("60s"), Ok(Duration::from_secs(60)));
        assert!(above_zero("0s").is_err());
        assert!(above_zero("soon").is_err());
    }
}
