//! `cosmonaut-bench footprint`: what a `cosmonaut` process costs. Starts the
//! binary on fresh data dirs and measures start-to-ready (the ready line,
//! then the first answered request), resident memory idle and after a load,
//! and the data file's size per item.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::client::{Client, Protocol};
use crate::report;
use crate::run::{self, Load};
use crate::workload::{Payload, Workload};
use crate::WELL_KNOWN_KEY;

#[derive(clap::Args)]
pub struct FootprintArgs {
    /// The cosmonaut binary to start.
    #[arg(long, default_value = "target/release/cosmonaut")]
    binary: PathBuf,
    /// How many starts to time.
    #[arg(long, default_value_t = 10)]
    starts: u32,
    /// Items of about 1 KB to load for the loaded-memory and disk figures.
    #[arg(long, default_value_t = 100_000)]
    items: u64,
    #[arg(long, default_value_t = 32)]
    clients: u64,
}

struct Started {
    child: Child,
    endpoint: String,
    ready: Duration,
}

fn start(binary: &Path, data_dir: &Path) -> Result<Started, String> {
    let begun = Instant::now();
    let mut child = Command::new(binary)
        .args(["serve", "--port", "0", "--data-dir"])
        .arg(data_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    while let Some(line) = lines.next() {
        let line = line.map_err(|e| e.to_string())?;
        if let Some(at) = line.find("listening on https://") {
            let endpoint = line[at + "listening on ".len()..].trim().to_string();
            // Keep reading what the server prints next: closing the pipe
            // would fail its later writes.
            std::thread::spawn(move || lines.for_each(drop));
            return Ok(Started {
                child,
                endpoint,
                ready: begun.elapsed(),
            });
        }
    }
    Err("the server exited before it was ready".into())
}

fn stop(mut started: Started) {
    let _ = Command::new("kill")
        .args(["-TERM", &started.child.id().to_string()])
        .status();
    let _ = started.child.wait();
}

/// Resident memory in KiB (Linux), from /proc.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

fn mib(kib: Option<u64>) -> String {
    kib.map_or("n/a".into(), |k| format!("{:.1} MiB", k as f64 / 1024.0))
}

pub async fn run(args: FootprintArgs) -> Result<(), String> {
    let mut ready = Vec::new();
    let mut answered = Vec::new();
    for _ in 0..args.starts.max(1) {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let begun = Instant::now();
        let started = start(&args.binary, dir.path())?;
        let mut client = Client::new(&started.endpoint, WELL_KNOWN_KEY, Protocol::Http1)?;
        ready.push(started.ready);
        // The first request the server answers, as a client sees readiness.
        loop {
            if client.create_database("probe").await.is_ok() {
                break;
            }
            if begun.elapsed() > Duration::from_secs(30) {
                return Err("the server never answered".into());
            }
        }
        answered.push(begun.elapsed());
        stop(started);
    }
    ready.sort();
    answered.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "start to ready line: median {:.1} ms, min {:.1} ms, max {:.1} ms ({} starts, empty data dir)",
        ms(ready[ready.len() / 2]),
        ms(ready[0]),
        ms(ready[ready.len() - 1]),
        ready.len()
    );
    println!(
        "start to first answered request: median {:.1} ms",
        ms(answered[answered.len() / 2])
    );

    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let started = start(&args.binary, dir.path())?;
    let pid = started.child.id();
    tokio::time::sleep(Duration::from_secs(1)).await;
    println!("idle resident memory: {}", mib(rss_kib(pid)));
    let mut client = Client::new(&started.endpoint, WELL_KNOWN_KEY, Protocol::Http1)?;
    let load = Load {
        clients: args.clients,
        duration: Duration::from_secs(5),
        items: args.items,
        item_size: 1024,
        payload: Payload::Repeated,
    };
    run::setup(&mut client, &load, run::DB).await?;
    report::header("point reads on the loaded server");
    let next = Arc::new(AtomicU64::new(args.items));
    report::row(&run::run_workload(&client, run::DB, Workload::Read, &load, next).await);
    println!(
        "resident memory with {} items loaded, after reads: {}",
        args.items,
        mib(rss_kib(pid))
    );
    stop(started);
    let file = dir.path().join("cosmonaut.redb");
    let bytes = std::fs::metadata(&file)
        .map(|m| m.len())
        .map_err(|e| e.to_string())?;
    let per_item = bytes as f64 / args.items.max(1) as f64;
    println!(
        "data file: {:.1} MiB for {} items of about 1 KB: {per_item:.0} bytes per item, {:.2} GiB per million",
        bytes as f64 / 1048576.0,
        args.items,
        per_item * 1e6 / 1073741824.0
    );
    Ok(())
}
