//! Creating a missing Azure Blob container, so a backup location works on a
//! fresh storage account (or a fresh Azurite) without a manual step.
//! object_store reads and writes blobs but cannot create containers, so this
//! makes the one REST call itself, signed with the account's shared key from
//! the same environment variables object_store reads. Without a shared key
//! (a SAS or a managed identity) it cannot, and the caller says what to do.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Azurite's documented development account and its published key.
const EMULATOR_ACCOUNT: &str = "devstoreaccount1";
const EMULATOR_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
const API_VERSION: &str = "2021-08-06";

/// An account whose shared key this process has.
pub(crate) struct SharedKeyAccount {
    name: String,
    key: Vec<u8>,
    /// The blob service's base URL: `https://<account>.blob.core.windows.net`,
    /// or Azurite's `http://host:port/<account>`.
    base: String,
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

impl SharedKeyAccount {
    pub fn from_env() -> Option<Self> {
        let key_var = || {
            var("AZURE_STORAGE_ACCOUNT_KEY")
                .or_else(|| var("AZURE_STORAGE_ACCESS_KEY"))
                .or_else(|| var("AZURE_STORAGE_MASTER_KEY"))
        };
        let emulator = var("AZURE_STORAGE_USE_EMULATOR")
            .is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1");
        let (name, key, base) = if emulator {
            let name = var("AZURE_STORAGE_ACCOUNT_NAME").unwrap_or_else(|| EMULATOR_ACCOUNT.into());
            let key = key_var().unwrap_or_else(|| EMULATOR_KEY.into());
            let url =
                var("AZURITE_BLOB_STORAGE_URL").unwrap_or_else(|| "http://127.0.0.1:10000".into());
            let base = format!("{}/{name}", url.trim_end_matches('/'));
            (name, key, base)
        } else {
            let name = var("AZURE_STORAGE_ACCOUNT_NAME")?;
            let key = key_var()?;
            let base = var("AZURE_STORAGE_ENDPOINT")
                .map(|e| e.trim_end_matches('/').to_string())
                .unwrap_or_else(|| format!("https://{name}.blob.core.windows.net"));
            (name, key, base)
        };
        let key = STANDARD.decode(key.trim()).ok()?;
        Some(Self { name, key, base })
    }

    /// Creates `container`; one that exists already is fine.
    pub async fn create_container(&self, container: &str) -> Result<(), String> {
        let url = format!("{}/{container}?restype=container", self.base);
        let path = url::Url::parse(&url)
            .map_err(|e| format!("{url}: {e}"))?
            .path()
            .to_string();
        let date = httpdate::fmt_http_date(std::time::SystemTime::now());
        // The shared key string to sign for a request without a body or
        // standard headers: the verb, eleven empty standard header lines,
        // the x-ms- headers, and the resource.
        let to_sign = format!(
            "PUT\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:{date}\nx-ms-version:{API_VERSION}\n/{}{path}\nrestype:container",
            self.name
        );
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key)
            .map_err(|_| "the account key is not usable".to_string())?;
        mac.update(to_sign.as_bytes());
        let signature = STANDARD.encode(mac.finalize().into_bytes());
        let response = reqwest::Client::new()
            .put(&url)
            .header("x-ms-date", date)
            .header("x-ms-version", API_VERSION)
            .header("content-length", "0")
            .header(
                "authorization",
                format!("SharedKey {}:{signature}", self.name),
            )
            .send()
            .await
            .map_err(|e| format!("creating the container failed: {e}"))?;
        let status = response.status();
        // 409 ContainerAlreadyExists: someone made it meanwhile.
        if status.is_success() || status.as_u16() == 409 {
            return Ok(());
        }
        Err(format!(
            "creating the container failed with {status} (the key may lack the permission)"
        ))
    }
}
