//! With the data in PostgreSQL, the account's files (`keys.json`,
//! `rbac.json`) live in the store that every gateway shares. Each gateway
//! mirrors them into its data dir, where the code that reads them (and
//! `cosmonaut keys` and `cosmonaut rbac`) finds them: a change made on any
//! gateway reaches every other within seconds.

use std::path::{Path, PathBuf};
use std::sync::Weak;
use std::time::Duration;

use cosmonaut_engine::Engine;

use crate::files::{self, Access};

fn local(dir: &Path, name: &str) -> Result<Option<Vec<u8>>, String> {
    files::read_if_present(&dir.join(name))
}

fn stored(engine: &Engine, name: &str) -> Result<Option<Vec<u8>>, String> {
    engine
        .account_file(name)
        .map_err(|e| format!("cannot read the shared {name}: {e}"))
}

/// Before the server reads `name` from its data dir: the shared copy, if
/// there is one, replaces the local one. Returns the shared copy.
pub fn adopt(engine: &Engine, dir: &Path, name: &str) -> Result<Option<Vec<u8>>, String> {
    let shared = stored(engine, name)?;
    if let Some(bytes) = &shared {
        if local(dir, name)?.as_ref() != Some(bytes) {
            files::replace(&dir.join(name), bytes, Access::Private)?;
        }
    }
    Ok(shared)
}

/// After the server has read (and perhaps changed) `name`: the local copy
/// is shared when none was, or when flags changed it. A copy another
/// gateway shared first wins; then the local file is replaced and `true`
/// says it must be read again.
pub async fn publish(
    engine: &Engine,
    dir: &Path,
    name: &str,
    shared: Option<Vec<u8>>,
) -> Result<bool, String> {
    let Some(mine) = local(dir, name)? else {
        return Ok(false);
    };
    if shared.as_ref() == Some(&mine) {
        return Ok(false);
    }
    let now = engine
        .store_account_file(name, mine.clone(), shared.is_none())
        .await
        .map_err(|e| format!("cannot share {name}: {e}"))?;
    if now == mine {
        return Ok(false);
    }
    files::replace(&dir.join(name), &now, Access::Private)?;
    Ok(true)
}

/// Keeps `name` in the data dir and in the store alike, for as long as the
/// engine lives: a change in the store (made through another gateway) is
/// written to the data dir, where the file's watcher picks it up; a change
/// to the local file (`cosmonaut keys rotate` on this gateway) is shared.
/// When both changed, the store's copy wins.
pub async fn mirror(engine: Weak<Engine>, dir: PathBuf, name: &'static str) {
    let mut last = local(&dir, name).ok().flatten();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        let Some(engine) = engine.upgrade() else {
            return;
        };
        let step = async {
            let shared = stored(&engine, name)?;
            if shared.is_some() && shared != last {
                if let Some(bytes) = &shared {
                    files::replace(&dir.join(name), bytes, Access::Private)?;
                }
                tracing::info!("{name} changed on another server");
                return Ok(shared);
            }
            let mine = local(&dir, name)?;
            if let Some(bytes) = mine.clone().filter(|_| mine != last) {
                engine
                    .store_account_file(name, bytes, false)
                    .await
                    .map_err(|e| format!("cannot share {name}: {e}"))?;
                tracing::info!("{name} shared with the other servers");
                return Ok(mine);
            }
            Ok::<_, String>(last.clone())
        };
        match step.await {
            Ok(now) => last = now,
            Err(err) => tracing::warn!(%err, "keeping {name} as it is for now"),
        }
    }
}
