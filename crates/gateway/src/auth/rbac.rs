//! Data-plane role-based access control for Entra ID principals, with the
//! service's data actions, its two built-in roles and custom roles, assigned
//! to principals at account, database or container scope.

use serde::{Deserialize, Serialize};

const PREFIX: &str = "Microsoft.DocumentDB/databaseAccounts";

/// The data actions a request may need.
pub mod actions {
    pub const READ_METADATA: &str = "Microsoft.DocumentDB/databaseAccounts/readMetadata";
    pub const QUERY: &str =
        "Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers/executeQuery";
    pub const CHANGE_FEED: &str =
        "Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers/readChangeFeed";
    pub const READ: &str =
        "Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers/items/read";
    pub const CREATE: &str =
        "Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers/items/create";
    pub const REPLACE: &str =
        "Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers/items/replace";
    pub const UPSERT: &str =
        "Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers/items/upsert";
    pub const DELETE: &str =
        "Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers/items/delete";
    pub const EXECUTE_STORED_PROCEDURE: &str =
        "Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers/executeStoredProcedure";
}

pub const DATA_READER_ID: &str = "00000000-0000-0000-0000-000000000001";
pub const DATA_CONTRIBUTOR_ID: &str = "00000000-0000-0000-0000-000000000002";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RoleDefinition {
    pub id: String,
    pub role_name: String,
    pub data_actions: Vec<String>,
    #[serde(default)]
    pub not_data_actions: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RoleAssignment {
    pub id: String,
    pub role_definition_id: String,
    pub principal_id: String,
    /// `/`, `/dbs/<db>` or `/dbs/<db>/colls/<container>`.
    pub scope: String,
}

/// Custom roles and every assignment (the built-in roles are always there).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rbac {
    #[serde(default)]
    pub role_definitions: Vec<RoleDefinition>,
    #[serde(default)]
    pub role_assignments: Vec<RoleAssignment>,
}

pub fn built_in_roles() -> Vec<RoleDefinition> {
    vec![
        RoleDefinition {
            id: DATA_READER_ID.into(),
            role_name: "Cosmos DB Built-in Data Reader".into(),
            data_actions: vec![
                actions::READ_METADATA.into(),
                actions::QUERY.into(),
                actions::CHANGE_FEED.into(),
                actions::READ.into(),
            ],
            not_data_actions: vec![],
        },
        RoleDefinition {
            id: DATA_CONTRIBUTOR_ID.into(),
            role_name: "Cosmos DB Built-in Data Contributor".into(),
            data_actions: vec![
                actions::READ_METADATA.into(),
                format!("{PREFIX}/sqlDatabases/containers/*"),
                format!("{PREFIX}/sqlDatabases/containers/items/*"),
            ],
            not_data_actions: vec![],
        },
    ]
}

/// Whether `pattern` (an action, or one ending in `/*`) covers `action`.
/// Actions compare without regard to case, as Azure's do.
pub fn action_matches(pattern: &str, action: &str) -> bool {
    let (pattern, action) = (pattern.to_ascii_lowercase(), action.to_ascii_lowercase());
    match pattern.strip_suffix('*') {
        Some(prefix) => action.starts_with(prefix),
        None => pattern == action,
    }
}

/// Whether an assignment's scope covers a request path (`dbs/db/colls/c/...`).
fn scope_covers(scope: &str, path: &str) -> bool {
    let scope = scope.trim_matches('/');
    scope.is_empty() || path == scope || path.starts_with(&format!("{scope}/"))
}

impl Rbac {
    pub fn role(&self, id_or_name: &str) -> Option<RoleDefinition> {
        built_in_roles()
            .into_iter()
            .chain(self.role_definitions.iter().cloned())
            .find(|r| r.id == id_or_name || r.role_name.eq_ignore_ascii_case(id_or_name))
    }

    /// Whether `principal` holds `action` on `path`, by any assignment.
    /// Reading the account itself needs `readMetadata` at any scope: the
    /// SDKs read it before anything else.
    pub fn allows(&self, principal: &str, action: &str, path: &str) -> bool {
        let account_read = path.is_empty() && action == actions::READ_METADATA;
        self.role_assignments
            .iter()
            .filter(|a| {
                a.principal_id == principal && (account_read || scope_covers(&a.scope, path))
            })
            .filter_map(|a| self.role(&a.role_definition_id))
            .any(|role| {
                role.data_actions.iter().any(|p| action_matches(p, action))
                    && !role
                        .not_data_actions
                        .iter()
                        .any(|p| action_matches(p, action))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assign(role: &str, scope: &str) -> RoleAssignment {
        RoleAssignment {
            id: "a".into(),
            role_definition_id: role.into(),
            principal_id: "alice".into(),
            scope: scope.into(),
        }
    }

    #[test]
    fn built_in_and_custom_roles_at_their_scopes() {
        let mut rbac = Rbac::default();
        rbac.role_assignments
            .push(assign(DATA_READER_ID, "/dbs/db"));
        assert!(rbac.allows("alice", actions::READ, "dbs/db/colls/c/docs/x"));
        assert!(rbac.allows("alice", actions::QUERY, "dbs/db/colls/c/docs"));
        assert!(!rbac.allows("alice", actions::CREATE, "dbs/db/colls/c/docs"));
        assert!(!rbac.allows("alice", actions::READ, "dbs/other/colls/c/docs/x"));
        assert!(!rbac.allows("bob", actions::READ, "dbs/db/colls/c/docs/x"));
        assert!(
            rbac.allows("alice", actions::READ_METADATA, ""),
            "the account itself"
        );
        assert!(!rbac.allows("alice", actions::READ_METADATA, "dbs"));

        rbac.role_assignments.push(assign(
            "Cosmos DB Built-in Data Contributor",
            "/dbs/db/colls/c",
        ));
        assert!(rbac.allows("alice", actions::UPSERT, "dbs/db/colls/c/docs"));
        assert!(!rbac.allows("alice", actions::UPSERT, "dbs/db/colls/d/docs"));

        rbac.role_definitions.push(RoleDefinition {
            id: "custom".into(),
            role_name: "writer without delete".into(),
            data_actions: vec![format!("{PREFIX}/sqlDatabases/containers/items/*")],
            not_data_actions: vec![actions::DELETE.into()],
        });
        rbac.role_assignments.push(assign("custom", "/"));
        assert!(rbac.allows("alice", actions::CREATE, "dbs/x/colls/y/docs"));
        assert!(!rbac.allows("alice", actions::DELETE, "dbs/x/colls/y/docs/z"));
        assert!(action_matches(
            &format!("{PREFIX}/*"),
            &actions::READ.to_uppercase()
        ));
    }
}
