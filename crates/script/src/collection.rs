//! The collection calls a script makes, as the host receives them.

use serde_json::Value;

/// One call from `getContext().getCollection()`.
#[derive(Debug, Clone, PartialEq)]
pub enum CollectionRequest {
    /// `createDocument`; without an id the host makes one unless
    /// `disable_automatic_id` is set.
    Create {
        document: Value,
        disable_automatic_id: bool,
    },
    Upsert {
        document: Value,
        disable_automatic_id: bool,
    },
    /// `replaceDocument`: the document at `link` (a name- or rid-based
    /// link, or a `_self`) becomes `document`.
    Replace {
        link: String,
        document: Value,
        if_match: Option<String>,
    },
    Delete {
        link: String,
        if_match: Option<String>,
    },
    Read {
        link: String,
    },
    /// `queryDocuments` (and `readDocuments`, as `SELECT * FROM root`);
    /// `parameters` is the `[{name, value}]` list the script passed.
    Query {
        query: String,
        parameters: Value,
    },
}

/// A failed collection call: the status and message the script's callback
/// receives as `err.number` and `err.message`.
#[derive(Debug, Clone, PartialEq)]
pub struct CollectionError {
    pub status: u16,
    pub message: String,
}

/// What a script's collection calls act on: the caller's transaction,
/// scoped to the request's logical partition.
pub trait Collection {
    /// Runs one call; the value is what the callback receives as its
    /// resource (a document, a list of them, or nothing for a delete).
    fn execute(&mut self, request: CollectionRequest) -> Result<Value, CollectionError>;
}

fn bad(message: impl Into<String>) -> CollectionError {
    CollectionError {
        status: 400,
        message: message.into(),
    }
}

/// The `If-Match` etag of `options.accessCondition`, or of `options.etag`.
fn if_match(options: &Value) -> Option<String> {
    let condition = options.get("accessCondition");
    let kind = condition
        .and_then(|c| c.get("type"))
        .and_then(Value::as_str)
        .unwrap_or("IfMatch");
    condition
        .and_then(|c| c.get("condition"))
        .filter(|_| kind.eq_ignore_ascii_case("ifmatch"))
        .or_else(|| options.get("etag"))
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// A queued call as the prelude recorded it: `{op, args, options}`.
pub(crate) fn parse(call: &Value) -> Result<CollectionRequest, CollectionError> {
    let op = call.get("op").and_then(Value::as_str).unwrap_or_default();
    let args = call.get("args").cloned().unwrap_or(Value::Null);
    let options = call.get("options").cloned().unwrap_or(Value::Null);
    let text = |name: &str| -> Result<String, CollectionError> {
        args.get(name)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| bad(format!("{op} needs a {name}.")))
    };
    let document = || -> Result<Value, CollectionError> {
        match args.get("document") {
            Some(d @ Value::Object(_)) => Ok(d.clone()),
            _ => Err(bad(format!("{op} needs a document object."))),
        }
    };
    let disable_automatic_id = options
        .get("disableAutomaticIdGeneration")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    Ok(match op {
        "create" => CollectionRequest::Create {
            document: document()?,
            disable_automatic_id,
        },
        "upsert" => CollectionRequest::Upsert {
            document: document()?,
            disable_automatic_id,
        },
        "replace" => CollectionRequest::Replace {
            link: text("link")?,
            document: document()?,
            if_match: if_match(&options),
        },
        "delete" => CollectionRequest::Delete {
            link: text("link")?,
            if_match: if_match(&options),
        },
        "read" => CollectionRequest::Read {
            link: text("link")?,
        },
        "query" => CollectionRequest::Query {
            query: text("query")?,
            parameters: args.get("parameters").cloned().unwrap_or(Value::Null),
        },
        other => return Err(bad(format!("'{other}' is not a collection call."))),
    })
}
