//! Connection set-up: `hello`/`isMaster`, `buildInfo`, server facts, and
//! SCRAM authentication (`saslStart`, `saslContinue`).

use bson::{doc, spec::BinarySubtype, Binary, Bson, Document};

use super::{Call, Session};
use crate::error::{MongoError, Result};
use crate::scram::{Conversation, Mechanism};
use crate::{MAX_WIRE_VERSION, REPLICA_SET, SERVER_VERSION};

pub fn hello(call: &Call<'_>, session: &Session, new_style: bool) -> Result<Document> {
    let host = &call.server.config.advertised_host;
    let mut reply = Document::new();
    if new_style {
        reply.insert("isWritablePrimary", true);
    } else {
        reply.insert("ismaster", true);
    }
    reply.extend(doc! {
        "helloOk": true,
        "setName": REPLICA_SET,
        "setVersion": 1,
        "hosts": [host.as_str()],
        "primary": host.as_str(),
        "me": host.as_str(),
        "secondary": false,
        "maxBsonObjectSize": 16 * 1024 * 1024,
        "maxMessageSizeBytes": call.server.config.max_message_bytes as i32,
        "maxWriteBatchSize": 100_000,
        "localTime": bson::DateTime::now(),
        "logicalSessionTimeoutMinutes": 30,
        "connectionId": session.connection_id,
        "minWireVersion": 0,
        "maxWireVersion": MAX_WIRE_VERSION,
        "readOnly": false,
    });
    if call.body.get_str("saslSupportedMechs").is_ok() {
        reply.insert("saslSupportedMechs", vec!["SCRAM-SHA-256", "SCRAM-SHA-1"]);
    }
    reply.insert("ok", 1.0);
    Ok(reply)
}

pub fn build_info() -> Document {
    doc! {
        "version": SERVER_VERSION,
        "versionArray": [6, 0, 0, 0],
        "gitVersion": "cosmonaut",
        "maxBsonObjectSize": 16 * 1024 * 1024,
        "bits": 64,
        "debug": false,
        "storageEngines": ["cosmonaut"],
        "ok": 1.0,
    }
}

pub fn connection_status(session: &Session) -> Document {
    let users: Vec<Bson> = match session.authenticated {
        Some(_) => vec![Bson::Document(doc! {"user": "account", "db": "admin"})],
        None => Vec::new(),
    };
    doc! {"authInfo": {"authenticatedUsers": users, "authenticatedUserRoles": []}, "ok": 1.0}
}

pub fn server_status(call: &Call<'_>) -> Document {
    doc! {
        "host": call.server.config.advertised_host.as_str(),
        "version": SERVER_VERSION,
        "process": "cosmonaut",
        "uptime": 0,
        "localTime": bson::DateTime::now(),
        "connections": {"totalCreated": call.server.next_connection.load(std::sync::atomic::Ordering::Relaxed) - 1},
        "ok": 1.0,
    }
}

pub fn host_info() -> Document {
    doc! {"system": {"hostname": "cosmonaut"}, "os": {"type": std::env::consts::OS}, "ok": 1.0}
}

fn payload(call: &Call<'_>) -> Result<Vec<u8>> {
    match call.body.get("payload") {
        Some(Bson::Binary(b)) => Ok(b.bytes.clone()),
        Some(Bson::String(s)) => Ok(s.as_bytes().to_vec()),
        _ => Err(MongoError::bad_value("saslStart needs a binary payload")),
    }
}

fn binary(bytes: Vec<u8>) -> Binary {
    Binary {
        subtype: BinarySubtype::Generic,
        bytes,
    }
}

pub fn sasl_start(call: &Call<'_>, session: &mut Session) -> Result<Document> {
    let mechanism = Mechanism::parse(call.body.get_str("mechanism").unwrap_or(""))?;
    let (conversation, first) = Conversation::start(mechanism, &payload(call)?)?;
    session.conversation = Some(conversation);
    session.authenticated = None;
    Ok(doc! {"conversationId": 1, "done": false, "payload": binary(first), "ok": 1.0})
}

pub fn sasl_continue(call: &Call<'_>, session: &mut Session) -> Result<Document> {
    let payload = payload(call)?;
    if payload.is_empty() {
        // The empty last step of a client that did not ask to skip it.
        return match session.authenticated {
            Some(_) => Ok(
                doc! {"conversationId": 1, "done": true, "payload": binary(Vec::new()), "ok": 1.0},
            ),
            None => Err(MongoError::authentication_failed("Authentication failed.")),
        };
    }
    let conversation = session
        .conversation
        .take()
        .ok_or_else(|| MongoError::protocol("No SASL session state found"))?;
    let credentials = (call.server.config.credentials)();
    match conversation.finish(&payload, &credentials) {
        Ok((credential, last)) => {
            session.authenticated = Some(credential.read_only);
            tracing::debug!(
                user = conversation.user(),
                read_only = credential.read_only,
                "MongoDB client authenticated"
            );
            // Drivers ask to skip the empty exchange; either way the
            // signature goes now and a following empty step is answered.
            Ok(doc! {"conversationId": 1, "done": true, "payload": binary(last), "ok": 1.0})
        }
        Err(e) => {
            tracing::info!(user = conversation.user(), "MongoDB authentication failed");
            Err(e)
        }
    }
}
