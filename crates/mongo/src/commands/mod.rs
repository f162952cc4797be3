//! The commands, one module per group: [`handshake`] (hello, buildInfo,
//! authentication), [`admin`] (databases, collections, indexes), [`read`]
//! (find, getMore, aggregate, count, distinct) and [`write`] (insert,
//! update, delete, findAndModify).

mod admin;
mod coll_mod;
mod custom;
mod handshake;
mod output;
mod read;
mod write;

use bson::{Bson, Document};

use crate::collections::Collections;
use crate::compare::as_f64;
use crate::error::{MongoError, Result};
use crate::scram::Conversation;
use crate::MongoServer;

/// What a connection remembers between commands.
pub struct Session {
    pub connection_id: i64,
    /// `Some(read_only)` once authenticated.
    pub authenticated: Option<bool>,
    pub conversation: Option<Conversation>,
    /// What `getLastRequestStatistics` reports: the previous command's
    /// name, request charge and duration.
    pub last_request: Option<Document>,
}

impl Session {
    pub fn new(connection_id: i64) -> Self {
        Self {
            connection_id,
            authenticated: None,
            conversation: None,
            last_request: None,
        }
    }
}

/// The request units a command spends, as `getLastRequestStatistics`
/// reports them (kept in thousandths, so connections stay `Send`).
#[derive(Default)]
pub struct Meter(std::sync::atomic::AtomicU64);

impl Meter {
    pub fn add(&self, request_units: f64) {
        let thousandths = (request_units * 1000.0).round().max(0.0) as u64;
        self.0
            .fetch_add(thousandths, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn total(&self) -> f64 {
        self.0.load(std::sync::atomic::Ordering::Relaxed) as f64 / 1000.0
    }
}

/// A command being run: its document and the database it addresses.
pub struct Call<'a> {
    pub server: &'a MongoServer,
    /// The collections as this command sees them: inside a transaction,
    /// with its writes held back.
    pub collections: Collections,
    pub db: String,
    pub body: Document,
    pub name: String,
    /// What the command has spent so far.
    pub meter: &'a Meter,
}

/// The size of a document as stored (for its charge).
pub fn size_of(document: &Document) -> usize {
    document.to_vec().map_or(0, |v| v.len())
}

impl Call<'_> {
    /// The memory limit of a sort or grouping: only when the command
    /// refuses disk use (MongoDB 6.0 spills otherwise).
    pub fn blocking_limit(&self) -> Option<usize> {
        (self.body.get("allowDiskUse") == Some(&Bson::Boolean(false))).then(|| {
            self.server
                .blocking_limit
                .load(std::sync::atomic::Ordering::Relaxed)
        })
    }
}

impl<'a> Call<'a> {
    /// Another command run on behalf of this one (its charge counts here).
    pub fn inner(&self, body: Document, name: &str) -> Call<'a> {
        Call {
            server: self.server,
            collections: self.collections.clone(),
            db: self.db.clone(),
            body,
            name: name.to_string(),
            meter: self.meter,
        }
    }
}

impl Call<'_> {
    /// The collection a command names in its first field.
    pub fn collection(&self) -> Result<String> {
        match self.body.get(&self.name) {
            Some(Bson::String(c)) => {
                crate::collections::check_names(&self.db, Some(c))?;
                Ok(c.clone())
            }
            _ => Err(MongoError::invalid_namespace(format!(
                "collection name has invalid type {}",
                self.body
                    .get(&self.name)
                    .map_or("missing", crate::expr::type_name)
            ))),
        }
    }

    pub fn namespace(&self, coll: &str) -> String {
        format!("{}.{coll}", self.db)
    }

    pub fn document(&self, field: &str) -> Result<Document> {
        Ok(self.optional_document(field)?.unwrap_or_default())
    }

    pub fn optional_document(&self, field: &str) -> Result<Option<Document>> {
        match self.body.get(field) {
            None | Some(Bson::Null) => Ok(None),
            Some(Bson::Document(d)) => Ok(Some(d.clone())),
            Some(_) => Err(MongoError::wrong_type(
                &format!("{}.{field}", self.name),
                "object",
            )),
        }
    }

    /// A non-negative whole number option.
    pub fn count(&self, field: &str) -> Result<Option<i64>> {
        match self.body.get(field) {
            None | Some(Bson::Null) => Ok(None),
            Some(v) => match as_f64(v) {
                Some(n) if n.fract() == 0.0 => Ok(Some(n as i64)),
                _ => Err(MongoError::wrong_type(
                    &format!("{}.{field}", self.name),
                    "long",
                )),
            },
        }
    }

    /// The command's `let` variables (empty when it has none).
    pub fn variables(&self) -> Result<Document> {
        crate::expr::evaluate_variables(&self.document("let")?)
    }

    /// A filter field of the command with its `let` variables bound.
    pub fn filter(&self, field: &str) -> Result<Document> {
        Ok(crate::expr::bind_filter(
            &self.document(field)?,
            &self.variables()?,
        ))
    }

    pub fn flag(&self, field: &str) -> bool {
        self.body.get(field).is_some_and(crate::expr::truthy)
    }

    pub fn array(&self, field: &str) -> Result<Vec<Bson>> {
        match self.body.get(field) {
            None => Ok(Vec::new()),
            Some(Bson::Array(items)) => Ok(items.clone()),
            Some(_) => Err(MongoError::wrong_type(
                &format!("{}.{field}", self.name),
                "array",
            )),
        }
    }
}

/// Who may run a command.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Access {
    /// Before authenticating: the handshake and authentication itself.
    Open,
    /// Any authenticated client.
    Read,
    /// Changes data or metadata: refused with a read-only key.
    Write,
}

/// The commands this server knows, by lower-case name. Their names are
/// also the metric labels (others count as `other`, so clients cannot grow
/// the label set).
const COMMANDS: [(&str, Access); 45] = {
    use Access::*;
    [
        ("hello", Open),
        ("ismaster", Open),
        ("ping", Open),
        ("buildinfo", Open),
        ("saslstart", Open),
        ("saslcontinue", Open),
        ("endsessions", Open),
        ("killallsessions", Write),
        ("logout", Open),
        ("whatsmyuri", Open),
        ("connectionstatus", Open),
        ("getlasterror", Open),
        ("serverstatus", Read),
        ("hostinfo", Read),
        ("getcmdlineopts", Read),
        ("getparameter", Read),
        ("setparameter", Write),
        ("listdatabases", Read),
        ("listcollections", Read),
        ("listindexes", Read),
        ("collstats", Read),
        ("dbstats", Read),
        ("getlastrequeststatistics", Read),
        ("find", Read),
        ("explain", Read),
        ("getmore", Read),
        ("killcursors", Read),
        ("aggregate", Read),
        ("count", Read),
        ("distinct", Read),
        // Its Get actions read; the others are checked where it runs.
        ("customaction", Read),
        ("insert", Write),
        ("update", Write),
        ("delete", Write),
        ("findandmodify", Write),
        // What they commit was checked as each write was made.
        ("committransaction", Read),
        ("aborttransaction", Read),
        ("create", Write),
        ("drop", Write),
        ("dropdatabase", Write),
        ("renamecollection", Write),
        ("createindexes", Write),
        ("collmod", Write),
        ("dropindexes", Write),
        ("shardcollection", Write),
    ]
};

fn command(lower: &str) -> Option<(&'static str, Access)> {
    COMMANDS.iter().find(|(name, _)| *name == lower).copied()
}

fn metric_label(name: &str) -> &'static str {
    command(&name.to_ascii_lowercase()).map_or("other", |(name, _)| name)
}

/// Runs one command and returns its reply (errors as `{ok: 0}` replies).
pub async fn run(
    server: &MongoServer,
    session: &mut Session,
    body: Document,
    database: Option<String>,
) -> Document {
    let started = std::time::Instant::now();
    let name = body.keys().next().cloned().unwrap_or_default();
    let meter = Meter::default();
    let (reply, outcome) = match dispatch(server, session, body, database, &meter).await {
        Ok(reply) => (reply, "ok"),
        Err((error, labels)) => {
            let mut reply = error.reply();
            if !labels.is_empty() {
                reply.insert("errorLabels", labels);
            }
            (reply, error.name)
        }
    };
    let label = metric_label(&name);
    metrics::counter!(crate::COMMANDS_TOTAL, "command" => label, "outcome" => outcome).increment(1);
    metrics::histogram!(crate::COMMAND_SECONDS, "command" => label)
        .record(started.elapsed().as_secs_f64());
    metrics::histogram!(crate::COMMAND_UNITS, "command" => label).record(meter.total());
    if !name.eq_ignore_ascii_case("getLastRequestStatistics") {
        let charge = if meter.total() > 0.0 {
            meter.total()
        } else {
            cosmonaut_engine::charge::METADATA
        };
        session.last_request = Some(bson::doc! {
            "CommandName": name,
            "RequestCharge": charge,
            "RequestDurationInMilliSeconds": started.elapsed().as_secs_f64() * 1000.0,
            "ActivityId": uuid::Uuid::new_v4().to_string(),
            "ok": 1.0,
        });
    }
    reply
}

/// Runs a command in its session's scope: a retried write answers what
/// its first attempt did, a transaction's command sees and holds back the
/// transaction's writes. Errors carry the labels drivers retry on.
async fn dispatch(
    server: &MongoServer,
    session: &mut Session,
    body: Document,
    database: Option<String>,
    meter: &Meter,
) -> Result<Document, (MongoError, Vec<&'static str>)> {
    let lower = body
        .keys()
        .next()
        .map(|name| name.to_ascii_lowercase())
        .unwrap_or_default();
    let mut scope = match session.authenticated {
        Some(_) => {
            server
                .sessions
                .scope(&body, &lower, &server.collections)
                .await
        }
        None => Ok(crate::sessions::Scope::Plain),
    }
    .map_err(|e| {
        let labels = transient(&e, true);
        (e, labels)
    })?;
    if let Some(reply) = scope.earlier_reply() {
        return Ok(reply);
    }
    let collections = match scope.transaction() {
        Some(transaction) => server.collections.in_transaction(transaction),
        None => server.collections.clone(),
    };
    let reply = match lower.as_str() {
        "committransaction" => scope
            .commit(&server.collections)
            .await
            .map(|()| bson::doc! {"ok": 1.0}),
        "aborttransaction" => scope
            .abort(&server.collections)
            .map(|()| bson::doc! {"ok": 1.0}),
        _ => run_command(server, session, body, database, meter, collections)
            .await
            .and_then(|reply| match scope.in_transaction() {
                true => conflict_as_error(reply),
                false => Ok(reply),
            }),
    };
    scope.finish(&reply, &server.collections);
    reply.map_err(|e| {
        let labels = transient(&e, scope.in_transaction());
        (e, labels)
    })
}

/// A write conflict inside a transaction fails the command (and the
/// transaction) rather than being one write's error, as in MongoDB.
fn conflict_as_error(reply: Document) -> Result<Document> {
    let conflict = MongoError::write_conflict("").code;
    let found = reply
        .get_array("writeErrors")
        .into_iter()
        .flatten()
        .filter_map(Bson::as_document)
        .find(|e| e.get_i32("code").ok() == Some(conflict));
    match found {
        Some(error) => Err(MongoError::write_conflict(
            error.get_str("errmsg").unwrap_or_default(),
        )),
        None => Ok(reply),
    }
}

/// The labels a driver reads on an error: a transaction that failed on a
/// conflict, an expiry or an unavailable store may be run again whole.
fn transient(error: &MongoError, in_transaction: bool) -> Vec<&'static str> {
    let codes = [
        MongoError::write_conflict("").code,
        MongoError::no_such_transaction("").code,
        MongoError::service_unavailable("").code,
    ];
    if in_transaction && codes.contains(&error.code) {
        vec!["TransientTransactionError"]
    } else {
        Vec::new()
    }
}

async fn run_command(
    server: &MongoServer,
    session: &mut Session,
    body: Document,
    database: Option<String>,
    meter: &Meter,
    collections: Collections,
) -> Result<Document> {
    let name = body
        .keys()
        .next()
        .cloned()
        .ok_or_else(|| MongoError::failed_to_parse("Command document is empty"))?;
    let db = match database {
        Some(db) => db,
        None => body
            .get_str("$db")
            .map(String::from)
            .map_err(|_| MongoError::failed_to_parse("OP_MSG requests require a $db argument"))?,
    };
    let lower = name.to_ascii_lowercase();
    let call = Call {
        server,
        collections,
        db,
        body,
        name,
        meter,
    };
    let access = command(&lower).map_or(Access::Read, |(_, access)| access);
    let writes = access == Access::Write
        || (lower == "customaction"
            && !call
                .body
                .get_str("customAction")
                .unwrap_or("")
                .starts_with("Get"));
    match session.authenticated {
        None if access != Access::Open => {
            return Err(MongoError::unauthorized(format!(
                "Command {} requires authentication",
                call.name
            )))
        }
        Some(true) if writes => {
            return Err(MongoError::unauthorized(format!(
                "not authorized on {} to execute command {{ {}: ... }}: the key is read-only",
                call.db, call.name
            )))
        }
        _ => {}
    }
    match lower.as_str() {
        "hello" | "ismaster" => handshake::hello(&call, session, lower == "hello"),
        "ping" => Ok(bson::doc! {"ok": 1.0}),
        "buildinfo" => Ok(handshake::build_info()),
        "saslstart" => handshake::sasl_start(&call, session),
        "saslcontinue" => handshake::sasl_continue(&call, session),
        "logout" => {
            session.authenticated = None;
            Ok(bson::doc! {"ok": 1.0})
        }
        "endsessions" => {
            server
                .sessions
                .end(&call.array("endSessions")?, &server.collections);
            Ok(bson::doc! {"ok": 1.0})
        }
        "killallsessions" => {
            server.sessions.kill_all(&server.collections);
            Ok(bson::doc! {"ok": 1.0})
        }
        "refreshsessions" => Ok(bson::doc! {"ok": 1.0}),
        "whatsmyuri" => Ok(bson::doc! {"you": "", "ok": 1.0}),
        "connectionstatus" => Ok(handshake::connection_status(session)),
        "getlasterror" => Ok(bson::doc! {"err": Bson::Null, "n": 0, "ok": 1.0}),
        "serverstatus" => Ok(handshake::server_status(&call)),
        "hostinfo" => Ok(handshake::host_info()),
        "getcmdlineopts" => Ok(bson::doc! {"argv": [], "parsed": {}, "ok": 1.0}),
        "getparameter" => Ok(admin::get_parameter(&call)),
        "setparameter" => admin::set_parameter(&call),
        "listdatabases" => admin::list_databases(&call),
        "listcollections" => admin::list_collections(&call),
        "create" => admin::create(&call).await,
        "drop" => admin::drop(&call).await,
        "dropdatabase" => admin::drop_database(&call).await,
        "renamecollection" => admin::rename_collection(&call).await,
        "listindexes" => admin::list_indexes(&call),
        "createindexes" => admin::create_indexes(&call).await,
        "collmod" => coll_mod::coll_mod(&call).await,
        "dropindexes" | "deleteindexes" => admin::drop_indexes(&call).await,
        "collstats" | "dbstats" => admin::stats(&call, &lower),
        "customaction" => custom::custom_action(&call).await,
        "getlastrequeststatistics" => session
            .last_request
            .clone()
            .ok_or_else(|| MongoError::bad_value("no request has run on this connection yet")),
        "shardcollection" => custom::shard_collection(&call).await,
        "find" => read::find(&call),
        "explain" => read::explain(&call),
        "getmore" => read::get_more(&call).await,
        "killcursors" => read::kill_cursors(&call),
        "aggregate" => read::aggregate(&call).await,
        "count" => read::count(&call),
        "distinct" => read::distinct(&call),
        "insert" => write::insert(&call).await,
        "update" => write::update(&call).await,
        "delete" => write::delete(&call).await,
        "findandmodify" => write::find_and_modify(&call).await,
        _ => Err(MongoError::command_not_found(format!(
            "no such command: '{}'",
            call.name
        ))),
    }
}
