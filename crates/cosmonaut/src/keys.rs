//! The account keys, kept in the data dir (`keys.json`, readable by its
//! owner only), rotated by `cosmonaut keys rotate` while the server runs:
//! the server rereads the file when it changes.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use cosmonaut_gateway::auth::{AccountKeys, KeyKind, KeyRing, MasterKey};
use serde::{Deserialize, Serialize};

use crate::WELL_KNOWN_KEY;

pub(crate) const FILE: &str = "keys.json";

#[derive(Serialize, Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
struct KeysFile {
    primary: String,
    secondary: String,
    primary_read_only: String,
    secondary_read_only: String,
    /// Signs resource tokens; rotating the primary key renews it.
    token_secret: String,
}

impl KeysFile {
    fn get_mut(&mut self, kind: KeyKind) -> &mut String {
        match kind {
            KeyKind::Primary => &mut self.primary,
            KeyKind::Secondary => &mut self.secondary,
            KeyKind::PrimaryReadOnly => &mut self.primary_read_only,
            KeyKind::SecondaryReadOnly => &mut self.secondary_read_only,
        }
    }

    fn to_account_keys(&self) -> Result<AccountKeys, String> {
        let mut file = self.clone();
        let keys = KeyKind::ALL
            .into_iter()
            .map(|kind| {
                MasterKey::from_base64(file.get_mut(kind))
                    .map(|key| (kind, key))
                    .map_err(|e| format!("the {} key in {FILE}: {e}", kind.name()))
            })
            .collect::<Result<_, _>>()?;
        let token_secret = base64::engine::general_purpose::STANDARD
            .decode(&self.token_secret)
            .map_err(|e| format!("the token secret in {FILE}: {e}"))?;
        Ok(AccountKeys { keys, token_secret })
    }
}

fn random_key() -> Result<String, String> {
    Ok(MasterKey::generate()?.to_base64())
}

fn path(data_dir: &Path) -> PathBuf {
    data_dir.join(FILE)
}

fn read(data_dir: &Path) -> Result<Option<KeysFile>, String> {
    let path = path(data_dir);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| format!("{} is not a keys file: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

fn write(data_dir: &Path, file: &KeysFile) -> Result<(), String> {
    let bytes = serde_json::to_vec_pretty(file).map_err(|e| e.to_string())?;
    crate::files::replace(&path(data_dir), &bytes, crate::files::Access::Private)
}

/// The account's keys: from the data dir, created on first start. `--key`
/// and `--secondary-key`, when given, set those keys (the emulator's
/// well-known key is the primary unless told otherwise); the read-only keys
/// and the token secret are random.
pub fn load_or_create(
    data_dir: &Path,
    primary: Option<&str>,
    secondary: Option<&str>,
) -> Result<AccountKeys, String> {
    load_file(data_dir, primary, secondary)?.to_account_keys()
}

/// The keys file as [`load_or_create`] leaves it, written only when it was
/// missing or a flag changed a key.
fn load_file(
    data_dir: &Path,
    primary: Option<&str>,
    secondary: Option<&str>,
) -> Result<KeysFile, String> {
    for given in [primary, secondary].into_iter().flatten() {
        MasterKey::from_base64(given)?;
    }
    let (mut file, mut changed) = match read(data_dir)? {
        Some(file) => (file, false),
        None => (
            KeysFile {
                primary: WELL_KNOWN_KEY.to_string(),
                secondary: random_key()?,
                primary_read_only: random_key()?,
                secondary_read_only: random_key()?,
                token_secret: random_key()?,
            },
            true,
        ),
    };
    for (slot, given) in [
        (&mut file.primary, primary),
        (&mut file.secondary, secondary),
    ] {
        if let Some(key) = given.filter(|key| *key != slot.as_str()) {
            *slot = key.to_string();
            changed = true;
        }
    }
    file.to_account_keys()?;
    if changed {
        write(data_dir, &file)?;
    }
    Ok(file)
}

/// The primary key, for the connection string the server prints.
pub fn primary(keys: &AccountKeys) -> String {
    keys.keys
        .iter()
        .find(|(kind, _)| *kind == KeyKind::Primary)
        .map(|(_, key)| key.to_base64())
        .unwrap_or_default()
}

/// Rereads the keys file whenever it changes, for as long as `ring` lives.
pub async fn watch(data_dir: PathBuf, ring: std::sync::Weak<KeyRing>) {
    crate::reload::on_change(path(&data_dir), ring, "account keys", |_| {
        read(&data_dir)?
            .ok_or_else(|| "the keys file is gone".to_string())?
            .to_account_keys()
    })
    .await
}

#[derive(clap::Subcommand)]
pub enum KeysCommand {
    /// Show the account's keys.
    List {
        #[arg(long, env = "COSMONAUT_DATA_DIR", default_value = "./data")]
        data_dir: PathBuf,
    },
    /// Replace one key with a new random one. Rotating the primary key also
    /// revokes every resource token handed out, as on the service. A running
    /// server picks the change up within a second.
    Rotate {
        /// primary, secondary, primary-readonly or secondary-readonly.
        kind: String,
        #[arg(long, env = "COSMONAUT_DATA_DIR", default_value = "./data")]
        data_dir: PathBuf,
    },
}

pub fn run(command: KeysCommand) -> Result<(), String> {
    match command {
        KeysCommand::List { data_dir } => {
            std::fs::create_dir_all(&data_dir).map_err(|e| e.to_string())?;
            let mut file = load_file(&data_dir, None, None)?;
            for kind in KeyKind::ALL {
                outln!("{:<19} {}", kind.name(), file.get_mut(kind));
            }
            Ok(())
        }
        KeysCommand::Rotate { kind, data_dir } => {
            let kind = KeyKind::parse(&kind).ok_or_else(|| {
                format!("unknown key '{kind}': use primary, secondary, primary-readonly or secondary-readonly")
            })?;
            std::fs::create_dir_all(&data_dir).map_err(|e| e.to_string())?;
            let mut file = load_file(&data_dir, None, None)?;
            let key = random_key()?;
            *file.get_mut(kind) = key.clone();
            if kind == KeyKind::Primary {
                file.token_secret = random_key()?;
            }
            write(&data_dir, &file)?;
            outln!("{} key rotated: {key}", kind.name());
            Ok(())
        }
    }
}
