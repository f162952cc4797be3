//! One writer per backup location.
//!
//! Each writer takes a numbered lease by creating `lease/<epoch>.lease` with
//! a create-only put, which object stores (S3 and Azure conditional puts, a
//! folder's no-clobber link) let exactly one caller win. The holder then
//! renews by overwriting its own heartbeat object. A newcomer may take the
//! next epoch only when the newest lease was released, its heartbeat is older
//! than its time to live, or it was held by the same data dir (whose process
//! must be gone: the store's file lock keeps two processes off one data dir).
//! A holder that finds a newer lease has been taken over and stops writing.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{BackupError, Result};
use crate::layout;
use crate::seal::{self, Kind};
use crate::target::Target;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct LeaseRecord {
    /// Who holds it, for people: host, process, data dir.
    holder: String,
    /// The data dir's identity.
    instance: String,
    acquired_ms: u64,
    ttl_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Heartbeat {
    renewed_ms: u64,
    released: bool,
}

/// A held writer lease.
#[derive(Debug, Clone)]
pub struct Lease {
    pub epoch: u64,
    pub holder: String,
}

/// Who wants the lease.
#[derive(Debug, Clone)]
pub struct Claimant {
    /// Shown to whoever is refused: host, process id, data dir.
    pub holder: String,
    /// Stable identity of the data dir.
    pub instance: String,
    pub ttl: Duration,
}

impl Lease {
    /// Takes the next epoch's lease, or says who holds the current one.
    pub async fn acquire(target: &Target, claimant: &Claimant) -> Result<Lease> {
        let newest = target
            .list(layout::LEASES)
            .await?
            .iter()
            .filter_map(|l| layout::lease_epoch(&l.name))
            .max();
        let now = crate::now_ms();
        if let Some(epoch) = newest {
            let record = read_record(target, epoch).await?;
            let heartbeat = read_heartbeat(target, epoch).await?;
            let renewed = heartbeat
                .as_ref()
                .map_or(record.acquired_ms, |h| h.renewed_ms);
            let released = heartbeat.is_some_and(|h| h.released);
            let age = now.saturating_sub(renewed);
            if !released && record.instance != claimant.instance && age < record.ttl_ms {
                return Err(BackupError::LeaseHeld {
                    holder: record.holder,
                    epoch,
                    age_s: age / 1000,
                    expires_in_s: (record.ttl_ms - age).div_ceil(1000),
                });
            }
        }
        let epoch = newest.map_or(1, |e| e + 1);
        let record = LeaseRecord {
            holder: claimant.holder.clone(),
            instance: claimant.instance.clone(),
            acquired_ms: now,
            ttl_ms: claimant.ttl.as_millis() as u64,
        };
        if !target
            .create(&layout::lease(epoch), seal_json(&record))
            .await?
        {
            let winner = read_record(target, epoch).await?;
            return Err(BackupError::LeaseHeld {
                holder: winner.holder,
                epoch,
                age_s: 0,
                expires_in_s: winner.ttl_ms.div_ceil(1000),
            });
        }
        let lease = Lease {
            epoch,
            holder: claimant.holder.clone(),
        };
        lease.beat(target, false).await?;
        Ok(lease)
    }

    /// Renews the lease, unless another writer has taken the next epoch.
    pub async fn renew(&self, target: &Target) -> Result<()> {
        if target.get(&layout::lease(self.epoch + 1)).await?.is_some() {
            let winner = read_record(target, self.epoch + 1).await?;
            return Err(BackupError::LeaseLost {
                epoch: self.epoch,
                holder: winner.holder,
            });
        }
        self.beat(target, false).await
    }

    /// Gives the lease up, so the next writer need not wait for it to expire.
    pub async fn release(&self, target: &Target) -> Result<()> {
        self.beat(target, true).await
    }

    async fn beat(&self, target: &Target, released: bool) -> Result<()> {
        let heartbeat = Heartbeat {
            renewed_ms: crate::now_ms(),
            released,
        };
        target
            .put(&layout::heartbeat(self.epoch), seal_json(&heartbeat))
            .await
    }
}

fn seal_json(value: &impl Serialize) -> Vec<u8> {
    // Plain structs of strings and numbers always serialise.
    seal::seal(Kind::Lease, &serde_json::to_vec(value).unwrap_or_default())
}

async fn read_sealed<T: for<'de> Deserialize<'de>>(
    target: &Target,
    path: &str,
) -> Result<Option<T>> {
    let Some(bytes) = target.get(path).await? else {
        return Ok(None);
    };
    let corrupt = |reason: String| BackupError::Corrupt {
        path: path.to_string(),
        reason,
    };
    let body = seal::unseal(Kind::Lease, &bytes).map_err(corrupt)?;
    serde_json::from_slice(body)
        .map(Some)
        .map_err(|e| corrupt(e.to_string()))
}

async fn read_record(target: &Target, epoch: u64) -> Result<LeaseRecord> {
    let path = layout::lease(epoch);
    read_sealed(target, &path)
        .await?
        .ok_or_else(|| BackupError::Restore(format!("lease {path} vanished")))
}

async fn read_heartbeat(target: &Target, epoch: u64) -> Result<Option<Heartbeat>> {
    read_sealed(target, &layout::heartbeat(epoch)).await
}
