//! A backup location: a folder, an Azure Blob container or an S3 bucket,
//! named by a URL and reached through `object_store`.

use std::sync::Arc;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::azure::MicrosoftAzureBuilder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};

use crate::error::{BackupError, Result};
use crate::seal::{EncryptionKey, Sealer};

/// One object's name (relative to the location) and size.
#[derive(Debug, Clone)]
pub struct Listed {
    pub name: String,
    pub size: u64,
}

/// Where backups go. Credentials come from the environment, as each SDK
/// reads them: `AZURE_STORAGE_*` (account key, SAS, managed or workload
/// identity, `AZURE_STORAGE_USE_EMULATOR` for Azurite) and `AWS_*`
/// (keys, region, `AWS_ENDPOINT` and `AWS_ALLOW_HTTP` for S3-compatible stores).
#[derive(Clone)]
pub struct Target {
    store: Arc<dyn ObjectStore>,
    prefix: Path,
    url: String,
    /// What to tell the operator when the bucket or container is missing.
    missing: Option<String>,
    /// The Azure Blob container, which a writer may create when missing.
    azure_container: Option<String>,
    /// Seals objects, encrypting them when the location has a key.
    sealer: Sealer,
}

fn missing_container(container: &str) -> String {
    format!(
        "the Azure Blob container '{container}' does not exist; create it first (for example \
         `az storage container create --name {container} --account-name <account>`)"
    )
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.url)
    }
}

impl Target {
    /// Opens `file:///path`, `az://container/prefix` (also `azure://`,
    /// `abfs://`, `https://account.blob.core.windows.net/container/prefix`)
    /// or `s3://bucket/prefix`.
    pub fn from_url(url: &str) -> Result<Self> {
        let invalid = |reason: String| BackupError::Location {
            url: url.to_string(),
            reason,
        };
        let parsed = url::Url::parse(url).map_err(|e| invalid(e.to_string()))?;
        let build_error = |e: object_store::Error| invalid(e.to_string());
        let mut missing = None;
        let mut azure_container = None;
        let (store, prefix): (Arc<dyn ObjectStore>, String) = match parsed.scheme() {
            "file" => {
                let dir = parsed
                    .to_file_path()
                    .map_err(|_| invalid("a file URL needs an absolute path".into()))?;
                std::fs::create_dir_all(&dir)
                    .map_err(|e| invalid(format!("cannot create {}: {e}", dir.display())))?;
                let store = LocalFileSystem::new_with_prefix(&dir).map_err(build_error)?;
                (Arc::new(store), String::new())
            }
            "s3" | "s3a" => {
                let bucket = host(&parsed).ok_or_else(|| invalid("no bucket".into()))?;
                missing = Some(format!(
                    "the S3 bucket '{bucket}' does not exist; create it first (for example \
                     `aws s3 mb s3://{bucket}`; the prefix needs no creating)"
                ));
                let store = AmazonS3Builder::from_env()
                    .with_bucket_name(bucket)
                    .build()
                    .map_err(build_error)?;
                (Arc::new(store), parsed.path().to_string())
            }
            "az" | "azure" | "abfs" | "abfss" | "adl" => {
                let container = host(&parsed).ok_or_else(|| invalid("no container".into()))?;
                missing = Some(missing_container(container));
                azure_container = Some(container.to_string());
                let store = MicrosoftAzureBuilder::from_env()
                    .with_container_name(container)
                    .build()
                    .map_err(build_error)?;
                (Arc::new(store), parsed.path().to_string())
            }
            "https" if url.contains(".blob.core.windows.net") => {
                let mut segments = parsed.path().trim_start_matches('/').splitn(2, '/');
                let container = segments
                    .next()
                    .filter(|c| !c.is_empty())
                    .ok_or_else(|| invalid("no container in the URL's path".into()))?;
                missing = Some(missing_container(container));
                let store = MicrosoftAzureBuilder::from_env()
                    .with_url(url)
                    .with_container_name(container)
                    .build()
                    .map_err(build_error)?;
                (Arc::new(store), segments.next().unwrap_or("").to_string())
            }
            other => {
                return Err(invalid(format!(
                    "scheme {other}: is not supported; use file://, az:// or s3://"
                )))
            }
        };
        let prefix = Path::parse(prefix.trim_matches('/')).map_err(|e| invalid(e.to_string()))?;
        Ok(Self {
            store,
            prefix,
            url: url.to_string(),
            missing,
            azure_container,
            sealer: Sealer::default(),
        })
    }

    /// Encrypts what is written from now on, and opens what was, with `key`.
    pub fn with_encryption(mut self, key: Option<Arc<EncryptionKey>>) -> Self {
        self.sealer = Sealer::new(key);
        self
    }

    pub(crate) fn sealer(&self) -> &Sealer {
        &self.sealer
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    fn path(&self, name: &str) -> Path {
        name.split('/')
            .filter(|part| !part.is_empty())
            .fold(self.prefix.clone(), |path, part| path.join(part))
    }

    fn error(&self, source: object_store::Error) -> BackupError {
        // The services answer a missing bucket or container with an XML
        // body; say in one line what is missing and how to make it.
        let text = source.to_string();
        if let Some(missing) = self
            .missing
            .as_ref()
            .filter(|_| text.contains("ContainerNotFound") || text.contains("NoSuchBucket"))
        {
            return BackupError::Location {
                url: self.url.clone(),
                reason: missing.clone(),
            };
        }
        BackupError::Target {
            url: self.url.clone(),
            source,
        }
    }

    /// Writes (or overwrites) an object.
    pub async fn put(&self, name: &str, bytes: Vec<u8>) -> Result<()> {
        self.store
            .put(&self.path(name), PutPayload::from(bytes))
            .await
            .map(|_| ())
            .map_err(|e| self.error(e))
    }

    /// Writes an object only if none exists under that name; `false` if one did.
    pub async fn create(&self, name: &str, bytes: Vec<u8>) -> Result<bool> {
        let options = PutOptions {
            mode: PutMode::Create,
            ..PutOptions::default()
        };
        match self
            .store
            .put_opts(&self.path(name), PutPayload::from(bytes), options)
            .await
        {
            Ok(_) => Ok(true),
            Err(object_store::Error::AlreadyExists { .. })
            | Err(object_store::Error::Precondition { .. }) => Ok(false),
            Err(e) => Err(self.error(e)),
        }
    }

    /// An object's bytes, or `None` if there is no such object.
    pub async fn get(&self, name: &str) -> Result<Option<Bytes>> {
        match self.store.get(&self.path(name)).await {
            Ok(result) => result.bytes().await.map(Some).map_err(|e| self.error(e)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.error(e)),
        }
    }

    /// Makes sure a writer can use the location: an Azure Blob container
    /// that does not exist yet is created when this process has the
    /// account's shared key (Azurite's included); otherwise the error names
    /// what is missing. Nothing is created for reads and restores.
    pub async fn prepare_for_writing(&self) -> Result<()> {
        let Some(container) = &self.azure_container else {
            return Ok(());
        };
        let probe = self.store.list(Some(&self.prefix)).next().await;
        let missing = matches!(&probe, Some(Err(e)) if e.to_string().contains("ContainerNotFound"));
        if !missing {
            return Ok(());
        }
        let Some(account) = crate::azure_container::SharedKeyAccount::from_env() else {
            return Err(BackupError::Location {
                url: self.url.clone(),
                reason: missing_container(container),
            });
        };
        account
            .create_container(container)
            .await
            .map_err(|why| BackupError::Location {
                url: self.url.clone(),
                reason: format!("{}; {why}", missing_container(container)),
            })?;
        tracing::info!(
            container,
            "created the backup location's Azure Blob container"
        );
        Ok(())
    }

    /// Every object under `dir`, by name relative to the location, sorted.
    pub async fn list(&self, dir: &str) -> Result<Vec<Listed>> {
        let base = self.path(dir);
        let skip = self.prefix.parts().count();
        let mut listed: Vec<Listed> = self
            .store
            .list(Some(&base))
            .map_ok(|meta| Listed {
                name: meta
                    .location
                    .parts()
                    .skip(skip)
                    .map(|p| p.as_ref().to_string())
                    .collect::<Vec<_>>()
                    .join("/"),
                size: meta.size,
            })
            .try_collect()
            .await
            .map_err(|e| self.error(e))?;
        listed.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(listed)
    }

    /// Deletes an object; deleting a missing one is not an error.
    pub async fn delete(&self, name: &str) -> Result<()> {
        match self.store.delete(&self.path(name)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.error(e)),
        }
    }
}

fn host(url: &url::Url) -> Option<&str> {
    url.host_str().filter(|h| !h.is_empty())
}
