//! Which resource a request path names, and how the auth signature names it.

use cosmonaut_engine::ScriptKind;
use percent_encoding::percent_decode_str;

use crate::error::ApiError;

/// A resource addressed by name, as `/dbs/{db}/colls/{coll}/docs/{id}`.
#[derive(Debug, Clone, PartialEq)]
pub enum Address {
    Account,
    Databases,
    Database {
        db: String,
    },
    Containers {
        db: String,
    },
    Container {
        db: String,
        coll: String,
    },
    Items {
        db: String,
        coll: String,
    },
    Item {
        db: String,
        coll: String,
        id: String,
    },
    PartitionKeyRanges {
        db: String,
        coll: String,
    },
    Users {
        db: String,
    },
    User {
        db: String,
        user: String,
    },
    Permissions {
        db: String,
        user: String,
    },
    Permission {
        db: String,
        user: String,
        id: String,
    },
    Offers,
    Offer {
        id: String,
    },
    /// `.../sprocs`, `.../triggers` or `.../udfs` of a container.
    Scripts {
        db: String,
        coll: String,
        kind: ScriptKind,
    },
    Script {
        db: String,
        coll: String,
        kind: ScriptKind,
        id: String,
    },
    /// `.../conflicts`: the conflicts feed of a container, empty on an
    /// account with one write region.
    Conflicts {
        db: String,
        coll: String,
    },
    Conflict {
        db: String,
        coll: String,
        id: String,
    },
    /// `.../operations/partitionkeydelete`: delete a logical partition's items.
    PartitionKeyDelete {
        db: String,
        coll: String,
    },
}

impl Address {
    /// Parses a request path. Segments are percent-decoded: ids travel encoded
    /// but are signed and stored decoded.
    pub fn parse(path: &str) -> Result<Self, ApiError> {
        let trimmed = path.trim_matches('/');
        // Segments without escapes are borrowed, not copied.
        let segments: Vec<std::borrow::Cow<'_, str>> = if trimmed.is_empty() {
            Vec::new()
        } else {
            trimmed
                .split('/')
                .map(|s| {
                    percent_decode_str(s)
                        .decode_utf8()
                        .map_err(|_| ApiError::bad_request("The request path is not valid UTF-8."))
                })
                .collect::<Result<_, _>>()?
        };
        let s: Vec<&str> = segments.iter().map(|c| c.as_ref()).collect();
        let owned = |v: &str| v.to_string();
        Ok(match s.as_slice() {
            [] => Address::Account,
            ["dbs"] => Address::Databases,
            ["offers"] => Address::Offers,
            ["offers", id] => Address::Offer { id: owned(id) },
            ["dbs", db] => Address::Database { db: owned(db) },
            ["dbs", db, "colls"] => Address::Containers { db: owned(db) },
            ["dbs", db, "users"] => Address::Users { db: owned(db) },
            ["dbs", db, "users", user] => Address::User {
                db: owned(db),
                user: owned(user),
            },
            ["dbs", db, "users", user, "permissions"] => Address::Permissions {
                db: owned(db),
                user: owned(user),
            },
            ["dbs", db, "users", user, "permissions", id] => Address::Permission {
                db: owned(db),
                user: owned(user),
                id: owned(id),
            },
            ["dbs", db, "colls", coll] => Address::Container {
                db: owned(db),
                coll: owned(coll),
            },
            ["dbs", db, "colls", coll, "docs"] => Address::Items {
                db: owned(db),
                coll: owned(coll),
            },
            ["dbs", db, "colls", coll, "docs", id] => Address::Item {
                db: owned(db),
                coll: owned(coll),
                id: owned(id),
            },
            ["dbs", db, "colls", coll, "conflicts"] => Address::Conflicts {
                db: owned(db),
                coll: owned(coll),
            },
            ["dbs", db, "colls", coll, "conflicts", id] => Address::Conflict {
                db: owned(db),
                coll: owned(coll),
                id: owned(id),
            },
            ["dbs", db, "colls", coll, "pkranges"] => Address::PartitionKeyRanges {
                db: owned(db),
                coll: owned(coll),
            },
            ["dbs", db, "colls", coll, segment] if ScriptKind::from_segment(segment).is_some() => {
                Address::Scripts {
                    db: owned(db),
                    coll: owned(coll),
                    kind: script_kind(segment)?,
                }
            }
            ["dbs", db, "colls", coll, segment, id]
                if ScriptKind::from_segment(segment).is_some() =>
            {
                Address::Script {
                    db: owned(db),
                    coll: owned(coll),
                    kind: script_kind(segment)?,
                    id: owned(id),
                }
            }
            ["dbs", db, "colls", coll, "operations", "partitionkeydelete"] => {
                Address::PartitionKeyDelete {
                    db: owned(db),
                    coll: owned(coll),
                }
            }
            _ => return Err(ApiError::not_found_path(path)),
        })
    }

    /// The resource type the signature covers (`dbs`, `colls`, `docs`, ...).
    /// The container a request addresses, for per-container budgets.
    pub fn container(&self) -> Option<(&str, &str)> {
        match self {
            Address::Items { db, coll }
            | Address::Item { db, coll, .. }
            | Address::PartitionKeyDelete { db, coll }
            | Address::Script { db, coll, .. } => Some((db, coll)),
            _ => None,
        }
    }

    /// The container of any request inside one (the container itself, its
    /// items, scripts, ranges and conflicts).
    pub fn enclosing_container(&self) -> Option<(&str, &str)> {
        match self {
            Address::Container { db, coll }
            | Address::Items { db, coll }
            | Address::Item { db, coll, .. }
            | Address::PartitionKeyRanges { db, coll }
            | Address::PartitionKeyDelete { db, coll }
            | Address::Conflicts { db, coll }
            | Address::Conflict { db, coll, .. }
            | Address::Scripts { db, coll, .. }
            | Address::Script { db, coll, .. } => Some((db, coll)),
            _ => None,
        }
    }

    pub fn resource_type(&self) -> &'static str {
        match self {
            Address::Account => "",
            Address::Databases | Address::Database { .. } => "dbs",
            Address::Containers { .. } | Address::Container { .. } => "colls",
            Address::Items { .. } | Address::Item { .. } => "docs",
            Address::PartitionKeyRanges { .. } => "pkranges",
            Address::Conflicts { .. } | Address::Conflict { .. } => "conflicts",
            Address::Offers | Address::Offer { .. } => "offers",
            Address::Users { .. } | Address::User { .. } => "users",
            Address::Permissions { .. } | Address::Permission { .. } => "permissions",
            // The SDKs sign this operation as one on the container.
            Address::PartitionKeyDelete { .. } => "colls",
            Address::Scripts { kind, .. } | Address::Script { kind, .. } => kind.segment(),
        }
    }

    /// The database segment of the path, if it has one.
    fn database_segment(&self) -> Option<&str> {
        match self {
            Address::Account | Address::Databases | Address::Offers | Address::Offer { .. } => None,
            Address::Database { db }
            | Address::Containers { db }
            | Address::Container { db, .. }
            | Address::Items { db, .. }
            | Address::Item { db, .. }
            | Address::PartitionKeyRanges { db, .. }
            | Address::Users { db }
            | Address::User { db, .. }
            | Address::Permissions { db, .. }
            | Address::Permission { db, .. }
            | Address::Scripts { db, .. }
            | Address::Script { db, .. }
            | Address::PartitionKeyDelete { db, .. }
            | Address::Conflicts { db, .. }
            | Address::Conflict { db, .. } => Some(db),
        }
    }

    /// Whether the path names resources by resource id (`dbs/{rid}/...`, as
    /// `_self` links do) rather than by id. As in the SDKs, a path is
    /// rid-based when its database segment is a database rid.
    pub fn is_rid_based(&self) -> bool {
        self.database_segment()
            .is_some_and(cosmonaut_engine::is_database_rid)
    }

    /// The resource link the signature covers: the addressed resource, or for
    /// a feed its parent. For a rid-based path that is the resource's (or
    /// parent's) own rid, lower-cased, as the SDKs sign it.
    pub fn resource_link(&self) -> String {
        if self.is_rid_based() {
            return self.leaf_rid().to_lowercase();
        }
        match self {
            Address::Account | Address::Databases | Address::Offers => String::new(),
            // Offers are addressed by resource id, which signatures lower-case.
            Address::Offer { id } => id.to_lowercase(),
            Address::Database { db } | Address::Containers { db } | Address::Users { db } => {
                ["dbs/", db].concat()
            }
            Address::User { db, user } | Address::Permissions { db, user } => {
                format!("dbs/{db}/users/{user}")
            }
            Address::Permission { db, user, id } => {
                format!("dbs/{db}/users/{user}/permissions/{id}")
            }
            Address::Container { db, coll }
            | Address::Items { db, coll }
            | Address::PartitionKeyRanges { db, coll }
            | Address::Conflicts { db, coll }
            | Address::PartitionKeyDelete { db, coll } => ["dbs/", db, "/colls/", coll].concat(),
            Address::Conflict { db, coll, id } => {
                ["dbs/", db, "/colls/", coll, "/conflicts/", id].concat()
            }
            // Built with `concat`, which sizes the string once: links are
            // made for every request's signature.
            Address::Item { db, coll, id } => ["dbs/", db, "/colls/", coll, "/docs/", id].concat(),
            Address::Scripts { db, coll, .. } => ["dbs/", db, "/colls/", coll].concat(),
            Address::Script { db, coll, kind, id } => {
                format!("dbs/{db}/colls/{coll}/{}/{id}", kind.segment())
            }
        }
    }
}

impl Address {
    /// The last rid of a rid-based path that names the signed resource: the
    /// addressed resource's, or a feed's parent's.
    fn leaf_rid(&self) -> &str {
        match self {
            Address::Account | Address::Databases | Address::Offers => "",
            Address::Offer { id } => id,
            Address::Database { db } | Address::Containers { db } | Address::Users { db } => db,
            Address::User { user, .. } | Address::Permissions { user, .. } => user,
            Address::Permission { id, .. } => id,
            Address::Container { coll, .. }
            | Address::Items { coll, .. }
            | Address::PartitionKeyRanges { coll, .. }
            | Address::PartitionKeyDelete { coll, .. }
            | Address::Conflicts { coll, .. }
            | Address::Scripts { coll, .. } => coll,
            Address::Item { id, .. }
            | Address::Script { id, .. }
            | Address::Conflict { id, .. } => id,
        }
    }

    /// The request path of this address, without its slashes.
    pub fn path(&self) -> String {
        match self {
            Address::Account => String::new(),
            Address::Databases => "dbs".into(),
            Address::Offers => "offers".into(),
            Address::Offer { id } => format!("offers/{id}"),
            Address::Database { db } => format!("dbs/{db}"),
            Address::Containers { db } => format!("dbs/{db}/colls"),
            Address::Users { db } => format!("dbs/{db}/users"),
            Address::User { db, user } => format!("dbs/{db}/users/{user}"),
            Address::Permissions { db, user } => format!("dbs/{db}/users/{user}/permissions"),
            Address::Permission { db, user, id } => {
                format!("dbs/{db}/users/{user}/permissions/{id}")
            }
            Address::Container { db, coll } => format!("dbs/{db}/colls/{coll}"),
            Address::Items { db, coll } => format!("dbs/{db}/colls/{coll}/docs"),
            Address::Item { db, coll, id } => format!("dbs/{db}/colls/{coll}/docs/{id}"),
            Address::PartitionKeyRanges { db, coll } => format!("dbs/{db}/colls/{coll}/pkranges"),
            Address::Conflicts { db, coll } => format!("dbs/{db}/colls/{coll}/conflicts"),
            Address::Conflict { db, coll, id } => format!("dbs/{db}/colls/{coll}/conflicts/{id}"),
            Address::PartitionKeyDelete { db, coll } => {
                format!("dbs/{db}/colls/{coll}/operations/partitionkeydelete")
            }
            Address::Scripts { db, coll, kind } => {
                format!("dbs/{db}/colls/{coll}/{}", kind.segment())
            }
            Address::Script { db, coll, kind, id } => {
                format!("dbs/{db}/colls/{coll}/{}/{id}", kind.segment())
            }
        }
    }
}

fn script_kind(segment: &str) -> Result<ScriptKind, ApiError> {
    ScriptKind::from_segment(segment).ok_or_else(|| ApiError::not_found_path(segment))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_decodes() {
        assert_eq!(Address::parse("/").expect("root"), Address::Account);
        let item = Address::parse("/dbs/d/colls/c/docs/a%20b/").expect("item");
        assert_eq!(item.resource_link(), "dbs/d/colls/c/docs/a b");
        assert_eq!(item.resource_type(), "docs");
        let feed = Address::parse("/dbs/d/colls/c/docs").expect("feed");
        assert_eq!(feed.resource_link(), "dbs/d/colls/c");
        assert!(Address::parse("/nope").is_err());
        assert!(Address::parse("/dbs/%FF").is_err());
    }

    #[test]
    fn rid_based_paths_sign_their_leaf_rid_lower_cased() {
        let item =
            Address::parse("/dbs/YIwkAA==/colls/YIwkAI7sZwA=/docs/YIwkAI7sZwDzAwAAAAAAAA==/")
                .expect("item");
        assert!(item.is_rid_based());
        assert_eq!(item.resource_link(), "yiwkai7szwdzawaaaaaaaa==");
        assert_eq!(item.resource_type(), "docs");
        let feed = Address::parse("/dbs/YIwkAA==/colls/YIwkAI7sZwA=/docs").expect("feed");
        assert_eq!(feed.resource_link(), "yiwkai7szwa=");
        let db = Address::parse("/dbs/YIwkAA==").expect("db");
        assert_eq!(db.resource_link(), "yiwkaa==");
        // An id that is not a database rid stays a name.
        let named = Address::parse("/dbs/orders/colls/YIwkAI7sZwA=").expect("named");
        assert!(!named.is_rid_based());
        assert_eq!(named.resource_link(), "dbs/orders/colls/YIwkAI7sZwA=");
        assert_eq!(named.path(), "dbs/orders/colls/YIwkAI7sZwA=");
    }
}
