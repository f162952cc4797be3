//! Continuous backup wiring for `serve`, and the `restore` and `backup`
//! commands.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use cosmonaut_backup::account::{self, AccountFiles, AccountSource};
use cosmonaut_backup::{
    restore, BackupConfig, BackupError, BackupService, BackupStats, Catalog, Claimant,
    CommitBuffer, EncryptionKey, Lease, RestorePoint, RestoreReport, Target, DEFAULT_CAP_BYTES,
};
use cosmonaut_storage::{Backend, CommitObserver, RedbBackend};

use crate::serve::say;

/// `serve`'s backup settings.
#[derive(clap::Args, Debug, Clone)]
pub struct BackupArgs {
    /// Back up continuously to this location: file:///path, az://container/prefix
    /// or s3://bucket/prefix (credentials from AZURE_STORAGE_* / AWS_* variables).
    /// With an empty data dir, the newest backup is restored before serving.
    #[arg(long, env = "COSMONAUT_BACKUP")]
    pub backup: Option<String>,
    /// How often committed writes ship: at most this much acknowledged work
    /// (plus one upload) is lost if the machine vanishes.
    #[arg(long, env = "COSMONAUT_BACKUP_INTERVAL", default_value = "1s", value_parser = humantime::parse_duration)]
    pub backup_interval: Duration,
    /// How often a snapshot is taken (when anything changed).
    #[arg(long, env = "COSMONAUT_SNAPSHOT_INTERVAL", default_value = "15m", value_parser = humantime::parse_duration)]
    pub snapshot_interval: Duration,
    /// How long snapshots and the log are kept (the newest snapshot always is).
    #[arg(long, env = "COSMONAUT_BACKUP_RETENTION", default_value = "7days", value_parser = humantime::parse_duration)]
    pub backup_retention: Duration,
    /// How long the writer lease outlives its holder's last renewal.
    #[arg(long, env = "COSMONAUT_LEASE_TTL", default_value = "15s", value_parser = humantime::parse_duration)]
    pub lease_ttl: Duration,
    /// Do not restore into an empty data dir; start with an empty database.
    #[arg(long, env = "COSMONAUT_SKIP_RESTORE")]
    pub skip_restore: bool,
    /// This server's stable identity for the writer lease, such as a
    /// Kubernetes pod name: a server with the lease holder's identity takes
    /// the lease over at once (a replacement pod need not wait for it to
    /// expire). By default, the host name and the data dir's path.
    #[arg(long, env = "COSMONAUT_INSTANCE_ID")]
    pub instance_id: Option<String>,
    /// How often the location is checked for log segments it lost since
    /// the newest snapshot (a loss takes a snapshot at once).
    #[arg(long, env = "COSMONAUT_BACKUP_VERIFY_INTERVAL", default_value = "30s", value_parser = humantime::parse_duration)]
    pub backup_verify_interval: Duration,
    /// Start even when the backup log is missing segments, from the state
    /// the restore on start can reach (the error without it names that point).
    #[arg(long, env = "COSMONAUT_ALLOW_PARTIAL_RESTORE")]
    pub allow_partial_restore: bool,
    /// Encrypt what is backed up (documents, log, and the account's keys,
    /// role assignments and certificate) with this key: 32 bytes as base64,
    /// e.g. from `openssl rand -base64 32`, best passed from a secret store
    /// through the environment. Restores need the same key.
    #[arg(long, env = "COSMONAUT_BACKUP_ENCRYPTION_KEY", hide_env_values = true)]
    pub backup_encryption_key: Option<String>,
}

/// The data dir's files that make up the account besides its data: keys,
/// role assignments, the TLS certificate and the names it covers.
const ACCOUNT_FILES: [&str; 5] = [
    crate::keys::FILE,
    crate::aad::RBAC_FILE,
    crate::tls::CERT_FILE,
    crate::tls::KEY_FILE,
    crate::tls::NAMES_FILE,
];

/// The location at `url`, encrypted with `key` when one is given.
fn location(url: &str, key: Option<&str>) -> Result<Target, String> {
    let key = key
        .map(|text| EncryptionKey::from_base64(text).map(Arc::new))
        .transpose()
        .map_err(|e| format!("--backup-encryption-key: {e}"))?;
    Ok(Target::from_url(url)
        .map_err(|e| e.to_string())?
        .with_encryption(key))
}

/// Reads the account's files from `data_dir` as they are now.
fn account_source(data_dir: &Path) -> AccountSource {
    let dir = data_dir.to_path_buf();
    AccountSource(Arc::new(move || {
        ACCOUNT_FILES
            .iter()
            .filter_map(|name| {
                let content = std::fs::read(dir.join(name)).ok()?;
                Some((name.to_string(), content))
            })
            .collect::<AccountFiles>()
    }))
}

/// Writes the account's configuration as of `until_ms` into `data_dir`,
/// where it has none of its own.
async fn restore_account(target: &Target, data_dir: &Path, until_ms: u64) -> Result<(), String> {
    let Some(files) = account::download(target, until_ms)
        .await
        .map_err(|e| format!("cannot restore the account's keys and certificate: {e}"))?
    else {
        return Ok(());
    };
    let write = |path: &Path, content: &[u8]| {
        let access =
            if path.ends_with(crate::tls::CERT_FILE) || path.ends_with(crate::tls::NAMES_FILE) {
                crate::files::Access::Public
            } else {
                crate::files::Access::Private
            };
        crate::files::replace(path, content, access).map_err(std::io::Error::other)
    };
    let written = account::write_into(data_dir, &files, write).map_err(|e| e.to_string())?;
    if !written.is_empty() {
        say(&format!(
            "Restored the account's {} from the backup",
            written.join(", ")
        ));
    }
    Ok(())
}

/// A backup location taken for writing: the lease is held and the data dir
/// restored if it was empty.
pub struct Prepared {
    target: Target,
    lease: Lease,
    config: BackupConfig,
    pub buffer: Arc<CommitBuffer>,
    pub stats: Arc<BackupStats>,
}

impl Prepared {
    /// The backup as the Data Explorer's account page shows it: where to,
    /// which instance holds the writer lease, and how it is going.
    pub fn status(&self) -> Arc<dyn Fn() -> serde_json::Value + Send + Sync> {
        let stats = Arc::clone(&self.stats);
        // A location's query string may carry a signature; it is not shown.
        let location = self
            .target
            .url()
            .split('?')
            .next()
            .unwrap_or_default()
            .to_string();
        let holder = self.lease.holder.clone();
        Arc::new(move || {
            let mut status = stats.summary();
            status["location"] = location.clone().into();
            status["leaseHolder"] = holder.clone().into();
            status
        })
    }

    pub fn observer(&self) -> Arc<dyn CommitObserver> {
        self.buffer.clone()
    }

    /// Starts the backup; its first snapshot is taken before this returns.
    pub async fn start(self, backend: Arc<dyn Backend>) -> Result<BackupService, String> {
        BackupService::start(
            self.target,
            backend,
            self.lease,
            self.buffer,
            self.config,
            self.stats,
        )
        .await
        .map_err(|e| format!("cannot start the backup: {e}"))
    }
}

/// Takes the writer lease and restores an empty data dir.
pub async fn prepare(args: &BackupArgs, url: &str, data_dir: &Path) -> Result<Prepared, String> {
    let target = location(url, args.backup_encryption_key.as_deref())?;
    if args.backup_encryption_key.is_none() {
        tracing::warn!(
            "the backup holds the account's keys and documents unencrypted; give \
             --backup-encryption-key to encrypt them"
        );
    }
    target
        .prepare_for_writing()
        .await
        .map_err(|e| e.to_string())?;
    let claimant = Claimant {
        holder: holder_description(data_dir),
        instance: match &args.instance_id {
            Some(id) if !id.trim().is_empty() => id.trim().to_string(),
            _ => instance_id(data_dir)?,
        },
        ttl: args.lease_ttl,
    };
    let lease = Lease::acquire(&target, &claimant)
        .await
        .map_err(|e| format!("cannot become the writer of {url}: {e}"))?;
    let file = data_dir.join(RedbBackend::FILE_NAME);
    if file.exists() {
        tracing::info!("data dir has a store; not restoring");
    } else if args.skip_restore {
        say("Not restoring (--skip-restore): starting with an empty database");
    } else {
        match restore(&target, &file, RestorePoint::Latest).await {
            Ok(report) if report.gap_after.is_some() && !args.allow_partial_restore => {
                let refused = refuse_partial(&report, &file, false);
                let _ = lease.release(&target).await;
                return Err(format!(
                    "cannot restore from {url}: {}",
                    refused.err().unwrap_or_default()
                ));
            }
            Ok(report) => {
                say(&format!(
                    "Restored from {url}: snapshot {} plus {} commits from {} segments, up to commit {}",
                    report.snapshot.name(),
                    report.commits,
                    report.segments,
                    report.position.seq
                ));
                if let Err(err) = restore_account(&target, data_dir, u64::MAX).await {
                    let _ = lease.release(&target).await;
                    return Err(err);
                }
            }
            Err(BackupError::NoBackup(_)) => say(&format!(
                "No backup at {url} yet: starting with an empty database"
            )),
            Err(err) => {
                let _ = lease.release(&target).await;
                return Err(format!("cannot restore from {url}: {err}"));
            }
        }
    }
    let stats = Arc::new(BackupStats::default());
    Ok(Prepared {
        buffer: Arc::new(CommitBuffer::new(DEFAULT_CAP_BYTES, Arc::clone(&stats))),
        target,
        lease,
        config: BackupConfig {
            interval: args.backup_interval,
            snapshot_every: args.snapshot_interval,
            retention: args.backup_retention,
            lease_ttl: args.lease_ttl,
            verify_every: args.backup_verify_interval,
            account: Some(account_source(data_dir)),
        },
        stats,
    })
}

/// The server's identity for the lease when `--instance-id` is not given:
/// the host name and the data dir's path. A restart on the same data dir
/// takes its lease back at once, and so does a replacement with the same
/// name and mount path (a StatefulSet pod on a new volume), while two
/// servers on one host, with two data dirs, stay two writers. A data dir
/// from before this keeps the id it recorded.
fn instance_id(data_dir: &Path) -> Result<String, String> {
    let recorded = data_dir.join("instance-id");
    if let Ok(id) = std::fs::read_to_string(&recorded) {
        if !id.trim().is_empty() {
            return Ok(id.trim().to_string());
        }
    }
    let dir = std::fs::canonicalize(data_dir).unwrap_or_else(|_| data_dir.to_path_buf());
    Ok(format!("{}:{}", host_name(), dir.display()))
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|| "unknown host".into())
}

fn holder_description(data_dir: &Path) -> String {
    let dir = std::fs::canonicalize(data_dir).unwrap_or_else(|_| data_dir.to_path_buf());
    format!(
        "host {}, pid {}, data dir {}",
        host_name(),
        std::process::id(),
        dir.display()
    )
}

/// `cosmonaut restore`.
#[derive(clap::Args)]
pub struct RestoreArgs {
    /// The backup location.
    #[arg(long)]
    from: String,
    /// Restore the state as of this time (RFC 3339, e.g. 2026-01-01T12:00:00Z);
    /// the newest state when absent.
    #[arg(long)]
    to_time: Option<String>,
    /// An empty (or missing) data dir to restore into.
    #[arg(long, env = "COSMONAUT_DATA_DIR")]
    data_dir: PathBuf,
    /// Accept a restore that stops short of the asked-for point because the
    /// backup log is missing segments (the error names the point it reaches).
    #[arg(long)]
    allow_partial_restore: bool,
    /// The key the backup was encrypted with (see `serve --backup-encryption-key`).
    #[arg(long, env = "COSMONAUT_BACKUP_ENCRYPTION_KEY", hide_env_values = true)]
    backup_encryption_key: Option<String>,
}

pub fn run_restore(args: RestoreArgs) -> Result<(), String> {
    let point = match &args.to_time {
        None => RestorePoint::Latest,
        Some(text) => {
            let time = humantime::parse_rfc3339_weak(text).map_err(|e| {
                format!("--to-time {text}: {e} (expected e.g. 2026-01-01T12:00:00Z)")
            })?;
            let ms = time
                .duration_since(UNIX_EPOCH)
                .map_err(|_| format!("--to-time {text} is before 1970"))?
                .as_millis() as u64;
            RestorePoint::At(ms)
        }
    };
    std::fs::create_dir_all(&args.data_dir)
        .map_err(|e| format!("cannot create {}: {e}", args.data_dir.display()))?;
    let runtime = runtime()?;
    let file = args.data_dir.join(RedbBackend::FILE_NAME);
    let report = runtime.block_on(async {
        let target = location(&args.from, args.backup_encryption_key.as_deref())?;
        let report = restore(&target, &file, point)
            .await
            .map_err(|e| e.to_string())?;
        refuse_partial(&report, &file, args.allow_partial_restore)?;
        let until = match point {
            RestorePoint::Latest => u64::MAX,
            RestorePoint::At(ms) => ms,
        };
        restore_account(&target, &args.data_dir, until).await?;
        Ok::<_, String>(report)
    })?;
    outln!(
        "Restored snapshot {} ({} entries) and {} commits from {} segments into {}; the store is at commit {} of {}",
        report.snapshot.name(),
        report.snapshot_entries,
        report.commits,
        report.segments,
        args.data_dir.display(),
        report.position.seq,
        format_ms(report.position.time_ms),
    );
    if let Some(seq) = report.gap_after {
        outln!("warning: the log is missing segments after commit {seq}; later commits were not restored (--allow-partial-restore)");
    }
    Ok(())
}

/// A restore that stopped at a gap in the backup log did not reach the
/// point it was asked for: unless told to accept that, it is undone and
/// refused, naming the point it could reach.
fn refuse_partial(report: &RestoreReport, file: &Path, allow: bool) -> Result<(), String> {
    let Some(seq) = report.gap_after else {
        return Ok(());
    };
    if allow {
        return Ok(());
    }
    let _ = std::fs::remove_file(file);
    let _ = RedbBackend::discard_log(file);
    Err(format!(
        "the backup log is missing segments after commit {seq} (of {}): a restore can reach \
         that point but not the one asked for, so nothing was restored. Run again with \
         --allow-partial-restore to accept the state as of commit {seq}",
        format_ms(report.position.time_ms)
    ))
}

/// `cosmonaut backup list`.
pub fn run_list(from: &str) -> Result<(), String> {
    let runtime = runtime()?;
    let catalog = runtime.block_on(async {
        let target = Target::from_url(from).map_err(|e| e.to_string())?;
        Catalog::read(&target).await.map_err(|e| e.to_string())
    })?;
    let generations = catalog.generations();
    if generations.is_empty() {
        outln!("No backup at {from}");
        return Ok(());
    }
    let chunk_bytes: u64 = catalog.chunks.iter().map(|(_, size)| size).sum();
    outln!(
        "{} chunks ({} bytes) shared by {} snapshots",
        catalog.chunks.len(),
        chunk_bytes,
        catalog.snapshots.len()
    );
    for generation in generations {
        outln!("generation {}:", generation.epoch);
        for snapshot in &generation.snapshots {
            outln!(
                "  snapshot at {}  commit {}",
                format_ms(snapshot.name.taken_ms),
                snapshot.name.seq
            );
        }
        if let Some((first, last, last_ms)) = generation.log {
            outln!(
                "  log: commits {first}..={last} in {} segments ({} bytes), last at {}",
                generation.segments,
                generation.segment_bytes,
                format_ms(last_ms)
            );
        }
        for (first, last) in &generation.gaps {
            outln!("  MISSING: commits {first}..={last} (no segment holds them; a restore stops before them)");
        }
    }
    Ok(())
}

fn format_ms(ms: u64) -> String {
    humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_millis(ms)).to_string()
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Runtime::new().map_err(|e| format!("cannot start the runtime: {e}"))
}
