//! The account's own files (its keys, its role assignments) kept in the
//! store, so that servers sharing one store (gateways over PostgreSQL)
//! share them too. The engine keeps them as bytes; the binary knows what
//! they hold.

use cosmonaut_storage::KvRead;

use crate::error::Result;
use crate::{keys, Engine};

impl Engine {
    /// The stored copy of the account file `name`, if there is one.
    pub fn account_file(&self, name: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.snapshot()?.get(&keys::account_file(name))?)
    }

    /// Stores `bytes` as the account file `name` (unless `only_if_absent`
    /// and a copy is already there) and returns the copy stored afterwards.
    pub async fn store_account_file(
        &self,
        name: &str,
        bytes: Vec<u8>,
        only_if_absent: bool,
    ) -> Result<Vec<u8>> {
        let key = keys::account_file(name);
        self.store
            .transact(move |txn| {
                if only_if_absent {
                    if let Some(stored) = txn.get(&key)? {
                        return Ok(stored);
                    }
                }
                txn.put(key, bytes.clone());
                Ok(bytes)
            })
            .await
    }
}
