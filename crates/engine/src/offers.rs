//! Offers: provisioned throughput as the service exposes it (`/offers`),
//! read and replaced by the SDKs' get/replace throughput. Throughput is
//! manual (fixed RU/s) or autoscale (a maximum the service scales within,
//! from a tenth of it), and belongs to a container (dedicated) or to a
//! database (shared by the containers that have none of their own).
//!
//! Offers are views of the database and container records: a database has
//! one when it was created with throughput; a container has one when it was
//! created with throughput, or when its database has none (then the
//! service's minimum of 400 RU/s). Replacing an offer changes the recorded
//! throughput; physical partitions stay as they are (a split is not
//! modelled).

use cosmonaut_storage::KvRead;
use serde_json::{json, Value};

use crate::engine::{new_etag, now_seconds, Engine};
use crate::error::{EngineError, ErrorKind, Result};
use crate::keys;
use crate::records::{decode, encode, ContainerRecord, DatabaseRecord};
use crate::rid;

/// The service's smallest manual throughput, and the step between values.
pub const MIN_THROUGHPUT: u64 = 400;
const THROUGHPUT_STEP: u64 = 100;
/// Autoscale maximums start at 1,000 RU/s and go in steps of 1,000.
const AUTOSCALE_STEP: u64 = 1000;

/// Provisioned throughput.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Throughput {
    /// A fixed number of RU/s.
    Manual(u64),
    /// Scales between a tenth of `max` and `max` RU/s; `increment_percent`
    /// is the auto-upgrade policy's step, kept and reported as set.
    Autoscale { max: u64, increment_percent: u64 },
}

impl Throughput {
    /// The most RU/s it allows: what the rate limiter budgets.
    pub fn ceiling(self) -> u64 {
        match self {
            Self::Manual(ru) => ru,
            Self::Autoscale { max, .. } => max,
        }
    }

    /// Refuses values the service refuses.
    pub fn check(self) -> Result<Self> {
        match self {
            Self::Manual(ru) if ru < MIN_THROUGHPUT || ru % THROUGHPUT_STEP != 0 => {
                Err(EngineError::bad_request(format!(
                    "The offer throughput {ru} is invalid: it must be at least {MIN_THROUGHPUT} \
                     RU/s and a multiple of {THROUGHPUT_STEP}."
                )))
            }
            Self::Autoscale { max, .. } if max < AUTOSCALE_STEP || max % AUTOSCALE_STEP != 0 => {
                Err(EngineError::bad_request(format!(
                    "The autoscale maximum throughput {max} is invalid: it must be at least \
                     {AUTOSCALE_STEP} RU/s and a multiple of {AUTOSCALE_STEP}."
                )))
            }
            valid => Ok(valid),
        }
    }

    /// As records store it: RU/s, and whether they are an autoscale maximum
    /// (with its increment percent).
    pub(crate) fn stored(self) -> Stored {
        match self {
            Self::Manual(ru) => Stored {
                ru: Some(ru),
                autoscale: false,
                increment_percent: 0,
            },
            Self::Autoscale {
                max,
                increment_percent,
            } => Stored {
                ru: Some(max),
                autoscale: true,
                increment_percent,
            },
        }
    }

    pub(crate) fn from_stored(
        ru: Option<u64>,
        autoscale: bool,
        increment_percent: u64,
    ) -> Option<Self> {
        ru.map(|ru| {
            if autoscale {
                Self::Autoscale {
                    max: ru,
                    increment_percent,
                }
            } else {
                Self::Manual(ru)
            }
        })
    }

    fn content(self) -> Value {
        match self {
            Self::Manual(ru) => json!({
                "offerThroughput": ru,
                "offerIsRUPerMinuteThroughputEnabled": false,
            }),
            Self::Autoscale {
                max,
                increment_percent,
            } => json!({
                "offerThroughput": max / 10,
                "offerIsRUPerMinuteThroughputEnabled": false,
                "offerAutopilotSettings": {
                    "maxThroughput": max,
                    "autoUpgradePolicy": {"throughputPolicy": {"incrementPercent": increment_percent}},
                },
            }),
        }
    }

    /// The throughput an offer body asks for: its autoscale maximum if it
    /// has one, else its manual RU/s.
    fn requested(body: &Value) -> Result<Self> {
        let content = body.get("content");
        if let Some(settings) = content.and_then(|c| c.get("offerAutopilotSettings")) {
            if let Some(throughput) = Self::autoscale_settings(settings) {
                return throughput;
            }
        }
        content
            .and_then(|c| c.get("offerThroughput"))
            .and_then(Value::as_u64)
            .map(Self::Manual)
            .ok_or_else(|| {
                EngineError::bad_request(
                    "The offer needs content.offerThroughput or \
                     content.offerAutopilotSettings.maxThroughput (RU/s).",
                )
            })
    }
}

impl Throughput {
    /// Autoscale settings as offers and `x-ms-cosmos-offer-autopilot-settings`
    /// carry them: `{"maxThroughput", "autoUpgradePolicy": {"throughputPolicy":
    /// {"incrementPercent"}}}`.
    /// `None` without a whole `maxThroughput`; a maximum below the
    /// service's minimum is refused in its words.
    pub fn autoscale_settings(settings: &Value) -> Option<Result<Self>> {
        let requested = settings.get("maxThroughput")?.as_i64()?;
        let increment_percent = settings
            .pointer("/autoUpgradePolicy/throughputPolicy/incrementPercent")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        Some(match u64::try_from(requested) {
            Ok(max) if max >= AUTOSCALE_STEP => Ok(Self::Autoscale {
                max,
                increment_percent,
            }),
            _ => Err(EngineError::bad_request(format!(
                "Requested throughput {requested} is less than required minimum throughput \
                 {AUTOSCALE_STEP}"
            ))),
        })
    }
}

/// Throughput as database and container records keep it.
pub(crate) struct Stored {
    pub ru: Option<u64>,
    pub autoscale: bool,
    pub increment_percent: u64,
}

/// What an offer is the throughput of.
enum Owner {
    Database(DatabaseRecord),
    Container(Box<ContainerRecord>),
}

impl Owner {
    fn rid_text(&self) -> String {
        match self {
            Owner::Database(d) => rid::encode(&d.rid),
            Owner::Container(c) => c.rid_text(),
        }
    }

    fn link(&self) -> String {
        match self {
            Owner::Database(d) => format!("dbs/{}/", rid::encode(&d.rid)),
            Owner::Container(c) => {
                format!(
                    "dbs/{}/colls/{}/",
                    rid::encode(&c.database_rid),
                    c.rid_text()
                )
            }
        }
    }
}

fn offer_of(owner: &Owner, throughput: Throughput) -> Value {
    let id = owner.rid_text();
    json!({
        "id": id,
        "_rid": id,
        "_self": format!("offers/{id}/"),
        "_etag": new_etag(),
        "_ts": now_seconds(),
        "offerVersion": "V2",
        "offerType": "Invalid",
        "resource": owner.link(),
        "offerResourceId": id,
        "content": throughput.content(),
    })
}

/// Every offer, with the key of the record it comes from.
fn all_offers(reader: &dyn KvRead) -> Result<Vec<(Vec<u8>, Owner, Throughput)>> {
    let mut out = Vec::new();
    let mut shared = std::collections::HashSet::new();
    let (start, end) = keys::databases();
    for (key, bytes) in reader.scan(&start, &end, usize::MAX)? {
        let database: DatabaseRecord = decode(&bytes)?;
        if let Some(t) = database.provisioned() {
            shared.insert(database.rid);
            out.push((key, Owner::Database(database), t));
        }
    }
    let (start, end) = keys::all_containers();
    for (key, bytes) in reader.scan(&start, &end, usize::MAX)? {
        let container: ContainerRecord = decode(&bytes)?;
        let own = container.provisioned();
        // A container in a shared-throughput database without its own has no offer.
        let throughput = match own {
            Some(t) => t,
            None if shared.contains(&container.database_rid) => continue,
            None => Throughput::Manual(MIN_THROUGHPUT),
        };
        out.push((key, Owner::Container(Box::new(container)), throughput));
    }
    Ok(out)
}

fn offer_not_found(id: &str) -> EngineError {
    EngineError::new(
        ErrorKind::NotFound,
        format!("The offer '{id}' does not exist."),
    )
}

/// The RU/s a container may spend: its own throughput's ceiling, else its
/// database's (shared), else the service's minimum.
pub(crate) fn container_ceiling(reader: &dyn KvRead, container: &ContainerRecord) -> Result<u64> {
    if let Some(t) = container.provisioned() {
        return Ok(t.ceiling());
    }
    let shared =
        crate::engine::load_database(reader, &container.database)?.and_then(|d| d.provisioned());
    Ok(shared.map_or(MIN_THROUGHPUT, Throughput::ceiling))
}

impl Engine {
    /// Every offer of the account.
    pub fn list_offers(&self) -> Result<Vec<Value>> {
        let snapshot = self.snapshot()?;
        Ok(all_offers(snapshot.as_ref())?
            .iter()
            .map(|(_, owner, t)| offer_of(owner, *t))
            .collect())
    }

    pub fn read_offer(&self, id: &str) -> Result<Value> {
        let snapshot = self.snapshot()?;
        all_offers(snapshot.as_ref())?
            .iter()
            .find(|(_, owner, _)| owner.rid_text() == id)
            .map(|(_, owner, t)| offer_of(owner, *t))
            .ok_or_else(|| offer_not_found(id))
    }

    /// Sets a database's or container's throughput from an offer body.
    pub async fn replace_offer(&self, id: &str, body: Value) -> Result<Value> {
        let requested = Throughput::requested(&body)?.check()?;
        let id = id.to_string();
        self.store
            .transact(move |txn| {
                let (key, mut owner, _) = all_offers(txn)?
                    .into_iter()
                    .find(|(_, owner, _)| owner.rid_text() == id)
                    .ok_or_else(|| offer_not_found(&id))?;
                let stored = requested.stored();
                match &mut owner {
                    Owner::Database(d) => {
                        (d.throughput, d.autoscale) = (stored.ru, stored.autoscale);
                        d.autoscale_increment_percent = stored.increment_percent;
                        txn.put(key, encode(d)?);
                    }
                    Owner::Container(c) => {
                        (c.throughput, c.autoscale) = (stored.ru, stored.autoscale);
                        c.autoscale_increment_percent = stored.increment_percent;
                        txn.put(key, encode(c.as_ref())?);
                    }
                }
                Ok(offer_of(&owner, requested))
            })
            .await
    }
}
