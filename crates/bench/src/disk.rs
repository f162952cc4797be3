//! `cosmonaut-bench disk`: what a log sync costs on this disk. Times
//! `write` + `fdatasync` of records of a few sizes, appended to a growing
//! file and written over a file whose blocks already exist, as the
//! write-ahead log does in a fresh file and in a reused one.

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct DiskArgs {
    /// A directory on the disk to measure (the data dir's disk).
    #[arg(long, default_value = ".")]
    dir: PathBuf,
    /// Syncs timed per record size and mode.
    #[arg(long, default_value_t = 500)]
    syncs: u32,
    /// Record sizes in bytes: a group commit's log record is about 2.7 KB per 1 KB create.
    #[arg(long, value_delimiter = ',', default_value = "3000,12000,33000,66000")]
    sizes: Vec<usize>,
}

pub fn run(args: DiskArgs) -> Result<(), String> {
    let path = args.dir.join(".cosmonaut-bench-disk");
    println!(
        "{:>8}  {:>16}  {:>16}",
        "bytes", "append+sync µs", "overwrite+sync µs"
    );
    for &size in &args.sizes {
        let append = time_syncs(&path, size, args.syncs, false).map_err(|e| e.to_string())?;
        let overwrite = time_syncs(&path, size, args.syncs, true).map_err(|e| e.to_string())?;
        println!(
            "{size:>8}  {:>16.0}  {:>16.0}",
            micros(append, args.syncs),
            micros(overwrite, args.syncs)
        );
    }
    let _ = std::fs::remove_file(&path);
    Ok(())
}

fn micros(total: Duration, syncs: u32) -> f64 {
    total.as_secs_f64() * 1e6 / f64::from(syncs.max(1))
}

fn time_syncs(
    path: &Path,
    size: usize,
    syncs: u32,
    preallocated: bool,
) -> std::io::Result<Duration> {
    let mut file: File = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)?;
    let record: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
    if preallocated {
        let zeros = vec![0u8; 1 << 20];
        let needed = size as u64 * u64::from(syncs);
        let mut written = 0;
        while written < needed {
            file.write_all(&zeros)?;
            written += zeros.len() as u64;
        }
        file.sync_all()?;
        file.seek(SeekFrom::Start(0))?;
    }
    let started = Instant::now();
    for _ in 0..syncs {
        file.write_all(&record)?;
        file.sync_data()?;
    }
    Ok(started.elapsed())
}
