//! Entra ID (AAD) for `serve`: which tokens to trust (`--aad-*` flags), and
//! the data-plane role assignments kept in the data dir (`rbac.json`),
//! managed with `cosmonaut rbac`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use cosmonaut_gateway::auth::{AadConfig, AadSettings, Live, Rbac, RoleAssignment, RoleDefinition};
use jsonwebtoken::jwk::JwkSet;

use crate::dev_issuer::{self, DevIssuer};

pub(crate) const RBAC_FILE: &str = "rbac.json";

/// `serve`'s Entra ID settings.
#[derive(clap::Args, Debug, Clone)]
pub struct AadArgs {
    /// Accept Entra ID tokens signed by the keys of this JWKS (a file, or an
    /// https URL such as https://login.microsoftonline.com/<tenant>/discovery/v2.0/keys).
    #[arg(long, env = "COSMONAUT_AAD_JWKS", requires = "aad_issuer")]
    pub aad_jwks: Option<String>,
    /// Trusted token issuers (`iss`), e.g. https://login.microsoftonline.com/<tenant>/v2.0.
    #[arg(long, env = "COSMONAUT_AAD_ISSUER", value_delimiter = ',')]
    pub aad_issuer: Vec<String>,
    /// Accepted audiences (`aud`).
    #[arg(
        long,
        env = "COSMONAUT_AAD_AUDIENCE",
        value_delimiter = ',',
        default_value = "https://cosmos.azure.com"
    )]
    pub aad_audience: Vec<String>,
    /// Accept only tokens of this tenant (`tid`).
    #[arg(long, env = "COSMONAUT_AAD_TENANT")]
    pub aad_tenant: Option<String>,
    /// Run a local Entra ID issuer for development: trust the tokens it
    /// signs and hand them out at /_dev/identity/token as Azure's managed
    /// identity endpoint does (docs/operations.md, "Entra ID without Azure").
    #[arg(long, env = "COSMONAUT_AAD_DEV_ISSUER")]
    pub aad_dev_issuer: bool,
}

async fn load_jwks(source: &str) -> Result<JwkSet, String> {
    let bytes = if source.starts_with("https://") || source.starts_with("http://") {
        let response = reqwest::get(source)
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| format!("cannot fetch the JWKS {source}: {e}"))?;
        response
            .bytes()
            .await
            .map_err(|e| format!("cannot fetch the JWKS {source}: {e}"))?
            .to_vec()
    } else {
        return read_jwks_file(Path::new(source));
    };
    serde_json::from_slice(&bytes).map_err(|e| format!("{source} is not a JWKS: {e}"))
}

fn read_jwks_file(path: &Path) -> Result<JwkSet, String> {
    let bytes =
        std::fs::read(path).map_err(|e| format!("cannot read the JWKS {}: {e}", path.display()))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("{} is not a JWKS: {e}", path.display()))
}

/// The Entra ID settings, or `None` when neither a JWKS nor the dev issuer
/// is configured, and the dev issuer when asked for. The role assignments
/// file is reread when it changes, a JWKS file likewise, and a JWKS URL
/// every hour.
pub async fn settings(
    args: &AadArgs,
    data_dir: &Path,
) -> Result<(Option<AadSettings>, Option<Arc<DevIssuer>>), String> {
    let dev = args
        .aad_dev_issuer
        .then(|| DevIssuer::load_or_create(data_dir).map(Arc::new))
        .transpose()?;
    if args.aad_jwks.is_none() && dev.is_none() {
        return Ok((None, None));
    }
    let mut issuers = args.aad_issuer.clone();
    if dev.is_some() {
        issuers.push(dev_issuer::ISSUER.to_string());
    }
    // The dev issuer's key stays in the set whenever the configured one reloads.
    let dev_key = dev.as_ref().map(|d| d.jwk());
    let (audiences, tenant) = (args.aad_audience.clone(), args.aad_tenant.clone());
    let config = move |mut jwks: JwkSet| {
        jwks.keys.extend(dev_key.clone());
        AadConfig {
            jwks,
            issuers: issuers.clone(),
            audiences: audiences.clone(),
            tenant: tenant.clone(),
        }
    };
    let loaded = match &args.aad_jwks {
        Some(source) => load_jwks(source).await?,
        None => JwkSet { keys: vec![] },
    };
    let live_config = Arc::new(Live::new(config(loaded)));
    let rbac_path = data_dir.join(RBAC_FILE);
    let live_rbac = Arc::new(Live::new(read_rbac(&rbac_path)?));
    tokio::spawn(crate::reload::on_change(
        rbac_path,
        Arc::downgrade(&live_rbac),
        "role assignments",
        read_rbac,
    ));
    let weak = Arc::downgrade(&live_config);
    match args.aad_jwks.clone() {
        Some(source) if source.starts_with("http") => {
            let config = config.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_secs(3600));
                tick.tick().await;
                loop {
                    tick.tick().await;
                    let Some(live) = weak.upgrade() else { return };
                    match load_jwks(&source).await {
                        Ok(jwks) => live.replace(config(jwks)),
                        Err(err) => tracing::warn!(%err, "keeping the current Entra ID keys"),
                    }
                }
            });
        }
        Some(source) => {
            let config = config.clone();
            tokio::spawn(crate::reload::on_change(
                PathBuf::from(&source),
                weak,
                "Entra ID keys",
                move |path| read_jwks_file(path).map(&config),
            ));
        }
        None => {}
    }
    Ok((
        Some(AadSettings {
            config: live_config,
            rbac: live_rbac,
        }),
        dev,
    ))
}

fn read_rbac(path: &Path) -> Result<Rbac, String> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map_err(|e| format!("{} is not a role file: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Rbac::default()),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

fn write_rbac(path: &Path, rbac: &Rbac) -> Result<(), String> {
    let bytes = serde_json::to_vec_pretty(rbac).map_err(|e| e.to_string())?;
    crate::files::replace(path, &bytes, crate::files::Access::Private)
}

#[derive(clap::Subcommand)]
pub enum RbacCommand {
    /// Show the role definitions (built-in and custom) and assignments.
    List {
        #[arg(long, env = "COSMONAUT_DATA_DIR", default_value = "./data")]
        data_dir: PathBuf,
    },
    /// Define a custom role.
    CreateRole {
        #[arg(long)]
        name: String,
        /// Data actions, comma-separated; a trailing /* covers everything under it.
        #[arg(long, value_delimiter = ',', required = true)]
        data_actions: Vec<String>,
        #[arg(long, value_delimiter = ',')]
        not_data_actions: Vec<String>,
        #[arg(long, env = "COSMONAUT_DATA_DIR", default_value = "./data")]
        data_dir: PathBuf,
    },
    /// Assign a role to a principal (its Entra ID object id) at a scope.
    Assign {
        #[arg(long)]
        principal: String,
        /// The role's id or name (e.g. 00000000-0000-0000-0000-000000000001).
        #[arg(long)]
        role: String,
        /// `/`, `/dbs/<db>` or `/dbs/<db>/colls/<container>`.
        #[arg(long, default_value = "/")]
        scope: String,
        #[arg(long, env = "COSMONAUT_DATA_DIR", default_value = "./data")]
        data_dir: PathBuf,
    },
    /// Print a token of the dev issuer (`serve --aad-dev-issuer`) for a
    /// principal, to send as `Authorization: type=aad&ver=1.0&sig=<token>`.
    DevToken {
        /// The principal's object id, as role assignments name it.
        #[arg(long, default_value = dev_issuer::DEFAULT_PRINCIPAL)]
        principal: String,
        #[arg(long, default_value = "https://cosmos.azure.com")]
        audience: String,
        #[arg(long, default_value = "1h", value_parser = humantime::parse_duration)]
        lifetime: Duration,
        #[arg(long, env = "COSMONAUT_DATA_DIR", default_value = "./data")]
        data_dir: PathBuf,
    },
    /// Remove a role assignment.
    Unassign {
        /// The assignment's id, as `list` shows it.
        id: String,
        #[arg(long, env = "COSMONAUT_DATA_DIR", default_value = "./data")]
        data_dir: PathBuf,
    },
}

fn valid_scope(scope: &str) -> bool {
    let parts: Vec<&str> = scope.trim_matches('/').split('/').collect();
    scope == "/"
        || matches!(parts.as_slice(), ["dbs", db] if !db.is_empty())
        || matches!(parts.as_slice(), ["dbs", db, "colls", c] if !db.is_empty() && !c.is_empty())
}

pub fn run(command: RbacCommand) -> Result<(), String> {
    let open = |data_dir: &Path| -> Result<(PathBuf, Rbac), String> {
        std::fs::create_dir_all(data_dir).map_err(|e| e.to_string())?;
        let path = data_dir.join(RBAC_FILE);
        let rbac = read_rbac(&path)?;
        Ok((path, rbac))
    };
    match command {
        RbacCommand::DevToken {
            principal,
            audience,
            lifetime,
            data_dir,
        } => {
            std::fs::create_dir_all(&data_dir).map_err(|e| e.to_string())?;
            let issuer = DevIssuer::load_or_create(&data_dir)?;
            let (token, _) = issuer.token(&principal, &audience, lifetime)?;
            outln!("{token}");
            Ok(())
        }
        RbacCommand::List { data_dir } => {
            let (_, rbac) = open(&data_dir)?;
            for role in cosmonaut_gateway::auth::built_in_roles()
                .iter()
                .chain(&rbac.role_definitions)
            {
                outln!("role {}  {}", role.id, role.role_name);
                outln!("  dataActions: {}", role.data_actions.join(", "));
                if !role.not_data_actions.is_empty() {
                    outln!("  notDataActions: {}", role.not_data_actions.join(", "));
                }
            }
            for a in &rbac.role_assignments {
                outln!(
                    "assignment {}  principal {}  role {}  scope {}",
                    a.id,
                    a.principal_id,
                    a.role_definition_id,
                    a.scope
                );
            }
            Ok(())
        }
        RbacCommand::CreateRole {
            name,
            data_actions,
            not_data_actions,
            data_dir,
        } => {
            let (path, mut rbac) = open(&data_dir)?;
            if rbac.role(&name).is_some() {
                return Err(format!("a role named '{name}' exists"));
            }
            let id = uuid::Uuid::new_v4().to_string();
            rbac.role_definitions.push(RoleDefinition {
                id: id.clone(),
                role_name: name,
                data_actions,
                not_data_actions,
            });
            write_rbac(&path, &rbac)?;
            outln!("role {id} created");
            Ok(())
        }
        RbacCommand::Assign {
            principal,
            role,
            scope,
            data_dir,
        } => {
            let (path, mut rbac) = open(&data_dir)?;
            let role = rbac
                .role(&role)
                .ok_or_else(|| format!("no role '{role}': see cosmonaut rbac list"))?;
            if !valid_scope(&scope) {
                return Err(format!(
                    "scope '{scope}' must be /, /dbs/<db> or /dbs/<db>/colls/<container>"
                ));
            }
            let id = uuid::Uuid::new_v4().to_string();
            rbac.role_assignments.push(RoleAssignment {
                id: id.clone(),
                role_definition_id: role.id,
                principal_id: principal,
                scope,
            });
            write_rbac(&path, &rbac)?;
            outln!("assignment {id} created");
            Ok(())
        }
        RbacCommand::Unassign { id, data_dir } => {
            let (path, mut rbac) = open(&data_dir)?;
            let before = rbac.role_assignments.len();
            rbac.role_assignments.retain(|a| a.id != id);
            if rbac.role_assignments.len() == before {
                return Err(format!("no assignment '{id}'"));
            }
            write_rbac(&path, &rbac)?;
            outln!("assignment {id} removed");
            Ok(())
        }
    }
}
