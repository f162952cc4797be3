//! The backend against a real PostgreSQL server, named by the URL in
//! COSMONAUT_TEST_POSTGRES (scripts/test.sh starts one with
//! tests/postgres/pg.sh). Without it these tests say so and pass.

use std::sync::Arc;
use std::time::Duration;

use cosmonaut_storage::{Backend, KvRead, StorageError, Store};
use cosmonaut_storage_postgres::{PostgresBackend, PostgresOptions};

/// A new, empty database on the test server, as a URL; `None` without a server.
async fn fresh_database() -> Option<String> {
    let Ok(url) = std::env::var("COSMONAUT_TEST_POSTGRES") else {
        eprintln!("COSMONAUT_TEST_POSTGRES is not set: skipped");
        return None;
    };
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .expect("connect to the test server");
    tokio::spawn(connection);
    let name = format!("t{}", uuid_like());
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create database");
    let (base, query) = url.split_once('?').unwrap_or((&url, ""));
    let base = base.rsplit_once('/').map_or(base, |(server, _)| server);
    Some(format!("{base}/{name}?{query}"))
}

fn uuid_like() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{nanos:x}{:x}", std::process::id())
}

fn open(url: &str) -> Arc<PostgresBackend> {
    Arc::new(
        PostgresBackend::connect(url, &PostgresOptions::default(), Duration::from_secs(10))
            .expect("open the backend"),
    )
}

fn key(n: u32) -> Vec<u8> {
    let mut k = vec![0x40];
    k.extend_from_slice(&n.to_be_bytes());
    k
}

#[tokio::test]
async fn reads_see_commits_in_key_order() {
    let Some(url) = fresh_database().await else {
        return;
    };
    let store = Store::new(open(&url)).expect("store");
    store
        .transact(|txn| {
            for n in [3, 1, 2, 5] {
                txn.put(key(n), vec![n as u8]);
            }
            Ok::<_, StorageError>(())
        })
        .await
        .expect("write");
    store
        .transact(|txn| {
            txn.delete(key(5));
            Ok::<_, StorageError>(())
        })
        .await
        .expect("delete");
    let snapshot = store.snapshot().expect("snapshot");
    assert_eq!(snapshot.get(&key(2)).expect("get"), Some(vec![2]));
    assert_eq!(snapshot.get(&key(5)).expect("get"), None);
    let keys: Vec<_> = snapshot
        .scan(&key(0), &key(9), 10)
        .expect("scan")
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(keys, vec![key(1), key(2), key(3)]);
    let last = snapshot.scan_rev(&key(0), &key(9), 1).expect("scan");
    assert_eq!(last, vec![(key(3), vec![3])]);
    let many = snapshot
        .get_many(&[key(3), key(5), key(1)])
        .expect("get_many");
    assert_eq!(many, vec![Some(vec![3]), None, Some(vec![1])]);
    // Counted by PostgreSQL.
    assert_eq!(snapshot.count(&key(0), &key(9)).expect("count"), 3);
    assert_eq!(snapshot.count(&key(2), &key(3)).expect("count"), 1);
    assert_eq!(snapshot.count(&key(9), &key(0)).expect("count"), 0);
}

#[tokio::test]
async fn a_snapshot_keeps_its_view_while_others_commit() {
    let Some(url) = fresh_database().await else {
        return;
    };
    let backend = open(&url);
    backend
        .commit(&[(key(1), Some(b"old".to_vec()))])
        .expect("commit");
    let snapshot = backend.snapshot().expect("snapshot");
    assert_eq!(snapshot.get(&key(1)).expect("get"), Some(b"old".to_vec()));
    backend
        .commit(&[
            (key(1), Some(b"new".to_vec())),
            (key(2), Some(b"x".to_vec())),
        ])
        .expect("commit");
    assert_eq!(snapshot.get(&key(1)).expect("get"), Some(b"old".to_vec()));
    assert_eq!(snapshot.get(&key(2)).expect("get"), None);
    drop(snapshot);
    let fresh = backend.snapshot().expect("snapshot");
    assert_eq!(fresh.get(&key(1)).expect("get"), Some(b"new".to_vec()));
}

/// Two stores over one database, as two gateways: read-modify-write
/// closures on both never lose an update.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stores_on_one_database_serialize_their_writes() {
    let Some(url) = fresh_database().await else {
        return;
    };
    let stores = [
        Arc::new(Store::new(open(&url)).expect("store")),
        Arc::new(Store::new(open(&url)).expect("store")),
    ];
    let mut tasks = Vec::new();
    for store in &stores {
        for _ in 0..4 {
            let store = Arc::clone(store);
            tasks.push(tokio::spawn(async move {
                for _ in 0..25 {
                    store
                        .transact(|txn| {
                            let n = txn
                                .get(&key(7))?
                                .map(|v| u64::from_be_bytes(v.try_into().unwrap_or([0; 8])))
                                .unwrap_or(0);
                            txn.put(key(7), (n + 1).to_be_bytes().to_vec());
                            Ok::<_, StorageError>(())
                        })
                        .await
                        .expect("increment");
                }
            }));
        }
    }
    for task in tasks {
        task.await.expect("task");
    }
    for store in &stores {
        let value = store
            .snapshot()
            .expect("snapshot")
            .get(&key(7))
            .expect("get");
        assert_eq!(value, Some(200u64.to_be_bytes().to_vec()));
    }
}

#[test]
fn an_unreachable_server_is_unavailable_not_an_error() {
    // Nothing listens on port 1 of loopback.
    let url = "postgres://cosmonaut@127.0.0.1:1/postgres?sslmode=disable";
    let options = PostgresOptions {
        connect_timeout: Duration::from_millis(500),
        ..PostgresOptions::default()
    };
    match PostgresBackend::connect(url, &options, Duration::from_millis(300)) {
        Err(StorageError::Unavailable(why)) => assert!(why.contains("PostgreSQL"), "{why}"),
        Err(other) => panic!("expected Unavailable, got {other}"),
        Ok(_) => panic!("connected to nothing"),
    }
}
