//! Turning a rid-based address (`dbs/{rid}/colls/{rid}/docs/{rid}`, as the
//! `_self` links hold) into the same address by ids, so every handler
//! serves both. A child segment that is not a rid of its kind is refused
//! (400), and a rid that is not under its parent is not found (404), as a
//! container rid from another database.

use cosmonaut_engine::partition::PartitionKeyValue;
use cosmonaut_engine::Engine;

use crate::address::Address;
use crate::error::ApiError;

/// The address `address` names by ids; `partition_key` is the request's,
/// which narrows the search for an item.
pub fn to_ids(
    engine: &Engine,
    address: Address,
    partition_key: &Option<Vec<PartitionKeyValue>>,
) -> Result<Address, ApiError> {
    let db_of = |rid: &str| engine.database_id_by_rid(rid);
    Ok(match address {
        Address::Database { db } => Address::Database { db: db_of(&db)? },
        Address::Containers { db } => Address::Containers { db: db_of(&db)? },
        Address::Users { db } => Address::Users { db: db_of(&db)? },
        Address::User { db, user } => {
            let db = db_of(&db)?;
            let user = engine.user_id_by_rid(&db, &user)?;
            Address::User { db, user }
        }
        Address::Permissions { db, user } => {
            let db = db_of(&db)?;
            let user = engine.user_id_by_rid(&db, &user)?;
            Address::Permissions { db, user }
        }
        Address::Permission { db, user, id } => {
            let db = db_of(&db)?;
            let user = engine.user_id_by_rid(&db, &user)?;
            let id = engine.permission_id_by_rid(&db, &user, &id)?;
            Address::Permission { db, user, id }
        }
        Address::Container { db, coll } => {
            let (db, coll) = container(engine, &db, &coll)?;
            Address::Container { db, coll }
        }
        Address::Items { db, coll } => {
            let (db, coll) = container(engine, &db, &coll)?;
            Address::Items { db, coll }
        }
        Address::PartitionKeyRanges { db, coll } => {
            let (db, coll) = container(engine, &db, &coll)?;
            Address::PartitionKeyRanges { db, coll }
        }
        Address::PartitionKeyDelete { db, coll } => {
            let (db, coll) = container(engine, &db, &coll)?;
            Address::PartitionKeyDelete { db, coll }
        }
        Address::Conflicts { db, coll } => {
            let (db, coll) = container(engine, &db, &coll)?;
            Address::Conflicts { db, coll }
        }
        // No conflict exists to be found by its rid; the handler answers 404.
        Address::Conflict { db, coll, id } => {
            let (db, coll) = container(engine, &db, &coll)?;
            Address::Conflict { db, coll, id }
        }
        Address::Scripts { db, coll, kind } => {
            let (db, coll) = container(engine, &db, &coll)?;
            Address::Scripts { db, coll, kind }
        }
        Address::Item { db, coll, id } => {
            let (db, coll) = container(engine, &db, &coll)?;
            let id = engine.item_id_by_rid(&db, &coll, &id, partition_key)?;
            Address::Item { db, coll, id }
        }
        Address::Script { db, coll, kind, id } => {
            let (db, coll) = container(engine, &db, &coll)?;
            let id = engine.script_id_by_rid(&db, &coll, kind, &id)?;
            Address::Script { db, coll, kind, id }
        }
        other => other,
    })
}

fn container(engine: &Engine, db: &str, coll: &str) -> Result<(String, String), ApiError> {
    let db = engine.database_id_by_rid(db)?;
    let coll = engine.container_id_by_rid(&db, coll)?;
    Ok((db, coll))
}
