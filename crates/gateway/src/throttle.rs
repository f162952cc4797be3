//! The opt-in rate limiter (`serve --rate-limit`): each container may spend
//! its provisioned RU/s, as on the service. A container's budget refills
//! continuously up to one second's worth; a request is admitted while the
//! budget is positive and its charge is taken afterwards, so one expensive
//! request can overdraw it. An overdrawn container answers 429 with
//! `x-ms-retry-after-ms` (how long until the budget is positive again),
//! which the SDKs honour by waiting and retrying.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How often a container's provisioned RU/s is looked up again.
const REFRESH: Duration = Duration::from_secs(5);

struct Budget {
    ru_per_second: f64,
    balance: f64,
    updated: Instant,
    looked_up: Instant,
}

impl Budget {
    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.balance = (self.balance + elapsed * self.ru_per_second).min(self.ru_per_second);
        self.updated = now;
    }
}

#[derive(Default)]
pub struct Throttle {
    budgets: Mutex<HashMap<(String, String), Budget>>,
}

impl Throttle {
    /// Admits a request to a container, or says how long to wait.
    /// `throughput` looks up the container's RU/s when needed.
    pub fn admit(
        &self,
        db: &str,
        coll: &str,
        now: Instant,
        throughput: impl FnOnce() -> Option<u64>,
    ) -> Result<(), Duration> {
        let mut budgets = self.budgets.lock().unwrap_or_else(|e| e.into_inner());
        let key = (db.to_string(), coll.to_string());
        let stale = budgets
            .get(&key)
            .is_none_or(|b| now.saturating_duration_since(b.looked_up) >= REFRESH);
        if stale {
            let Some(ru) = throughput() else {
                // An unknown container: the request will answer 404 by itself.
                budgets.remove(&key);
                return Ok(());
            };
            let ru = ru.max(1) as f64;
            let budget = budgets.entry(key.clone()).or_insert(Budget {
                ru_per_second: ru,
                balance: ru,
                updated: now,
                looked_up: now,
            });
            budget.ru_per_second = ru;
            budget.looked_up = now;
        }
        let Some(budget) = budgets.get_mut(&key) else {
            return Ok(());
        };
        budget.refill(now);
        if budget.balance > 0.0 {
            return Ok(());
        }
        let wait = -budget.balance / budget.ru_per_second;
        Err(Duration::from_secs_f64(wait).max(Duration::from_millis(1)))
    }

    /// Takes a completed request's charge from its container's budget.
    pub fn spend(&self, db: &str, coll: &str, request_units: f64) {
        let mut budgets = self.budgets.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(budget) = budgets.get_mut(&(db.to_string(), coll.to_string())) {
            budget.balance -= request_units;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_refills_and_overdraws() {
        let throttle = Throttle::default();
        let t0 = Instant::now();
        assert!(throttle.admit("d", "c", t0, || Some(100)).is_ok());
        throttle.spend("d", "c", 150.0);
        let wait = throttle
            .admit("d", "c", t0, || Some(100))
            .expect_err("overdrawn");
        assert_eq!(wait, Duration::from_millis(500));
        // Half a second later the budget is back to zero; a bit more and it admits.
        assert!(throttle
            .admit("d", "c", t0 + Duration::from_millis(600), || Some(100))
            .is_ok());
        // The budget never holds more than a second's worth.
        let later = t0 + Duration::from_secs(4);
        assert!(throttle.admit("d", "c", later, || Some(100)).is_ok());
        throttle.spend("d", "c", 100.0);
        assert!(throttle.admit("d", "c", later, || Some(100)).is_err());
        assert!(throttle.admit("d", "missing", t0, || None).is_ok());
    }
}
