//! Merging sorted layers of the key space into one scan: memtables over the
//! B-tree, the newer layer winning where both hold a key.

use crate::backend::KeyValue;
use crate::memtable::{Change, Memtable};
use crate::Result;

/// One layer's entries in `start..end`, in scan order, deletes included.
pub type Layer<'a> = Box<dyn Iterator<Item = Result<Change>> + 'a>;

/// The live entries of `layers` (newest layer first), at most `limit`, in
/// ascending key order or, if `descending`, descending.
pub fn merge(layers: Vec<Layer<'_>>, descending: bool, limit: usize) -> Result<Vec<KeyValue>> {
    let mut layers: Vec<_> = layers.into_iter().map(Iterator::peekable).collect();
    let mut out = Vec::new();
    while out.len() < limit {
        // The next key in scan order, from the newest layer that holds it.
        let mut next: Option<(usize, &[u8])> = None;
        for (i, layer) in layers.iter_mut().enumerate() {
            if matches!(layer.peek(), Some(Err(_))) {
                if let Some(Err(err)) = layer.next() {
                    return Err(err);
                }
            }
            match layer.peek() {
                None | Some(Err(_)) => {}
                Some(Ok((key, _))) => {
                    let better = next.is_none_or(|(_, best)| {
                        if descending {
                            key.as_slice() > best
                        } else {
                            key.as_slice() < best
                        }
                    });
                    if better {
                        next = Some((i, key.as_slice()));
                    }
                }
            }
        }
        let Some((winner, key)) = next else { break };
        let key = key.to_vec();
        let mut value = None;
        for (i, layer) in layers.iter_mut().enumerate() {
            if let Some(Ok((k, v))) = layer.next_if(|e| matches!(e, Ok((k, _)) if *k == key)) {
                if i == winner {
                    value = Some((k, v));
                }
            }
        }
        if let Some((key, Some(value))) = value {
            out.push((key, value));
        }
    }
    Ok(out)
}

/// A layered backend's scan of `[start, end)`: its memtables (newest
/// first, read at commit `at`) over `base`, the layer below them, which is
/// asked for only when the range is not empty.
pub fn scan_layers<'a>(
    tables: impl IntoIterator<Item = &'a Memtable>,
    at: u64,
    base: impl FnOnce() -> Result<Layer<'a>>,
    (start, end): (&[u8], &[u8]),
    limit: usize,
    descending: bool,
) -> Result<Vec<KeyValue>> {
    if start >= end || limit == 0 {
        return Ok(Vec::new());
    }
    let mut layers: Vec<Layer<'a>> = tables
        .into_iter()
        .map(|table| -> Layer<'a> { Box::new(table.range(start, end, at, descending).map(Ok)) })
        .collect();
    layers.push(base()?);
    merge(layers, descending, limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(entries: &[(&str, Option<&str>)]) -> Layer<'static> {
        let owned: Vec<Result<Change>> = entries
            .iter()
            .map(|(k, v)| Ok((k.as_bytes().to_vec(), v.map(|v| v.as_bytes().to_vec()))))
            .collect();
        Box::new(owned.into_iter())
    }

    fn keys(rows: Vec<KeyValue>) -> Vec<String> {
        rows.into_iter()
            .map(|(k, v)| {
                format!(
                    "{}={}",
                    String::from_utf8_lossy(&k),
                    String::from_utf8_lossy(&v)
                )
            })
            .collect()
    }

    #[test]
    fn newer_layers_win_and_deletes_hide_older_entries() {
        let scan = |descending: bool, limit: usize| {
            let mut newer = vec![("b", Some("new")), ("c", None), ("e", Some("new"))];
            let mut older = vec![
                ("a", Some("old")),
                ("b", Some("old")),
                ("c", Some("old")),
                ("d", Some("old")),
            ];
            if descending {
                newer.reverse();
                older.reverse();
            }
            keys(merge(vec![layer(&newer), layer(&older)], descending, limit).expect("merge"))
        };
        assert_eq!(scan(false, 10), ["a=old", "b=new", "d=old", "e=new"]);
        assert_eq!(scan(true, 10), ["e=new", "d=old", "b=new", "a=old"]);
        assert_eq!(scan(false, 2), ["a=old", "b=new"]);
        assert_eq!(scan(true, 1), ["e=new"]);
    }
}
