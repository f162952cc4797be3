//! Committing a transaction: its writes become one atomic engine write.
//! Each document is written only if it is still the version the
//! transaction's snapshot holds (its etag, or absent), so a document
//! someone else changed fails the commit with a write conflict and
//! nothing is stored. Unique-key markers are released and claimed in the
//! same write: releases first, so a key moving between two documents of
//! the transaction is free when it is claimed again.

use std::collections::BTreeMap;
use std::sync::Arc;

use cosmonaut_engine::{AtomicStep, BatchOperation, BatchStep, ErrorKind};
use serde_json::json;

use super::transaction::{write_conflict, DocKey, PendingWrite, Transaction};
use super::write::{duplicate_key, markers_of, now_ms};
use super::{etag_of, key, Collections};
use crate::error::Result;
use crate::indexes::IndexSet;
use crate::stored;

/// The steps of one commit, in the order they run.
#[derive(Default)]
struct Steps {
    releases: Vec<AtomicStep>,
    documents: Vec<AtomicStep>,
    claims: Vec<AtomicStep>,
}

fn step(
    (db, container): (&str, String),
    id: &str,
    operation: BatchOperation,
    if_match: Option<String>,
) -> AtomicStep {
    AtomicStep {
        database: db.to_string(),
        container,
        key: key(id),
        step: BatchStep {
            operation,
            if_match,
        },
    }
}

impl Collections {
    /// Stores the transaction's writes at once, or none of them.
    pub async fn commit(&self, transaction: &Arc<Transaction>) -> Result<()> {
        let writes = transaction.finish();
        let outcome = self.commit_writes(&writes).await;
        self.intents.release(transaction, writes.into_keys());
        outcome
    }

    async fn commit_writes(&self, writes: &BTreeMap<DocKey, PendingWrite>) -> Result<()> {
        // Reads and checks here see what is committed, not the transaction.
        let committed = Collections {
            transaction: None,
            ..self.clone()
        };
        let mut steps = Steps::default();
        let mut indexes: BTreeMap<(&str, &str), IndexSet> = BTreeMap::new();
        for ((db, coll, id), write) in writes {
            let set = match indexes.entry((db, coll)) {
                std::collections::btree_map::Entry::Occupied(found) => found.into_mut(),
                std::collections::btree_map::Entry::Vacant(slot) => {
                    slot.insert(committed.index_set(db, coll)?)
                }
            };
            committed
                .document_steps((db, coll, id), write, set, writes, &mut steps)
                .await?;
        }
        let all: Vec<AtomicStep> = steps
            .releases
            .into_iter()
            .chain(steps.documents)
            .chain(steps.claims)
            .collect();
        if all.is_empty() {
            return Ok(());
        }
        match self.engine.write_atomically(all).await? {
            Ok(_) => Ok(()),
            Err(failure) => Err(match failure.error.kind {
                ErrorKind::Conflict | ErrorKind::PreconditionFailed | ErrorKind::NotFound => {
                    write_conflict()
                }
                _ => failure.error.into(),
            }),
        }
    }

    /// The steps that store one document's new version and move its
    /// unique keys.
    async fn document_steps(
        &self,
        (db, coll, id): (&str, &str, &str),
        write: &PendingWrite,
        indexes: &IndexSet,
        writes: &BTreeMap<DocKey, PendingWrite>,
        steps: &mut Steps,
    ) -> Result<()> {
        let before = match &write.base {
            Some(base) => indexes.unique_keys(&base.document)?,
            None => Vec::new(),
        };
        let after = match &write.now {
            Some(now) => indexes.unique_keys(now)?,
            None => Vec::new(),
        };
        let items = (db, coll.to_string());
        match (&write.base, &write.now) {
            (None, None) => {}
            (base, Some(now)) => {
                let (mut item, _) = self.item(now, indexes, write.order)?;
                if let (true, Some(map)) = (write.update, item.as_object_mut()) {
                    map.insert(stored::OP.into(), "update".into());
                }
                steps.documents.push(match base {
                    None => step(items, id, BatchOperation::Create { body: item }, None),
                    Some(base) => step(
                        items,
                        id,
                        BatchOperation::Replace {
                            id: id.to_string(),
                            body: item,
                        },
                        Some(base.etag.clone()),
                    ),
                });
            }
            (Some(base), None) => steps.documents.push(step(
                items,
                id,
                BatchOperation::Delete { id: id.to_string() },
                Some(base.etag.clone()),
            )),
        }
        let markers = (db, markers_of(coll));
        for lost in before.iter().filter(|k| !after.contains(k)) {
            if let Some((owner, etag)) = self.marker_holder(db, coll, lost, indexes)? {
                if owner == id {
                    let delete = BatchOperation::Delete {
                        id: lost.marker.clone(),
                    };
                    steps
                        .releases
                        .push(step(markers.clone(), &lost.marker, delete, Some(etag)));
                }
            }
        }
        let gained: Vec<_> = after.iter().filter(|k| !before.contains(k)).collect();
        if !gained.is_empty() {
            self.ensure_container(db, &markers_of(coll)).await?;
        }
        for gained in gained {
            let body =
                json!({"id": gained.marker, "index": gained.index, "owner": id, "at": now_ms()});
            let Some(marker) = self.marker_document(db, coll, gained)? else {
                let create = BatchOperation::Create { body };
                steps
                    .claims
                    .push(step(markers.clone(), &gained.marker, create, None));
                continue;
            };
            let owner = marker["owner"].as_str().unwrap_or_default().to_string();
            let released_here = match writes.get(&(db.to_string(), coll.to_string(), owner.clone()))
            {
                Some(w) => match &w.now {
                    Some(now) => !indexes.unique_keys(now)?.contains(gained),
                    None => true,
                },
                None => false,
            };
            let claim = if released_here {
                // Its owner's release runs first in this write.
                (BatchOperation::Create { body }, None)
            } else if owner == id {
                continue;
            } else if self.marker_holder(db, coll, gained, indexes)?.is_none() {
                let replace = BatchOperation::Replace {
                    id: gained.marker.clone(),
                    body,
                };
                (replace, Some(etag_of(&marker)))
            } else {
                return Err(duplicate_key(db, coll, gained));
            };
            steps
                .claims
                .push(step(markers.clone(), &gained.marker, claim.0, claim.1));
        }
        Ok(())
    }
}
