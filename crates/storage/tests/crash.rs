//! Durability across a real crash: a child process commits as fast as it can
//! and reports each commit once `commit` has returned; the parent kills it
//! with SIGKILL mid-stream, reopens the file and finds every reported commit.
//! The child is this test binary again, told its role by an environment variable.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cosmonaut_storage::{Backend, RedbBackend};

const CHILD_DIR: &str = "COSMONAUT_CRASH_CHILD_DIR";

fn key(n: u64) -> Vec<u8> {
    [&[1u8][..], &n.to_be_bytes()].concat()
}

fn value(n: u64) -> Vec<u8> {
    // Big enough that commits dirty many pages between checkpoints.
    n.to_le_bytes().repeat(64)
}

/// The child's work: commit key n (and delete key n-3), print n, forever.
fn run_child(dir: &Path) -> ! {
    // Checkpoints every 200 ms, so every crash but the shortest falls after some.
    let backend = RedbBackend::open(&dir.join(RedbBackend::FILE_NAME))
        .expect("child open")
        .checkpoint_every(Duration::from_millis(200));
    for n in 1.. {
        let mut writes = vec![(key(n), Some(value(n)))];
        if n > 3 && n % 2 == 0 {
            writes.push((key(n - 3), None));
        }
        backend.commit(&writes).expect("child commit");
        println!("{n}");
    }
    unreachable!()
}

#[test]
fn every_acknowledged_commit_survives_sigkill() {
    if let Ok(dir) = std::env::var(CHILD_DIR) {
        run_child(Path::new(&dir));
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let mut highest_seen = 0;
    // Several crashes, each after a different amount of work and checkpoints.
    for (round, run_for) in [300u64, 2500, 900].into_iter().enumerate() {
        let mut child = Command::new(std::env::current_exe().expect("test binary"))
            .args([
                "--exact",
                "every_acknowledged_commit_survives_sigkill",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_DIR, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn child");
        let stdout = child.stdout.take().expect("stdout");
        let started = Instant::now();
        let mut acknowledged = 0;
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Ok(n) = line.trim().parse::<u64>() {
                acknowledged = n;
            }
            if started.elapsed() >= Duration::from_millis(run_for) {
                child.kill().expect("SIGKILL");
                break;
            }
        }
        let _ = child.wait();
        assert!(
            acknowledged > 0,
            "round {round}: the child committed nothing"
        );

        let backend = RedbBackend::open(&dir.path().join(RedbBackend::FILE_NAME)).expect("reopen");
        let snapshot = backend.snapshot().expect("snapshot");
        for n in (1..=acknowledged).rev().take(500) {
            let found = snapshot.get(&key(n)).expect("get");
            let deletable = (n + 3) % 2 == 0;
            if deletable && n + 3 <= acknowledged {
                assert_eq!(found, None, "round {round}: key {n} was deleted");
            } else if deletable && found.is_none() {
                // Deleted by a commit the child made after its last report: fine.
            } else {
                assert_eq!(
                    found,
                    Some(value(n)),
                    "round {round}: acknowledged key {n} lost"
                );
            }
        }
        highest_seen = highest_seen.max(acknowledged);
        // The next child restarts numbering from 1 over the same keys.
    }
    assert!(highest_seen > 0);
}

#[test]
fn a_clean_close_checkpoints_and_leaves_no_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join(RedbBackend::FILE_NAME);
    {
        let backend = RedbBackend::open(&file).expect("open");
        for n in 0..100 {
            backend.commit(&[(key(n), Some(value(n)))]).expect("commit");
        }
    }
    let logs: Vec<_> = std::fs::read_dir(dir.path())
        .expect("list")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains("-wal"))
        .collect();
    assert!(logs.is_empty(), "a log was left behind: {logs:?}");
    let backend = RedbBackend::open(&file).expect("reopen");
    let snapshot = backend.snapshot().expect("snapshot");
    assert_eq!(snapshot.get(&key(99)).expect("get"), Some(value(99)));
}
