//! Files the server rereads when they change (the account keys, Entra ID
//! role assignments and key set), so that rotating a key or granting a role
//! needs no restart.

use std::path::{Path, PathBuf};
use std::sync::Weak;
use std::time::{Duration, SystemTime};

use cosmonaut_gateway::auth::Live;

/// Polls `path` every second for as long as `target` lives; when the file
/// changes, loads it and swaps the result in. A file that does not load
/// leaves the current value in force, with a warning.
pub async fn on_change<T, F>(path: PathBuf, target: Weak<Live<T>>, what: &'static str, load: F)
where
    F: Fn(&Path) -> Result<T, String>,
{
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let mut seen: Option<SystemTime> = modified(&path);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        let Some(target) = target.upgrade() else {
            return;
        };
        let now = modified(&path);
        if now == seen {
            continue;
        }
        seen = now;
        match load(&path) {
            Ok(value) => {
                target.replace(value);
                tracing::info!("{what} reloaded");
            }
            Err(err) => tracing::warn!(%err, "keeping the current {what}"),
        }
    }
}
