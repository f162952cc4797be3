//! Which gateways serve the account, in which region, at which endpoint:
//! gateways sharing a store (over PostgreSQL) each keep a presence record
//! fresh, and the account lists the regions of those seen lately, so the
//! SDKs' region routing and failover work across a cluster.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::records::{decode, encode};
use crate::{keys, Engine};

/// How recently a gateway must have announced itself to count as live.
pub const PRESENCE_FRESH: Duration = Duration::from_secs(10);

/// One gateway, as it last announced itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GatewayPresence {
    pub instance: String,
    pub region: String,
    /// Where clients reach it.
    pub endpoint: String,
    /// When it last announced itself, in milliseconds since the Unix epoch.
    pub seen_ms: u64,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl Engine {
    /// Records that `instance` serves `region` at `endpoint`, now.
    pub async fn announce_gateway(
        &self,
        instance: &str,
        region: &str,
        endpoint: &str,
    ) -> Result<()> {
        let presence = GatewayPresence {
            instance: instance.to_string(),
            region: region.to_string(),
            endpoint: endpoint.to_string(),
            seen_ms: now_ms(),
        };
        let key = keys::gateway(instance);
        let value = encode(&presence)?;
        self.store
            .transact(move |txn| {
                txn.put(key, value);
                Ok(())
            })
            .await
    }

    /// Removes `instance`'s record (it is stopping).
    pub async fn withdraw_gateway(&self, instance: &str) -> Result<()> {
        let key = keys::gateway(instance);
        self.store
            .transact(move |txn| {
                txn.delete(key);
                Ok(())
            })
            .await
    }

    /// The gateways that announced themselves within `fresh`, by instance id.
    pub fn live_gateways(&self, fresh: Duration) -> Result<Vec<GatewayPresence>> {
        let (start, end) = keys::gateways();
        let oldest = now_ms().saturating_sub(fresh.as_millis() as u64);
        let mut live = Vec::new();
        for (_, bytes) in self.snapshot()?.scan(&start, &end, usize::MAX)? {
            let presence: GatewayPresence = decode(&bytes)?;
            if presence.seen_ms >= oldest {
                live.push(presence);
            }
        }
        Ok(live)
    }
}
