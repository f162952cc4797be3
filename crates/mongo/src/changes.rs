//! Change streams (`watch`): an aggregation that starts with
//! `$changeStream` opens a cursor on the engine's all-versions log of the
//! collection (turned on, with previous images, the first time someone
//! watches), and each `getMore` waits up to `maxAwaitTimeMS` for writes
//! after the cursor's position. Events carry MongoDB's shape: a resume
//! token, `operationType` (insert, update, replace, delete), `ns`,
//! `documentKey`, `fullDocument` and, for updates, `updateDescription`.

use std::time::Duration;

use bson::{doc, Bson, Document};
use serde_json::Value;

use crate::collections::Collections;
use crate::error::{MongoError, Result};
use crate::stored;

/// An open change stream.
#[derive(Debug, Clone)]
pub struct ChangeStream {
    pub db: String,
    pub coll: String,
    /// The log position the next read continues after.
    pub after: u64,
    /// `fullDocument: "updateLookup"` (or `"whenAvailable"`): updates carry the document.
    pub full_document: bool,
    /// The stages after `$changeStream`, applied to each batch of events.
    pub pipeline: Vec<Document>,
}

/// The resume token of a log position.
pub fn token(lsn: u64) -> Document {
    doc! {"_data": format!("{lsn:016X}")}
}

fn position_of(token: &Bson) -> Result<u64> {
    token
        .as_document()
        .and_then(|t| t.get_str("_data").ok())
        .and_then(|d| u64::from_str_radix(d, 16).ok())
        .ok_or_else(|| MongoError::bad_value("the resume token is not one this server made"))
}

impl ChangeStream {
    /// Opens a stream from a `$changeStream` stage's options.
    pub async fn open(
        collections: &Collections,
        db: &str,
        coll: &str,
        options: &Document,
        pipeline: Vec<Document>,
    ) -> Result<ChangeStream> {
        collections.ensure(db, coll).await?;
        collections.keep_change_history(db, coll).await?;
        let resume = options
            .get("resumeAfter")
            .or_else(|| options.get("startAfter"));
        let after = match resume {
            Some(token) => position_of(token)?,
            None => {
                if options.contains_key("startAtOperationTime") {
                    return Err(MongoError::bad_value(
                        "startAtOperationTime is not supported by this server yet; resume with a token",
                    ));
                }
                collections.changes(db, coll, None)?.1
            }
        };
        let full_document = matches!(
            options.get_str("fullDocument"),
            Ok("updateLookup" | "whenAvailable" | "required")
        );
        Ok(ChangeStream {
            db: db.into(),
            coll: coll.into(),
            after,
            full_document,
            pipeline,
        })
    }

    /// The events after the stream's position, waiting up to `wait` for
    /// the first; moves the position past what it read.
    pub async fn next_events(
        &mut self,
        collections: &Collections,
        wait: Duration,
    ) -> Result<Vec<Document>> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let (versions, after) = collections.changes(&self.db, &self.coll, Some(self.after))?;
            self.after = after.max(self.after);
            let mut events = Vec::new();
            for version in &versions {
                if let Some(event) = self.event(version)? {
                    events.push(event);
                }
            }
            let no_lookup = |_: &str| -> Result<Vec<Document>> {
                Err(MongoError::invalid_pipeline(
                    "$lookup is not allowed in a change stream",
                ))
            };
            let events = crate::aggregate::run(&self.pipeline, events, &no_lookup)?;
            if !events.is_empty() || tokio::time::Instant::now() >= deadline {
                return Ok(events);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn event(&self, version: &Value) -> Result<Option<Document>> {
        let metadata = &version["metadata"];
        let lsn = metadata["lsn"].as_u64().unwrap_or(0);
        let seconds = metadata["crts"].as_i64().unwrap_or(0);
        let current = version.get("current").filter(|c| !c.is_null());
        let previous = version.get("previous").filter(|p| !p.is_null());
        let current_doc = current.map(stored::from_item).transpose()?;
        let previous_doc = previous.map(stored::from_item).transpose()?;
        let operation = match metadata["operationType"].as_str() {
            Some("create") => "insert",
            Some("replace")
                if current
                    .and_then(|c| c.get(stored::OP))
                    .and_then(Value::as_str)
                    == Some("update") =>
            {
                "update"
            }
            Some("replace") => "replace",
            Some("delete") => "delete",
            _ => return Ok(None),
        };
        let id = current_doc
            .as_ref()
            .or(previous_doc.as_ref())
            .and_then(|d| d.get("_id").cloned())
            .unwrap_or_else(|| stored::id_of_item(metadata["id"].as_str().unwrap_or_default()));
        let mut event = doc! {
            "_id": token(lsn),
            "operationType": operation,
            "clusterTime": bson::Timestamp { time: seconds as u32, increment: lsn as u32 },
            "wallTime": bson::DateTime::from_millis(seconds * 1000),
            "ns": {"db": &self.db, "coll": &self.coll},
            "documentKey": {"_id": id},
        };
        if operation == "update" {
            event.insert(
                "updateDescription",
                describe_update(previous_doc.as_ref(), current_doc.as_ref()),
            );
        }
        let with_document = matches!(operation, "insert" | "replace")
            || (operation == "update" && self.full_document);
        if let (true, Some(document)) = (with_document, current_doc) {
            event.insert("fullDocument", document);
        }
        Ok(Some(event))
    }
}

/// What an update changed, field by field at the top level: fields set or
/// changed, and fields removed.
fn describe_update(before: Option<&Document>, after: Option<&Document>) -> Document {
    let (Some(before), Some(after)) = (before, after) else {
        return doc! {"updatedFields": {}, "removedFields": [], "truncatedArrays": []};
    };
    let mut updated = Document::new();
    for (key, value) in after {
        if before.get(key) != Some(value) {
            updated.insert(key.clone(), value.clone());
        }
    }
    let removed: Vec<Bson> = before
        .keys()
        .filter(|k| !after.contains_key(*k))
        .map(|k| Bson::String(k.clone()))
        .collect();
    doc! {"updatedFields": updated, "removedFields": removed, "truncatedArrays": []}
}
