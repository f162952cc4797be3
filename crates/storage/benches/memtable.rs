//! Criterion micro-benchmarks of the memtable with keys shaped like the
//! engine's: each "create" writes an item, six index entries (one with a
//! 256-byte string every item shares, as the load generator's padding
//! does), a change-feed entry, the item's feed position and the container's
//! counters, and creates come in group commits of 16.
//! The same operations run on a versioned map over crossbeam-skiplist, the
//! maintained concurrent skip list, to weigh ours against it.
//! `cargo bench -p cosmonaut-storage --bench memtable`

use std::cmp::Reverse;
use std::hint::black_box;
use std::ops::Bound;

use cosmonaut_storage::memtable::Memtable;
use cosmonaut_storage::Write;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use crossbeam_skiplist::SkipMap;

// The server's allocator, so allocation costs as much as it does there.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const CREATES: u64 = 20_000;
const GROUP: u64 = 16;
const RID: [u8; 8] = [0x11, 0x22, 0x33, 0x44, 0, 0, 0, 1];

/// A partition key's hash: 16 bytes that look random.
fn epk(n: u64) -> [u8; 16] {
    let mut x = (n % 100).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = [0u8; 16];
    for chunk in out.chunks_mut(8) {
        x ^= x >> 31;
        x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
        chunk.copy_from_slice(&x.to_be_bytes());
    }
    out
}

fn suffix(n: u64) -> Vec<u8> {
    let mut s = epk(n).to_vec();
    s.extend_from_slice(&[0, 1]);
    s.extend_from_slice(format!("i{n}").as_bytes());
    s
}

fn with_rid(tag: u8) -> Vec<u8> {
    let mut key = vec![tag];
    key.extend_from_slice(&RID);
    key
}

fn index_entry(path: &str, value: &[u8], suffix: &[u8]) -> Vec<u8> {
    let mut key = with_rid(0x50);
    key.push(0x02);
    key.extend_from_slice(path.as_bytes());
    key.extend_from_slice(&[0, 1, 0]);
    key.extend_from_slice(value);
    key.extend_from_slice(suffix);
    key
}

fn string(text: &[u8]) -> Vec<u8> {
    let mut v = vec![0x05];
    v.extend_from_slice(text);
    v.extend_from_slice(&[0, 1]);
    v
}

fn number(n: u64) -> Vec<u8> {
    let mut v = vec![0x04];
    v.extend_from_slice(&(n as f64).to_bits().to_be_bytes());
    v
}

/// The writes of create `n`.
fn create(n: u64, out: &mut Vec<Write>) {
    let suffix = suffix(n);
    let mut item = with_rid(0x40);
    item.extend_from_slice(&suffix);
    out.push((item, Some(vec![b'{'; 1100])));
    let mut padding = vec![0x05];
    padding.extend_from_slice(&[b'x'; 256]);
    padding.extend_from_slice(&[0, 2]);
    for (path, value) in [
        ("id", string(format!("i{n}").as_bytes())),
        ("pk", string(format!("p{}", n % 100).as_bytes())),
        ("n", number(n)),
        ("v", number(0)),
        ("payload", padding),
        ("_ts", number(1_764_000_000 + n / 10_000)),
    ] {
        out.push((index_entry(path, &value, &suffix), Some(Vec::new())));
    }
    let mut change = with_rid(0x60);
    change.extend_from_slice(&(n + 1).to_be_bytes());
    change.extend_from_slice(&suffix);
    out.push((change, Some(Vec::new())));
    let mut position = with_rid(0x61);
    position.extend_from_slice(&suffix);
    out.push((position, Some((n + 1).to_be_bytes().to_vec())));
}

/// Creates `0..CREATES` in groups, as the writer applies them: each group's
/// writes sorted, the container's counters written once per group.
fn groups() -> Vec<Vec<Write>> {
    (0..CREATES / GROUP)
        .map(|g| {
            let mut writes = Vec::new();
            for n in g * GROUP..(g + 1) * GROUP {
                create(n, &mut writes);
            }
            writes.push((with_rid(0x30), Some(vec![7; 48])));
            writes.sort();
            writes
        })
        .collect()
}

/// The memtable's contract on crossbeam-skiplist: a key's versions newest
/// first, each lookup building the owned key the map's `Borrow` bound needs.
#[derive(Default)]
struct CrossbeamTable {
    entries: SkipMap<Version, Option<Box<[u8]>>>,
}

/// A key at one commit; a key's newer versions sort first.
type Version = (Box<[u8]>, Reverse<u64>);

impl CrossbeamTable {
    fn insert(&self, seq: u64, writes: &[Write]) {
        for (key, value) in writes {
            self.entries.insert(
                (key.as_slice().into(), Reverse(seq)),
                value.as_deref().map(Into::into),
            );
        }
    }

    fn get(&self, key: &[u8], at: u64) -> Option<Option<Vec<u8>>> {
        let target = (Box::<[u8]>::from(key), Reverse(at));
        let entry = self.entries.lower_bound(Bound::Included(&target))?;
        (&*entry.key().0 == key).then(|| entry.value().as_deref().map(<[u8]>::to_vec))
    }

    /// The live keys in `start..end`, each at its newest version.
    fn range(&self, start: &[u8], end: &[u8], descending: bool) -> usize {
        let from = (Box::<[u8]>::from(start), Reverse(u64::MAX));
        let to = (Box::<[u8]>::from(end), Reverse(u64::MAX));
        let range = self.entries.range(from..to);
        let mut count = 0;
        if descending {
            // Going down, a key's versions come oldest first: its newest is
            // the last of its run.
            let mut run: Option<(Box<[u8]>, bool)> = None;
            for entry in range.rev() {
                if run.as_ref().is_some_and(|(key, _)| *key != entry.key().0) {
                    count += usize::from(run.take().is_some_and(|(_, live)| live));
                }
                run = Some((entry.key().0.clone(), entry.value().is_some()));
            }
            count += usize::from(run.is_some_and(|(_, live)| live));
        } else {
            let mut last: Option<Box<[u8]>> = None;
            for entry in range {
                if last.as_ref() != Some(&entry.key().0) {
                    count += usize::from(entry.value().is_some());
                    last = Some(entry.key().0.clone());
                }
            }
        }
        count
    }

    /// What a flush writes: each key's newest version, in key order.
    fn walk(&self) -> usize {
        let mut bytes = 0;
        let mut last: Option<Box<[u8]>> = None;
        for entry in self.entries.iter() {
            if last.as_ref() != Some(&entry.key().0) {
                bytes += entry.key().0.len() + entry.value().as_deref().map_or(0, <[u8]>::len);
                last = Some(entry.key().0.clone());
            }
        }
        bytes
    }
}

/// What the benchmark does to a table, so both run the same code.
trait Table: Sized {
    fn filled(groups: &[Vec<Write>]) -> Self;
    fn get(&self, key: &[u8]) -> Option<Option<Vec<u8>>>;
    /// The live keys in `start..end`.
    fn count(&self, start: &[u8], end: &[u8], descending: bool) -> usize;
    /// The bytes a flush would write.
    fn walk(&self) -> usize;
}

impl Table for Memtable {
    fn filled(groups: &[Vec<Write>]) -> Self {
        let table = Memtable::default();
        for (seq, writes) in groups.iter().enumerate() {
            table.insert(seq as u64 + 1, writes);
        }
        table
    }

    fn get(&self, key: &[u8]) -> Option<Option<Vec<u8>>> {
        Memtable::get(self, key, u64::MAX)
    }

    fn count(&self, start: &[u8], end: &[u8], descending: bool) -> usize {
        self.range(start, end, u64::MAX, descending)
            .filter(|(_, v)| v.is_some())
            .count()
    }

    fn walk(&self) -> usize {
        let mut bytes = 0;
        self.for_each_newest(None, |k, v| {
            bytes += k.len() + v.map_or(0, <[u8]>::len);
            Ok::<_, ()>(true)
        })
        .ok();
        bytes
    }
}

impl Table for CrossbeamTable {
    fn filled(groups: &[Vec<Write>]) -> Self {
        let table = CrossbeamTable::default();
        for (seq, writes) in groups.iter().enumerate() {
            table.insert(seq as u64 + 1, writes);
        }
        table
    }

    fn get(&self, key: &[u8]) -> Option<Option<Vec<u8>>> {
        CrossbeamTable::get(self, key, u64::MAX)
    }

    fn count(&self, start: &[u8], end: &[u8], descending: bool) -> usize {
        self.range(start, end, descending)
    }

    fn walk(&self) -> usize {
        CrossbeamTable::walk(self)
    }
}

fn bench<T: Table>(c: &mut Criterion, name: &str) {
    let groups = groups();
    let entries: usize = groups.iter().map(Vec::len).sum();
    let mut group = c.benchmark_group(name);
    group.sample_size(10);
    group.bench_function(format!("fill {entries} entries"), |b| {
        b.iter_batched(|| (), |()| T::filled(&groups), BatchSize::PerIteration)
    });
    let table = T::filled(&groups);
    let mut absent = with_rid(0x40);
    absent.extend_from_slice(&suffix(CREATES + 7));
    group.bench_function("get, absent item", |b| {
        b.iter(|| black_box(table.get(black_box(&absent))))
    });
    let mut present = with_rid(0x40);
    present.extend_from_slice(&suffix(CREATES / 2));
    group.bench_function("get, present item", |b| {
        b.iter(|| black_box(table.get(black_box(&present))))
    });
    let start = index_entry("n", &number(CREATES / 2), &[]);
    let end = index_entry("n", &number(CREATES / 2 + 100), &[]);
    group.bench_function("range of 100, ascending", |b| {
        b.iter(|| black_box(table.count(&start, &end, false)))
    });
    group.bench_function("range of 100, descending", |b| {
        b.iter(|| black_box(table.count(&start, &end, true)))
    });
    group.bench_function("flush walk", |b| b.iter(|| black_box(table.walk())));
    group.bench_function(format!("drop {entries} entries"), |b| {
        b.iter_batched(|| T::filled(&groups), drop, BatchSize::PerIteration)
    });
    group.finish();
}

fn memtable(c: &mut Criterion) {
    bench::<Memtable>(c, "memtable");
}

fn crossbeam(c: &mut Criterion) {
    bench::<CrossbeamTable>(c, "crossbeam-skiplist");
}

criterion_group!(benches, memtable, crossbeam);
criterion_main!(benches);
