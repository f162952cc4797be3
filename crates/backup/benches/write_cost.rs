//! The write-throughput cost of continuous backup.
//!
//! Runs the same durable write load twice against a fresh store: once plain,
//! once with continuous backup to a folder (every commit observed, buffered
//! and shipped each second, base snapshot first). Each write is one
//! transaction of a 1 KB item plus four small index-sized entries, from many
//! concurrent writers, as the engine issues them.
//!
//! cargo bench -p cosmonaut-backup --bench write_cost -- [--seconds N] [--writers N] [--runs N]

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cosmonaut_backup::{
    BackupConfig, BackupService, BackupStats, Claimant, CommitBuffer, Lease, Target,
};
use cosmonaut_storage::{Backend, CommitObserver, RedbBackend, StorageError, Store};

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn run(with_backup: bool, seconds: u64, writers: u64) -> (f64, u64) {
    let dir = tempfile::tempdir().expect("tempdir");
    let backend: Arc<dyn Backend> =
        Arc::new(RedbBackend::open(&dir.path().join(RedbBackend::FILE_NAME)).expect("open"));
    let stats = Arc::new(BackupStats::default());
    let mut backup = None;
    if with_backup {
        let url = format!("file://{}", dir.path().join("backup").display());
        let target = Target::from_url(&url).expect("target");
        let claimant = Claimant {
            holder: "bench".into(),
            instance: "bench".into(),
            ttl: Duration::from_secs(15),
        };
        let lease = Lease::acquire(&target, &claimant).await.expect("lease");
        let buffer = Arc::new(CommitBuffer::new(1 << 30, Arc::clone(&stats)));
        backup = Some((target, lease, buffer));
    }
    let observer = backup
        .as_ref()
        .map(|(_, _, buffer)| Arc::clone(buffer) as Arc<dyn CommitObserver>);
    let store = Arc::new(Store::with_observer(Arc::clone(&backend), observer).expect("store"));
    let service = match backup {
        Some((target, lease, buffer)) => Some(
            BackupService::start(
                target,
                Arc::clone(&backend),
                lease,
                buffer,
                BackupConfig::default(),
                Arc::clone(&stats),
            )
            .await
            .expect("service"),
        ),
        None => None,
    };
    let done = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..writers {
        let (store, done, count) = (Arc::clone(&store), Arc::clone(&done), Arc::clone(&count));
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            while !done.load(Relaxed) {
                n += 1;
                let id = (w << 40) | n;
                store
                    .transact(move |t| {
                        let key = |tag: u8| [&[tag][..], &id.to_be_bytes()].concat();
                        t.put(key(0x40), vec![b'x'; 1024]);
                        for tag in 0x50..0x54 {
                            t.put(key(tag), Vec::new());
                        }
                        Ok::<_, StorageError>(())
                    })
                    .await
                    .expect("write");
                count.fetch_add(1, Relaxed);
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    done.store(true, Relaxed);
    for task in tasks {
        task.await.expect("join");
    }
    let elapsed = started.elapsed().as_secs_f64();
    let writes = count.load(Relaxed);
    drop(store);
    if let Some(service) = service {
        service.shutdown().await;
    }
    (writes as f64 / elapsed, stats.segment_bytes.load(Relaxed))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let seconds = arg("--seconds", 10);
    let writers = arg("--writers", 64);
    let runs = arg("--runs", 3).max(1);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        // Alternating runs, so drift in the disk's speed hits both alike.
        let (mut plain, mut backed, mut shipped) = (Vec::new(), Vec::new(), 0);
        for run_no in 1..=runs {
            let (p, _) = run(false, seconds, writers).await;
            let (b, bytes) = run(true, seconds, writers).await;
            println!("run {run_no}: without backup {p:.0}/s, with backup {b:.0}/s");
            plain.push(p);
            backed.push(b);
            shipped = bytes;
        }
        let (p, b) = (median(plain), median(backed));
        println!("median without backup: {p:>7.0} durable writes/s ({writers} writers, {seconds} s runs)");
        println!(
            "median with backup:    {b:>7.0} durable writes/s ({:+.1}%); last run shipped {:.1} MB of log",
            (b / p - 1.0) * 100.0,
            shipped as f64 / 1e6
        );
    });
}
