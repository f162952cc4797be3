//! The account's keys: two read-write keys and two read-only keys, as the
//! service has, plus the secret resource tokens are signed with. The set is
//! swapped whole when keys rotate, so a request sees one consistent set.

use super::master::MasterKey;

/// Which of the account's keys signed a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Primary,
    Secondary,
    PrimaryReadOnly,
    SecondaryReadOnly,
}

impl KeyKind {
    pub const ALL: [KeyKind; 4] = [
        KeyKind::Primary,
        KeyKind::Secondary,
        KeyKind::PrimaryReadOnly,
        KeyKind::SecondaryReadOnly,
    ];

    pub fn is_read_only(self) -> bool {
        matches!(self, KeyKind::PrimaryReadOnly | KeyKind::SecondaryReadOnly)
    }

    /// The name the CLI and the keys file use.
    pub fn name(self) -> &'static str {
        match self {
            KeyKind::Primary => "primary",
            KeyKind::Secondary => "secondary",
            KeyKind::PrimaryReadOnly => "primary-readonly",
            KeyKind::SecondaryReadOnly => "secondary-readonly",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// One consistent set of keys.
#[derive(Clone)]
pub struct AccountKeys {
    pub keys: Vec<(KeyKind, MasterKey)>,
    /// Signs resource tokens; rotating it revokes every token issued.
    pub token_secret: Vec<u8>,
}

/// The keys in force, replaceable while the server runs.
pub type KeyRing = super::Live<AccountKeys>;
