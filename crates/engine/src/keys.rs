//! How resources map onto the ordered key space.
//!
//! Items are keyed by container, then EPK, then id, so one physical partition
//! (an EPK interval) is one contiguous key range and a partition key's items
//! sit together. EPK bytes are escaped (0x00 -> 0x00 0xFF, end 0x00 0x01) so
//! variable-length EPKs keep their order and never run into the id.

use crate::index::Segment;
use crate::partition::Epk;

const META: u8 = 0x01;
const ACCOUNT_FILE: u8 = 0x02;
const GATEWAY: u8 = 0x03;
const DATABASE: u8 = 0x10;
const CONTAINER: u8 = 0x20;
const COUNTERS: u8 = 0x30;
const ITEM: u8 = 0x40;
const INDEX: u8 = 0x50;
const CHANGES: u8 = 0x60;
const USER: u8 = 0x70;
const PERMISSION: u8 = 0x71;
const SCRIPT: u8 = 0x80;

pub fn meta() -> Vec<u8> {
    vec![META]
}

/// One of the account's own files (its keys, its role assignments), by name.
pub fn account_file(name: &str) -> Vec<u8> {
    with_prefix(ACCOUNT_FILE, name.as_bytes())
}

/// A gateway's presence record, by instance id.
pub fn gateway(instance: &str) -> Vec<u8> {
    with_prefix(GATEWAY, instance.as_bytes())
}

/// Every gateway's presence record.
pub fn gateways() -> (Vec<u8>, Vec<u8>) {
    (vec![GATEWAY], vec![GATEWAY + 1])
}

pub fn database(id: &str) -> Vec<u8> {
    with_prefix(DATABASE, id.as_bytes())
}

pub fn databases() -> (Vec<u8>, Vec<u8>) {
    (vec![DATABASE], vec![DATABASE + 1])
}

pub fn container(db: &str, id: &str) -> Vec<u8> {
    let mut key = containers_prefix(db);
    key.extend_from_slice(id.as_bytes());
    key
}

/// Every container of every database.
pub fn all_containers() -> (Vec<u8>, Vec<u8>) {
    (vec![CONTAINER], vec![CONTAINER + 1])
}

pub fn containers(db: &str) -> (Vec<u8>, Vec<u8>) {
    let prefix = containers_prefix(db);
    let end = prefix_end(&prefix);
    (prefix, end)
}

fn containers_prefix(db: &str) -> Vec<u8> {
    let mut key = vec![CONTAINER];
    // Ids are at most 255 characters, so the length fits; it keeps "a"+"bc" apart from "ab"+"c".
    key.extend_from_slice(&(db.len() as u32).to_be_bytes());
    key.extend_from_slice(db.as_bytes());
    key
}

/// `tag`, then each part with its length first, so no two part lists share keys.
fn nested(tag: u8, parts: &[&str]) -> Vec<u8> {
    let mut key = vec![tag];
    for part in parts {
        key.extend_from_slice(&(part.len() as u32).to_be_bytes());
        key.extend_from_slice(part.as_bytes());
    }
    key
}

fn range_of(prefix: Vec<u8>) -> (Vec<u8>, Vec<u8>) {
    let end = prefix_end(&prefix);
    (prefix, end)
}

pub fn user(db: &str, user: &str) -> Vec<u8> {
    nested(USER, &[db, user])
}

pub fn users(db: &str) -> (Vec<u8>, Vec<u8>) {
    range_of(nested(USER, &[db]))
}

pub fn permission(db: &str, user: &str, permission: &str) -> Vec<u8> {
    nested(PERMISSION, &[db, user, permission])
}

pub fn permissions(db: &str, user: &str) -> (Vec<u8>, Vec<u8>) {
    range_of(nested(PERMISSION, &[db, user]))
}

/// Every permission of every user of a database.
pub fn database_permissions(db: &str) -> (Vec<u8>, Vec<u8>) {
    range_of(nested(PERMISSION, &[db]))
}

/// A container's stored procedure, trigger or user-defined function
/// (`kind` tells which), by id.
pub fn script(container_rid: &[u8; 8], kind: u8, id: &str) -> Vec<u8> {
    let mut key = with_prefix(SCRIPT, container_rid);
    key.push(kind);
    key.extend_from_slice(id.as_bytes());
    key
}

/// A container's scripts of one kind.
pub fn scripts(container_rid: &[u8; 8], kind: u8) -> (Vec<u8>, Vec<u8>) {
    let mut prefix = with_prefix(SCRIPT, container_rid);
    prefix.push(kind);
    range_of(prefix)
}

/// Every script of a container.
pub fn all_scripts(container_rid: &[u8; 8]) -> (Vec<u8>, Vec<u8>) {
    range_of(with_prefix(SCRIPT, container_rid))
}

pub fn counters(container_rid: &[u8; 8]) -> Vec<u8> {
    with_prefix(COUNTERS, container_rid)
}

pub fn item(container_rid: &[u8; 8], epk: &Epk, id: &str) -> Vec<u8> {
    let mut key = epk_start(container_rid, epk);
    key.extend_from_slice(&TERMINATOR);
    key.extend_from_slice(id.as_bytes());
    key
}

/// Every item of a container.
pub fn items(container_rid: &[u8; 8]) -> (Vec<u8>, Vec<u8>) {
    let prefix = with_prefix(ITEM, container_rid);
    let end = prefix_end(&prefix);
    (prefix, end)
}

/// Items whose EPK lies in `[min, max)`; `None` is the end of the EPK space.
pub fn epk_range(container_rid: &[u8; 8], min: &Epk, max: Option<&Epk>) -> (Vec<u8>, Vec<u8>) {
    let start = epk_start(container_rid, min);
    let end = match max {
        Some(max) => epk_start(container_rid, max),
        None => items(container_rid).1,
    };
    (start, end)
}

/// Items of exactly this EPK (`full`), or of every EPK it is a prefix of
/// (hierarchical keys addressed by their leading components).
pub fn epk_items(container_rid: &[u8; 8], epk: &Epk, full: bool) -> (Vec<u8>, Vec<u8>) {
    let mut start = epk_start(container_rid, epk);
    if full {
        start.extend_from_slice(&TERMINATOR);
    }
    let end = prefix_end(&start);
    (start, end)
}

/// What follows the container in an item key (EPK and id).
pub fn item_suffix(item_key: &[u8]) -> &[u8] {
    item_key.get(9..).unwrap_or_default()
}

pub fn item_from_suffix(container_rid: &[u8; 8], suffix: &[u8]) -> Vec<u8> {
    let mut key = with_prefix(ITEM, container_rid);
    key.extend_from_slice(suffix);
    key
}

/// A change-feed entry: the container, the LSN of an item's latest write,
/// the item. One per item, moved forward by every write.
pub fn change(container_rid: &[u8; 8], lsn: u64, item_suffix: &[u8]) -> Vec<u8> {
    let mut key = with_prefix(CHANGES, container_rid);
    key.push(0x00);
    key.extend_from_slice(&lsn.to_be_bytes());
    key.extend_from_slice(item_suffix);
    key
}

/// An entry of the all-versions-and-deletes log: one per write or delete,
/// at its LSN, kept for the container's retention window.
pub fn version(container_rid: &[u8; 8], lsn: u64, item_suffix: &[u8]) -> Vec<u8> {
    let mut key = with_prefix(CHANGES, container_rid);
    key.push(0x02);
    key.extend_from_slice(&lsn.to_be_bytes());
    key.extend_from_slice(item_suffix);
    key
}

/// The all-versions-and-deletes entries after `lsn`.
pub fn versions_after(container_rid: &[u8; 8], lsn: u64) -> (Vec<u8>, Vec<u8>) {
    let mut start = with_prefix(CHANGES, container_rid);
    start.push(0x02);
    let end = prefix_end(&start);
    start.extend_from_slice(&lsn.saturating_add(1).to_be_bytes());
    (start, end)
}

/// The LSN and item key of an all-versions-and-deletes entry.
pub fn version_of(container_rid: &[u8; 8], entry: &[u8]) -> Option<(u64, Vec<u8>)> {
    let lsn = u64::from_be_bytes(entry.get(10..18)?.try_into().ok()?);
    Some((lsn, item_from_suffix(container_rid, entry.get(18..)?)))
}

/// The change-feed entries of writes after `lsn`.
pub fn changes_after(container_rid: &[u8; 8], lsn: u64) -> (Vec<u8>, Vec<u8>) {
    let mut start = with_prefix(CHANGES, container_rid);
    start.push(0x00);
    let end = prefix_end(&start);
    start.extend_from_slice(&lsn.saturating_add(1).to_be_bytes());
    (start, end)
}

/// The LSN and item key a change-feed entry names.
pub fn change_of(container_rid: &[u8; 8], entry: &[u8]) -> Option<(u64, Vec<u8>)> {
    let lsn = u64::from_be_bytes(entry.get(10..18)?.try_into().ok()?);
    Some((lsn, item_from_suffix(container_rid, entry.get(18..)?)))
}

/// Where an item's latest LSN is kept, to find its change-feed entry.
pub fn item_version(container_rid: &[u8; 8], item_suffix: &[u8]) -> Vec<u8> {
    let mut key = with_prefix(CHANGES, container_rid);
    key.push(0x01);
    key.extend_from_slice(item_suffix);
    key
}

/// Every change-feed key of a container.
pub fn all_changes(container_rid: &[u8; 8]) -> (Vec<u8>, Vec<u8>) {
    let start = with_prefix(CHANGES, container_rid);
    let end = prefix_end(&start);
    (start, end)
}

/// The start of a path's index entries: the container, then the path
/// (escaped and terminated, so one path is never a prefix of another).
pub fn index_path(container_rid: &[u8; 8], path: &[Segment]) -> Vec<u8> {
    index_path_with_room(container_rid, path, 0)
}

/// [`index_path`] in a buffer with `room` bytes to spare after it, for the
/// value and item an entry key goes on with.
pub fn index_path_with_room(container_rid: &[u8; 8], path: &[Segment], room: usize) -> Vec<u8> {
    let path_len: usize = path
        .iter()
        .map(|segment| match segment {
            Segment::Property(name) => name.len() + 1 + TERMINATOR.len(),
            Segment::Element => 1,
        })
        .sum();
    let mut key = Vec::with_capacity(1 + container_rid.len() + path_len + 1 + room);
    key.push(INDEX);
    key.extend_from_slice(container_rid);
    for segment in path {
        match segment {
            Segment::Property(name) => {
                key.push(0x02);
                push_escaped(&mut key, name.as_bytes());
                key.extend_from_slice(&TERMINATOR);
            }
            Segment::Element => key.push(0x01),
        }
    }
    key.push(0x00);
    key
}

/// After the container in an index key: what follows. Single paths start
/// with a segment tag (0x01, 0x02) or the path end (0x00).
const COMPOSITE_INDEX: u8 = 0x03;
const PRESENCE: u8 = 0x04;
// 0x05: expiry times, 0x06: unique keys (below).
const CUT: u8 = 0x07;

const EXPIRY: u8 = 0x05;

/// An item's expiry entry: the container, the second it expires, the item.
pub fn expiry(container_rid: &[u8; 8], at: i64, item_suffix: &[u8]) -> Vec<u8> {
    let mut key = with_prefix(INDEX, container_rid);
    key.push(EXPIRY);
    key.extend_from_slice(&at.max(0).to_be_bytes());
    key.extend_from_slice(item_suffix);
    key
}

/// The expiry entries of a container for items expired at `now`.
pub fn expired(container_rid: &[u8; 8], now: u64) -> (Vec<u8>, Vec<u8>) {
    let mut start = with_prefix(INDEX, container_rid);
    start.push(EXPIRY);
    let mut end = start.clone();
    let now = i64::try_from(now).unwrap_or(i64::MAX);
    end.extend_from_slice(&now.saturating_add(1).to_be_bytes());
    (start, end)
}

/// The item key an expiry entry names.
pub fn expired_item(container_rid: &[u8; 8], entry: &[u8]) -> Option<Vec<u8>> {
    let suffix = entry.get(1 + 8 + 1 + 8..)?;
    Some(item_from_suffix(container_rid, suffix))
}

const UNIQUE: u8 = 0x06;

/// A unique-key entry: the container, the key's number, the item's logical
/// partition (its EPK), then the values `push_values` appends. `None` when
/// the item suffix is malformed.
pub fn unique(
    container_rid: &[u8; 8],
    number: usize,
    item_suffix: &[u8],
    push_values: impl FnOnce(&mut Vec<u8>),
) -> Option<Vec<u8>> {
    // The suffix is the escaped EPK, the terminator, then the id; an escaped
    // EPK never holds the terminator, so its first occurrence ends the EPK.
    let epk_end = item_suffix.windows(2).position(|w| w == TERMINATOR)?;
    let mut key = with_prefix(INDEX, container_rid);
    key.push(UNIQUE);
    key.push(u8::try_from(number).ok()?);
    key.extend_from_slice(&item_suffix[..epk_end + 2]);
    push_values(&mut key);
    Some(key)
}

/// The start of a composite index's entries.
pub fn composite_index(container_rid: &[u8; 8], name: &str) -> Vec<u8> {
    let mut key = with_prefix(INDEX, container_rid);
    key.push(COMPOSITE_INDEX);
    push_escaped(&mut key, name.as_bytes());
    key.extend_from_slice(&TERMINATOR);
    key
}

/// The presence counter of the index whose entries start with `index_prefix`
/// (from [`index_path`] or [`composite_index`]).
pub fn index_presence(index_prefix: &[u8]) -> Vec<u8> {
    let head = 1 + 8;
    let mut key = Vec::with_capacity(index_prefix.len() + 1);
    key.extend_from_slice(&index_prefix[..head.min(index_prefix.len())]);
    key.push(PRESENCE);
    key.extend_from_slice(index_prefix.get(head..).unwrap_or_default());
    key
}

/// How many items have cut strings (see `index::encode`) in the index whose
/// entries start with `index_prefix`.
pub fn index_cut(index_prefix: &[u8]) -> Vec<u8> {
    let head = 1 + 8;
    let mut key = Vec::with_capacity(index_prefix.len() + 1);
    key.extend_from_slice(&index_prefix[..head.min(index_prefix.len())]);
    key.push(CUT);
    key.extend_from_slice(index_prefix.get(head..).unwrap_or_default());
    key
}

/// Every index entry of a container.
pub fn index(container_rid: &[u8; 8]) -> (Vec<u8>, Vec<u8>) {
    let prefix = with_prefix(INDEX, container_rid);
    let end = prefix_end(&prefix);
    (prefix, end)
}

fn epk_start(container_rid: &[u8; 8], epk: &Epk) -> Vec<u8> {
    let mut key = with_prefix(ITEM, container_rid);
    push_escaped(&mut key, &epk.0);
    key
}

/// Ends an escaped byte string; sorts below every escaped byte.
pub const TERMINATOR: [u8; 2] = [0x00, 0x01];

/// Appends `bytes` with 0x00 written as 0x00 0xFF, so that followed by
/// [`TERMINATOR`] the result keeps byte order and never runs into what follows.
pub fn push_escaped(out: &mut Vec<u8>, bytes: &[u8]) {
    // Copied in runs between zero bytes, which are rare: a byte at a time,
    // indexing a long string cost more than storing it.
    out.reserve(bytes.len() + 2);
    let mut rest = bytes;
    while let Some(zero) = memchr::memchr(0x00, rest) {
        out.extend_from_slice(&rest[..=zero]);
        out.push(0xFF);
        rest = &rest[zero + 1..];
    }
    out.extend_from_slice(rest);
}

fn with_prefix(tag: u8, rest: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(rest.len() + 1);
    key.push(tag);
    key.extend_from_slice(rest);
    key
}

/// The smallest key greater than every key that starts with `prefix`.
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last != 0xFF {
            end.push(last + 1);
            return end;
        }
    }
    vec![0xFF; prefix.len() + 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_bytes_are_escaped_wherever_they_are() {
        let mut out = vec![9];
        push_escaped(&mut out, &[0, 1, 0, 0, 2]);
        assert_eq!(out, [9, 0, 0xFF, 1, 0, 0xFF, 0, 0xFF, 2]);
        let mut out = Vec::new();
        push_escaped(&mut out, b"plain");
        assert_eq!(out, b"plain");
    }

    #[test]
    fn escaped_epks_keep_their_order() {
        let rid = [1u8; 8];
        let epks = [
            vec![],
            vec![0x00],
            vec![0x00, 0x00],
            vec![0x00, 0x01],
            vec![0x01],
            vec![0x01, 0x00],
            vec![0xFF],
        ];
        for pair in epks.windows(2) {
            let (a, b) = (Epk(pair[0].clone()), Epk(pair[1].clone()));
            assert!(item(&rid, &a, "zzz") < item(&rid, &b, ""), "{a:?} < {b:?}");
            let (start, end) = epk_range(&rid, &a, Some(&b));
            assert!(start <= item(&rid, &a, "x") && item(&rid, &a, "x") < end);
            assert!(item(&rid, &b, "x") >= end);
        }
    }
}
