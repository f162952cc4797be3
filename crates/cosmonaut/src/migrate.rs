//! `cosmonaut migrate`: copies an account between the embedded store (a
//! data dir) and PostgreSQL, either way: every key of the store (databases,
//! containers and their settings, items with their etags and timestamps,
//! indexes, change feeds, scripts, users) and the account's keys and role
//! assignments. The copy is made from one consistent snapshot, in key
//! order, a batch per transaction; an interrupted copy resumes where it
//! stopped, and a finished one is verified by counting and hashing both
//! sides.

use std::hash::{DefaultHasher, Hasher};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cosmonaut_engine::{Engine, EngineConfig};
use cosmonaut_storage::{Backend, KvRead, RedbBackend, Store, DATA_END, DATA_START};
use indicatif::{ProgressBar, ProgressStyle};

use crate::files::{self, Access};
use crate::lock::DataDirLock;

#[derive(clap::Args)]
pub struct MigrateArgs {
    /// Where the account is now: a data dir, or a PostgreSQL URL
    /// (postgres://user:password@host/database). Stop the servers that
    /// write to it first: what they write after the copy begins is not copied.
    #[arg(long)]
    from: String,
    /// Where it goes: a PostgreSQL URL or a data dir. It must be empty, or
    /// hold an unfinished copy from the same place, which then resumes.
    #[arg(long)]
    to: String,
    /// Keys written per transaction.
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    batch: u32,
    /// How long to wait for PostgreSQL to accept connections.
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    store_wait: Duration,
}

/// Storage's own key naming the copy under way in the target.
const MARKER: &[u8] = b"\x00migrating-from";

/// The account's files, kept beside the data in a data dir and in the
/// store itself on PostgreSQL.
const ACCOUNT_FILES: [&str; 2] = [crate::keys::FILE, crate::aad::RBAC_FILE];

enum Place {
    Dir(PathBuf),
    Postgres(String),
}

impl Place {
    fn parse(text: &str) -> Self {
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            Place::Postgres(text.to_string())
        } else {
            Place::Dir(PathBuf::from(text))
        }
    }

    /// How the place is named in the target's marker and in messages
    /// (never with a password).
    fn describe(&self) -> String {
        match self {
            Place::Dir(dir) => format!("data dir {}", dir.display()),
            Place::Postgres(url) => {
                let host = url.split_once('@').map_or(url.as_str(), |(_, host)| host);
                let host = host.split_once('?').map_or(host, |(host, _)| host);
                format!("PostgreSQL {host}")
            }
        }
    }
}

/// An opened store, and the lock that keeps servers off a data dir.
struct Opened {
    place: Place,
    backend: Arc<dyn Backend>,
    engine: Engine,
    _lock: Option<DataDirLock>,
}

fn open(place: Place, wait: Duration, create: bool) -> Result<Opened, String> {
    let (backend, lock): (Arc<dyn Backend>, _) = match &place {
        Place::Dir(dir) => {
            if !create && !dir.join(RedbBackend::FILE_NAME).exists() {
                return Err(format!("{} holds no Cosmonaut data", dir.display()));
            }
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            let lock = DataDirLock::take(dir)?;
            let backend = RedbBackend::open(&dir.join(RedbBackend::FILE_NAME))
                .map_err(|e| format!("cannot open {}: {e}", dir.display()))?;
            (Arc::new(backend), Some(lock))
        }
        Place::Postgres(url) => {
            let options = cosmonaut_storage_postgres::PostgresOptions::default();
            let backend = cosmonaut_storage_postgres::PostgresBackend::connect(url, &options, wait)
                .map_err(|e| format!("cannot use {}: {e}", place.describe()))?;
            (Arc::new(backend), None)
        }
    };
    let store = Store::new(Arc::clone(&backend)).map_err(|e| e.to_string())?;
    Ok(Opened {
        place,
        backend,
        engine: Engine::from_store(store, EngineConfig::default()),
        _lock: lock,
    })
}

/// The smallest key after `key`.
fn successor(key: &[u8]) -> Vec<u8> {
    let mut next = key.to_vec();
    next.push(0);
    next
}

/// Keys and a hash of every key and value in the data range, in key order.
fn fingerprint(kv: &dyn KvRead, batch: usize) -> Result<(u64, u64), String> {
    let mut hasher = DefaultHasher::new();
    let mut count = 0u64;
    let mut start = DATA_START.to_vec();
    loop {
        let page = kv
            .scan(&start, DATA_END, batch)
            .map_err(|e| e.to_string())?;
        let Some((last, _)) = page.last() else {
            return Ok((count, hasher.finish()));
        };
        start = successor(last);
        for (key, value) in &page {
            hasher.write_usize(key.len());
            hasher.write(key);
            hasher.write_usize(value.len());
            hasher.write(value);
            count += 1;
        }
    }
}

pub fn run(args: MigrateArgs) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(migrate(args))
}

async fn migrate(args: MigrateArgs) -> Result<(), String> {
    let batch = args.batch as usize;
    let source = open(Place::parse(&args.from), args.store_wait, false)?;
    let target = open(Place::parse(&args.to), args.store_wait, true)?;
    let from = source.place.describe();
    let to = target.place.describe();
    if from == to {
        return Err("--from and --to name the same place".into());
    }
    let fail = |e: cosmonaut_storage::StorageError| e.to_string();
    let started = Instant::now();
    let snapshot = source.backend.snapshot().map_err(fail)?;

    // Where to begin: an empty target from the start; an unfinished copy
    // from the same source after the last key it holds.
    let (marker, last) = {
        let view = target.backend.snapshot().map_err(fail)?;
        let marker = view.get(MARKER).map_err(fail)?;
        let last = view.scan_rev(DATA_START, DATA_END, 1).map_err(fail)?;
        (marker, last.into_iter().next().map(|(key, _)| key))
    };
    let mut copied = 0u64;
    let mut start = match (marker, last) {
        (None, Some(_)) => {
            return Err(format!(
                "{to} already holds data; migrate into an empty data dir or database"
            ))
        }
        (Some(marker), _) if marker != from.as_bytes() => {
            return Err(format!(
            "{to} holds an unfinished copy from {}; finish that one or start from an empty target",
            String::from_utf8_lossy(&marker)
        ))
        }
        (_, Some(last)) => {
            copied = fingerprint(target.backend.snapshot().map_err(fail)?.as_ref(), batch)?.0;
            say(&format!("resuming: {copied} keys already copied"));
            successor(&last)
        }
        (_, None) => {
            target
                .backend
                .commit(&[(MARKER.to_vec(), Some(from.as_bytes().to_vec()))])
                .map_err(fail)?;
            DATA_START.to_vec()
        }
    };

    let progress = ProgressBar::new_spinner().with_style(
        ProgressStyle::with_template("{spinner} {human_pos} keys copied ({per_sec}) {msg}")
            .map_err(|e| e.to_string())?,
    );
    progress.set_position(copied);
    progress.enable_steady_tick(Duration::from_millis(200));
    let mut bytes = 0u64;
    loop {
        let page = snapshot.scan(&start, DATA_END, batch).map_err(fail)?;
        let Some((last, _)) = page.last() else { break };
        start = successor(last);
        bytes += page
            .iter()
            .map(|(k, v)| (k.len() + v.len()) as u64)
            .sum::<u64>();
        let writes: Vec<_> = page.into_iter().map(|(k, v)| (k, Some(v))).collect();
        target.backend.commit(&writes).map_err(fail)?;
        progress.inc(writes.len() as u64);
        progress.set_message(format!("{} MiB", bytes >> 20));
    }
    // Storage's own keys last (the commit position), so a resumed copy
    // finds the data range's end where the copy stopped.
    let own: Vec<_> = snapshot
        .scan(&[], DATA_START, usize::MAX)
        .map_err(fail)?
        .into_iter()
        .filter(|(key, _)| key != MARKER)
        .map(|(k, v)| (k, Some(v)))
        .collect();
    target.backend.commit(&own).map_err(fail)?;
    progress.finish_and_clear();

    tracing::info!("verifying the copy");
    let expected = fingerprint(snapshot.as_ref(), batch)?;
    drop(snapshot);
    let found = fingerprint(target.backend.snapshot().map_err(fail)?.as_ref(), batch)?;
    if expected != found {
        return Err(format!(
            "the copy differs from the source ({} keys there, {} here): the source changed \
             between an interrupted run and this one. Empty the target and start over",
            expected.0, found.0
        ));
    }
    for name in ACCOUNT_FILES {
        copy_account_file(&source, &target, name).await?;
    }
    target
        .backend
        .commit(&[(MARKER.to_vec(), None)])
        .map_err(fail)?;
    say(&format!(
        "copied {} keys ({} MiB) from {from} to {to} in {:.1} s; verified: {} keys, checksum {:016x}",
        expected.0,
        bytes >> 20,
        started.elapsed().as_secs_f64(),
        found.0,
        found.1
    ));
    Ok(())
}

fn say(line: &str) {
    outln!("{line}");
}

/// The account file `name` from the source to the target: a data dir keeps
/// it beside the data, PostgreSQL in the store (where gateways adopt it).
async fn copy_account_file(source: &Opened, target: &Opened, name: &str) -> Result<(), String> {
    let bytes = match &source.place {
        Place::Dir(dir) => files::read_if_present(&dir.join(name))?,
        Place::Postgres(_) => source
            .engine
            .account_file(name)
            .map_err(|e| e.to_string())?,
    };
    let Some(bytes) = bytes else { return Ok(()) };
    match &target.place {
        Place::Dir(dir) => files::replace(&dir.join(name), &bytes, Access::Private),
        Place::Postgres(_) => target
            .engine
            .store_account_file(name, bytes, false)
            .await
            .map(drop)
            .map_err(|e| e.to_string()),
    }
}
