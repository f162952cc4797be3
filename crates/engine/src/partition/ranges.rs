use super::definition::{PartitionKeyDefinition, PartitionKeyKind};
use super::epk::{write_number_v1, Epk};

/// One physical partition: the EPKs in `[min, max)`.
#[derive(Debug, Clone, PartialEq)]
pub struct PartitionKeyRange {
    pub id: String,
    pub min: Epk,
    /// `None` is the end of the EPK space, spelled "FF" on the wire.
    pub max: Option<Epk>,
}

impl PartitionKeyRange {
    pub fn min_hex(&self) -> String {
        self.min.to_hex()
    }

    pub fn max_hex(&self) -> String {
        self.max
            .as_ref()
            .map_or_else(|| "FF".to_string(), Epk::to_hex)
    }

    pub fn contains(&self, epk: &Epk) -> bool {
        *epk >= self.min && self.max.as_ref().is_none_or(|max| epk < max)
    }
}

/// Cuts the EPK space into `count` equal ranges. V2 hashes (and the first
/// component of MultiHash keys) are spread evenly over `[0, 2^126)`; V1 keys
/// start with their 32-bit hash in the V1 number encoding, so V1 boundaries
/// are evenly spaced 32-bit values in that encoding.
pub fn range_boundaries(def: &PartitionKeyDefinition, count: u32) -> Vec<PartitionKeyRange> {
    let count = count.max(1);
    let mut cuts: Vec<Epk> = Vec::new();
    for i in 1..count {
        let cut = match (def.kind, def.version) {
            (PartitionKeyKind::Hash, 1) => {
                let step = (1u64 << 32) / u64::from(count);
                let mut bytes = Vec::new();
                write_number_v1((step * u64::from(i)) as f64, &mut bytes);
                bytes
            }
            _ => {
                let step = (1u128 << 126) / u128::from(count);
                (step * u128::from(i)).to_be_bytes().to_vec()
            }
        };
        cuts.push(Epk(cut));
    }
    let mut ranges = Vec::with_capacity(count as usize);
    let mut min = Epk(Vec::new());
    for (i, cut) in cuts.into_iter().enumerate() {
        ranges.push(PartitionKeyRange {
            id: i.to_string(),
            min: min.clone(),
            max: Some(cut.clone()),
        });
        min = cut;
    }
    ranges.push(PartitionKeyRange {
        id: (count - 1).to_string(),
        min,
        max: None,
    });
    ranges
}

#[cfg(test)]
mod tests {
    use super::super::{effective_partition_key, PartitionKeyValue};
    use super::*;
    use serde_json::json;

    #[test]
    fn every_key_falls_in_exactly_one_range() {
        for (kind, version) in [("Hash", 1), ("Hash", 2), ("MultiHash", 2)] {
            let def = PartitionKeyDefinition::from_json(
                &json!({"paths": ["/pk"], "kind": kind, "version": version}),
            )
            .expect("definition");
            let ranges = range_boundaries(&def, 4);
            assert_eq!(ranges.len(), 4);
            assert_eq!(ranges[0].min_hex(), "");
            assert_eq!(ranges[3].max_hex(), "FF");
            let mut used = [0usize; 4];
            for i in 0..400 {
                let epk =
                    effective_partition_key(&def, &[PartitionKeyValue::String(format!("key-{i}"))]);
                let owners: Vec<_> = ranges.iter().filter(|r| r.contains(&epk)).collect();
                assert_eq!(owners.len(), 1, "{kind} v{version} key-{i}");
                used[owners[0].id.parse::<usize>().expect("id")] += 1;
            }
            assert!(used.iter().all(|&n| n > 50), "{kind} v{version}: {used:?}");
        }
    }
}
