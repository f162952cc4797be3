//! Pre- and post-triggers around item writes and deletes, run in the
//! write's own transaction.

use cosmonaut_script::{Invocation, Limits};
use cosmonaut_storage::Txn;
use serde_json::Value;

use super::collection::{Partition, PartitionCollection};
use super::run::{script_error, self_link, source_of};
use super::{load_script, script_not_found, ScriptKind};
use crate::error::{EngineError, Result};
use crate::items::{ops, WriteMode};
use crate::validation;

/// The triggers a request names (`x-ms-documentdb-pre-trigger-include`
/// and `-post-trigger-include`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Triggers {
    pub pre: Vec<String>,
    pub post: Vec<String>,
}

impl Triggers {
    pub fn is_empty(&self) -> bool {
        self.pre.is_empty() && self.post.is_empty()
    }
}

/// The conditions and triggers of an item write or delete.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WriteOptions {
    pub if_match: Option<String>,
    pub triggers: Triggers,
}

impl From<Option<String>> for WriteOptions {
    fn from(if_match: Option<String>) -> Self {
        Self {
            if_match,
            triggers: Triggers::default(),
        }
    }
}

/// Before or after the operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TriggerMoment {
    Pre,
    Post,
}

/// Whether a trigger declared for `declared` fires on `operation`.
/// Whether a trigger declared for `declared` operations (in any casing)
/// fires on `operation`.
fn fires_on(declared: &str, operation: &str) -> bool {
    let is = |name: &str| declared.eq_ignore_ascii_case(name);
    is("All")
        || is(operation)
        || (is("Update") && matches!(operation, "Replace" | "Upsert"))
        || (operation == "Upsert" && (is("Create") || is("Replace")))
}

/// The operation a write mode is, as triggers name it.
fn operation_of(mode: &WriteMode) -> &'static str {
    match mode {
        WriteMode::Create => "Create",
        WriteMode::Upsert => "Upsert",
        WriteMode::Replace { .. } => "Replace",
    }
}

/// Runs the named triggers of one moment, in order, inside the write's
/// transaction. Pre-triggers may change `request_body`; post-triggers see
/// the stored document as `response_body` and may change what the client
/// gets back. Any failure fails the write.
fn fire_triggers(
    txn: &mut Txn<'_>,
    partition: Partition<'_>,
    names: &[String],
    (moment, operation): (TriggerMoment, &str),
    bodies: (Option<Value>, Option<Value>),
) -> Result<(Option<Value>, Option<Value>)> {
    let container = partition.container;
    let (mut request_body, mut response_body) = bodies;
    for name in names {
        let trigger = load_script(txn, container, ScriptKind::Trigger, name)?
            .ok_or_else(|| script_not_found(ScriptKind::Trigger, name))?;
        let declared_type = trigger["triggerType"].as_str().unwrap_or_default();
        let expected = match moment {
            TriggerMoment::Pre => "Pre",
            TriggerMoment::Post => "Post",
        };
        if !declared_type.eq_ignore_ascii_case(expected) {
            return Err(EngineError::bad_request(format!(
                "The trigger '{name}' is a {declared_type}-trigger and cannot run as a {expected}-trigger."
            )));
        }
        let declared_operation = trigger["triggerOperation"].as_str().unwrap_or_default();
        if !fires_on(declared_operation, operation) {
            return Err(EngineError::bad_request(format!(
                "The trigger '{name}' fires on {declared_operation} operations, not on {operation}."
            )));
        }
        let invocation = Invocation {
            self_link: self_link(container),
            operation: operation.to_string(),
            request_body: request_body.clone(),
            response_body: response_body.clone(),
            ..Invocation::default()
        };
        let mut collection = PartitionCollection::new(txn, partition);
        let outcome = cosmonaut_script::run(
            source_of(&trigger),
            &invocation,
            &mut collection,
            Limits::default(),
        )
        .map_err(script_error)?;
        match moment {
            TriggerMoment::Pre => request_body = outcome.request_body,
            // The stored document stays as it is (to the last digit) unless
            // the trigger set another response body.
            TriggerMoment::Post => {
                if let Some(body) = outcome.response_body {
                    response_body = Some(body);
                }
            }
        }
    }
    Ok((request_body, response_body))
}

/// Runs a write's pre-triggers over its body; returns the body to store
/// and its id, which a trigger may change only for a create or upsert.
pub(crate) fn before_write(
    txn: &mut Txn<'_>,
    partition: Partition<'_>,
    triggers: &Triggers,
    mode: &WriteMode,
    (body, id): (Value, String),
) -> Result<(Value, String)> {
    if triggers.pre.is_empty() {
        return Ok((body, id));
    }
    let moment = (TriggerMoment::Pre, operation_of(mode));
    let (changed, _) = fire_triggers(txn, partition, &triggers.pre, moment, (Some(body), None))?;
    let changed = changed.unwrap_or(Value::Null);
    let new_id = validation::body_id(&changed, validation::MAX_ITEM_ID_BYTES, true)?;
    let renamed = new_id != id && !matches!(mode, WriteMode::Create | WriteMode::Upsert);
    if renamed || partition.container.partition_key()?.extract(&changed)? != partition.values {
        return Err(EngineError::bad_request(
            "A pre-trigger cannot change the item's partition key, or the id of the item a \
             replace addresses.",
        ));
    }
    Ok((changed, new_id))
}

/// Runs a write's post-triggers; returns what the client gets back (the
/// stored document, unless a trigger set another response body).
pub(crate) fn after_write(
    txn: &mut Txn<'_>,
    partition: Partition<'_>,
    triggers: &Triggers,
    mode: &WriteMode,
    document: Value,
) -> Result<Value> {
    if triggers.post.is_empty() {
        return Ok(document);
    }
    let moment = (TriggerMoment::Post, operation_of(mode));
    let bodies = (Some(request_of(&document)), Some(document.clone()));
    let (_, response) = fire_triggers(txn, partition, &triggers.post, moment, bodies)?;
    Ok(response.unwrap_or(document))
}

/// The request body a write's post-triggers see: the document as the client
/// (and any pre-trigger) left it, which is the stored document without the
/// properties the store added to it.
fn request_of(document: &Value) -> Value {
    match document {
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .filter(|(name, _)| !SYSTEM_PROPERTIES.contains(&name.as_str()))
                .map(|(name, value)| (name.clone(), value.clone()))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// What the store adds to every document it writes.
const SYSTEM_PROPERTIES: [&str; 5] = ["_rid", "_self", "_etag", "_attachments", "_ts"];

/// Runs a delete's triggers around `delete`, which removes the item.
pub(crate) fn around_delete(
    txn: &mut Txn<'_>,
    partition: Partition<'_>,
    triggers: &Triggers,
    item_key: &[u8],
    delete: impl FnOnce(&mut Txn<'_>) -> Result<u64>,
) -> Result<u64> {
    if triggers.is_empty() {
        return delete(txn);
    }
    let existing = ops::read(txn, partition.container, item_key)?;
    if !triggers.pre.is_empty() {
        let moment = (TriggerMoment::Pre, "Delete");
        fire_triggers(
            txn,
            partition,
            &triggers.pre,
            moment,
            (Some(existing.clone()), None),
        )?;
    }
    let lsn = delete(txn)?;
    if !triggers.post.is_empty() {
        let moment = (TriggerMoment::Post, "Delete");
        fire_triggers(
            txn,
            partition,
            &triggers.post,
            moment,
            (None, Some(existing)),
        )?;
    }
    Ok(lsn)
}
