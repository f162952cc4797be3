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

    pub fn resource_type(&self) -> &'static str {
        match self {
            Address::Account => "",
            Address::Databases | Address::Database { .. } => "dbs",
            Address::Containers { .. } | Address::Container { .. } => "colls",
            Address::Items { .. } | Address::Item { .. } => "docs",
            Address::PartitionKeyRanges { .. } => "pkranges",
            Address::Offers | Address::Offer { .. } => "offers",
            Address::Users { .. } | Address::User { .. } => "users",
            Address::Permissions { .. } | Address::Permission { .. } => "permissions",
            // The SDKs sign this operation as one on the container.
            Address::PartitionKeyDelete { .. } => "colls",
            Address::Scripts { kind, .. } | Address::Script { kind, .. } => kind.segment(),
        }
    }

    /// The resource link the signature covers: the addressed resource, or for
    /// a feed its parent.
    pub fn resource_link(&self) -> String {
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
            | Address::PartitionKeyDelete { db, coll } => ["dbs/", db, "/colls/", coll].concat(),
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
}
