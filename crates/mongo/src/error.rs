//! MongoDB errors: a numeric code, its name and a message, as a server
//! reports them in `{ok: 0, errmsg, code, codeName}`.

use bson::{doc, Document};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message} (code {code} {name})")]
pub struct MongoError {
    pub code: i32,
    pub name: &'static str,
    pub message: String,
}

pub type Result<T, E = MongoError> = std::result::Result<T, E>;

macro_rules! codes {
    ($($fn:ident => $code:literal $name:literal),* $(,)?) => {
        impl MongoError {
            $(pub fn $fn(message: impl Into<String>) -> Self {
                Self { code: $code, name: $name, message: message.into() }
            })*
        }
    };
}

codes! {
    internal => 1 "InternalError",
    bad_value => 2 "BadValue",
    no_such_key => 4 "NoSuchKey",
    unauthorized => 13 "Unauthorized",
    type_mismatch => 14 "TypeMismatch",
    authentication_failed => 18 "AuthenticationFailed",
    illegal_operation => 20 "IllegalOperation",
    invalid_namespace => 73 "InvalidNamespace",
    namespace_not_found => 26 "NamespaceNotFound",
    index_not_found => 27 "IndexNotFound",
    path_not_viable => 28 "PathNotViable",
    conflicting_update => 40 "ConflictingUpdateOperators",
    cursor_not_found => 43 "CursorNotFound",
    namespace_exists => 48 "NamespaceExists",
    dollar_prefixed_field => 52 "DollarPrefixedFieldName",
    no_such_transaction => 251 "NoSuchTransaction",
    transaction_too_old => 225 "TransactionTooOld",
    transaction_committed => 256 "TransactionCommitted",
    conflicting_operation => 117 "ConflictingOperationInProgress",
    command_not_found => 59 "CommandNotFound",
    immutable_field => 66 "ImmutableField",
    invalid_options => 72 "InvalidOptions",
    exceeded_time_limit => 50 "MaxTimeMSExpired",
    invalid_pipeline => 40324 "Location40324",
    failed_to_parse => 9 "FailedToParse",
    invalid_bson_message => 22 "InvalidBSON",
    protocol_error => 17 "ProtocolError",
    duplicate_key => 11000 "DuplicateKey",
    write_conflict => 112 "WriteConflict",
    not_writable => 10107 "NotWritablePrimary",
    location => 16410 "Location16410",
    operation_not_supported_in_transaction => 263 "OperationNotSupportedInTransaction",
    merge_not_matched => 13113 "MergeStageNoMatchingDocument",
    memory_limit => 292 "QueryExceededMemoryLimitNoDiskUseAllowed",
    cannot_create_index => 67 "CannotCreateIndex",
    service_unavailable => 6 "HostUnreachable",
}

impl MongoError {
    pub fn protocol(message: impl Into<String>) -> Self {
        Self::protocol_error(message)
    }

    pub fn invalid_bson(message: impl Into<String>) -> Self {
        Self::invalid_bson_message(format!("invalid BSON: {}", message.into()))
    }

    /// A field of a command with the wrong type, worded as the server words it.
    pub fn wrong_type(field: &str, expected: &str) -> Self {
        Self::type_mismatch(format!(
            "BSON field '{field}' is the wrong type, expected type '{expected}'"
        ))
    }

    /// The reply document of a failed command.
    pub fn reply(&self) -> Document {
        doc! {"ok": 0.0, "errmsg": &self.message, "code": self.code, "codeName": self.name}
    }
}

impl From<cosmonaut_engine::EngineError> for MongoError {
    fn from(err: cosmonaut_engine::EngineError) -> Self {
        use cosmonaut_engine::ErrorKind;
        let message = err.to_string();
        match err.kind {
            ErrorKind::NotFound => Self::namespace_not_found(message),
            ErrorKind::Conflict => Self::duplicate_key(message),
            ErrorKind::PreconditionFailed => Self::write_conflict(message),
            ErrorKind::BadRequest => Self::bad_value(message),
            ErrorKind::Unavailable => Self::service_unavailable(message),
            ErrorKind::RequestTimeout => Self::exceeded_time_limit(message),
            _ => Self::internal(message),
        }
    }
}
