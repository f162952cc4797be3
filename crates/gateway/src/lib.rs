//! The Cosmonaut HTTP gateway: the Azure Cosmos DB for NoSQL REST protocol
//! (gateway mode) over the engine. It addresses resources by path,
//! authorizes with the account keys, and speaks the service's headers,
//! status codes and error bodies.

pub mod address;
pub mod auth;
pub mod binary_json;
mod body;
use cosmonaut_engine::charge;
pub mod error;
pub mod firewall;
mod handlers;
mod header_names;
pub mod health;
pub mod pages;
mod reply;
mod request;
mod rid_address;
mod scrape;
mod telemetry;
mod throttle;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{Method, Request, Response};
use axum::response::IntoResponse;
use axum::Router;
use cosmonaut_engine::validation::MAX_ITEM_BYTES;
use cosmonaut_engine::Engine;

use address::Address;
use auth::{AadSettings, Access, Credential, Grant, KeyRing, Principal};
use error::ApiError;
use firewall::Firewall;
use reply::Reply;
use request::RequestContext;
use telemetry::{RequestKind, Served, Telemetry};
pub use telemetry::{TelemetryConfig, TraceHooks, THROTTLED, TRACE_TARGET};

/// The sub-status of a request meant for a container that was since made again.
const COLLECTION_RID_MISMATCH: u32 = 1024;

/// Bodies beyond this are refused unread; items have their own, smaller limit.
const MAX_REQUEST_BYTES: usize = MAX_ITEM_BYTES + 64 * 1024;

pub struct GatewayConfig {
    /// The account's keys; replaced in place when they rotate.
    pub keys: Arc<KeyRing>,
    /// Addresses allowed to connect; empty allows all.
    pub firewall: Firewall,
    /// Entra ID token verification and role assignments, when configured.
    pub aad: Option<AadSettings>,
    /// Requests served at once; more get 429 (bodies are held in memory,
    /// so this bounds what clients can make the server hold).
    pub max_concurrent_requests: usize,
    /// The region name the account reports.
    pub region: String,
    /// Where clients reach this gateway, when it is not the address they
    /// used (a load balancer's name, say).
    pub public_endpoint: Option<String>,
    /// The gateways sharing this store announce their regions in it; the
    /// account lists each region seen lately, not only this one.
    pub regions_from_store: bool,
    /// Answer 429 when a container spends more than its RU/s.
    pub rate_limit: bool,
    /// More Prometheus text for `/metrics` (backup telemetry, from the binary).
    pub metrics: Option<Arc<dyn Fn() -> String + Send + Sync>>,
    /// What `/health/ready` checks.
    pub readiness: Arc<health::Readiness>,
    /// Which requests the access and slow-request logs show.
    pub telemetry: TelemetryConfig,
    /// When set, `/metrics` answers only `Authorization: Bearer <key>`.
    pub metrics_key: Option<String>,
    /// Ties a request's trace span (target `cosmonaut::trace`, enabled only
    /// when the binary exports traces) to its activity id, so the trace
    /// and the id clients log are one, and names it.
    pub trace_hooks: Option<Arc<dyn TraceHooks>>,
}

/// Shared state of every listener.
#[derive(Clone)]
pub struct Gateway {
    engine: Arc<Engine>,
    config: Arc<GatewayConfig>,
    throttle: Arc<throttle::Throttle>,
    in_flight: Arc<tokio::sync::Semaphore>,
    body_budget: body::BodyBudget,
    telemetry: Arc<Telemetry>,
}

impl Gateway {
    pub fn new(engine: Arc<Engine>, config: GatewayConfig) -> Self {
        Self {
            engine,
            in_flight: Arc::new(tokio::sync::Semaphore::new(
                config.max_concurrent_requests.max(1),
            )),
            telemetry: Arc::new(Telemetry::new(config.telemetry.clone())),
            body_budget: body::BodyBudget::default(),
            config: Arc::new(config),
            throttle: Arc::default(),
        }
    }

    /// The router of one listener; `scheme` is how clients reach it.
    pub fn router(&self, scheme: &'static str) -> Router {
        Router::new()
            .route(
                "/health/live",
                axum::routing::get(|| async { health::live() }),
            )
            .route(
                "/health/ready",
                axum::routing::get(|State(gateway): State<Gateway>| async move {
                    health::ready(&gateway.config.readiness)
                }),
            )
            .route(
                "/metrics",
                axum::routing::get(
                    |State(gateway): State<Gateway>,
                     ConnectInfo(client): ConnectInfo<SocketAddr>,
                     headers: axum::http::HeaderMap| async move {
                        match scrape::admit(&gateway, client, &headers) {
                            Ok(()) => scrape::render(&gateway).into_response(),
                            Err(err) => Reply::from(err)
                                .into_response(&new_activity_id(), Default::default()),
                        }
                    },
                ),
            )
            .fallback(
                move |State(gateway): State<Gateway>,
                      ConnectInfo(client): ConnectInfo<SocketAddr>,
                      request: Request<Body>| async move {
                    gateway.serve(scheme, client, request).await
                },
            )
            .with_state(self.clone())
    }

    async fn serve(
        &self,
        scheme: &'static str,
        client: SocketAddr,
        request: Request<Body>,
    ) -> Response<Body> {
        let started = Instant::now();
        let activity_id = request
            .headers()
            .get(header_names::ACTIVITY_ID)
            .and_then(|v| v.to_str().ok())
            .filter(|v| uuid::Uuid::parse_str(v).is_ok())
            .map(str::to_string)
            .unwrap_or_else(new_activity_id);
        let method = request.method().clone();
        let path = request.uri().path().to_string();
        let mut kind = RequestKind::UNKNOWN;
        let span = telemetry::request_span(&activity_id, &method, &path);
        if let (false, Some(hooks)) = (span.is_disabled(), &self.config.trace_hooks) {
            hooks.link(&span, &activity_id);
        }
        let outcome = match self.config.firewall.admit(client.ip()) {
            Err(err) => Err(err),
            Ok(()) => {
                use tracing::Instrument;
                self.dispatch(scheme, request, &activity_id, &mut kind)
                    .instrument(span.clone())
                    .await
            }
        };
        let mut substatus = 0;
        let reply = match outcome {
            Ok(reply) => reply,
            Err(err) => {
                if err.status.is_server_error() {
                    tracing::error!(%method, %path, status = %err.status, message = %err.message, "request failed");
                } else {
                    tracing::debug!(%method, %path, status = %err.status, message = %err.message, "request refused");
                }
                substatus = err.substatus;
                Reply::from(err)
            }
        };
        let elapsed = started.elapsed();
        telemetry::close_span(
            &span,
            self.config.trace_hooks.as_deref(),
            kind,
            reply.status,
            substatus,
            reply.request_charge(),
        );
        self.telemetry.served(&Served {
            kind,
            status: reply.status,
            substatus,
            request_charge: reply.request_charge(),
            elapsed,
            activity_id: &activity_id,
            method: &method,
            path: &path,
        });
        reply.into_response(&activity_id, elapsed)
    }

    async fn dispatch(
        &self,
        scheme: &'static str,
        request: Request<Body>,
        activity_id: &str,
        kind: &mut RequestKind,
    ) -> Result<Reply, ApiError> {
        let (parts, body) = request.into_parts();
        if tracing::enabled!(tracing::Level::TRACE) {
            // Signatures stay out of logs.
            let mut shown = parts.headers.clone();
            shown.remove("authorization");
            tracing::trace!(method = %parts.method, path = %parts.uri.path(), headers = ?shown, "request");
        }
        let address = Address::parse(parts.uri.path())?;
        let aad = self.config.aad.as_ref().map(|a| a.config.current());
        let credential = auth::authenticate(
            &self.config.keys.current(),
            aad.as_deref(),
            parts.method.as_str(),
            &address,
            &parts.headers,
            SystemTime::now(),
        )?;
        let principal = match credential {
            Credential::Key(kind) => Principal::Key(kind),
            Credential::ResourceToken(claims) => Principal::Resource(self.grant(&claims)?),
            Credential::Aad(identity) => Principal::Aad(identity),
        };
        // The body is read before the request takes a slot: a client that
        // trickles its body holds none.
        let body = body::read(body, &parts.headers, &self.body_budget, MAX_REQUEST_BYTES).await?;
        let _slot = Arc::clone(&self.in_flight)
            .try_acquire_owned()
            .map_err(|_| self.overloaded())?;
        let host = parts
            .uri
            .authority()
            .map(|a| a.as_str().to_string())
            .or_else(|| {
                parts
                    .headers
                    .get(header_names::HOST)
                    .and_then(|h| h.to_str().ok())
                    .map(str::to_string)
            })
            .unwrap_or_else(|| "localhost".to_string());
        let ctx = RequestContext {
            host,
            method: parts.method,
            headers: parts.headers,
            body: body.bytes.clone(),
            scheme,
            activity_id: activity_id.to_string(),
        };
        *kind = RequestKind::of(&address, &ctx);
        // A rid-based path is served as the same path by ids. Other paths are
        // borrowed from the URI unless they have escapes, as most do not.
        let (address, path): (Address, std::borrow::Cow<'_, str>) = if address.is_rid_based() {
            let by_ids = rid_address::to_ids(&self.engine, address, &ctx.partition_key()?)?;
            let path = by_ids.path().into();
            (by_ids, path)
        } else {
            let decoded =
                percent_encoding::percent_decode_str(parts.uri.path()).decode_utf8_lossy();
            (address, decoded)
        };
        let path = path.trim_matches('/');
        self.check_intended_container(&address, &ctx)?;
        let write = !(ctx.method == Method::GET
            || ctx.method == Method::HEAD
            || (ctx.method == Method::POST && ctx.is_query()));
        auth::authorize(
            &principal,
            &Access {
                address: &address,
                path,
                write,
                partition_key: ctx.header(header_names::PARTITION_KEY),
            },
        )?;
        if let (Principal::Aad(identity), Some(aad)) = (&principal, &self.config.aad) {
            let requested = auth::requested(&address, &ctx)?;
            auth::authorize_aad(&aad.rbac.current(), identity, requested, path)?;
        }
        ctx.check_consistency_level()?;
        let container = address.container().filter(|_| self.config.rate_limit);
        if let Some((db, coll)) = container {
            let engine = &self.engine;
            let throughput = || engine.read_container(db, coll).ok().map(|c| c.throughput);
            if let Err(wait) = self.throttle.admit(db, coll, Instant::now(), throughput) {
                return Err(ApiError::too_many_requests(wait));
            }
        }
        let mut reply = self.route(&address, &ctx).await;
        if let (Some((db, coll)), Ok(reply)) = (container, &reply) {
            self.throttle.spend(db, coll, reply.request_charge());
        }
        if let Ok(reply) = &mut reply {
            if ctx.prefers_minimal() && writes_resource(&address, &ctx) {
                reply.drop_body();
            }
        }
        reply
    }

    /// `x-ms-cosmos-intended-collection-rid` names the container the client
    /// has cached; when the name now belongs to another container (deleted
    /// and made again), the service answers 400 with sub-status 1024 so the
    /// client refreshes its cache and retries.
    fn check_intended_container(
        &self,
        address: &Address,
        ctx: &RequestContext,
    ) -> Result<(), ApiError> {
        let (Some(intended), Some((db, coll))) = (
            ctx.header("x-ms-cosmos-intended-collection-rid"),
            address.enclosing_container(),
        ) else {
            return Ok(());
        };
        match self.engine.container_rid(db, coll) {
            Ok(Some(rid)) if rid != intended.trim() => {
                let mut err = ApiError::bad_request(format!(
                    "The container '{coll}' is not the one this request was meant for \
                     (resource id {intended}): it was deleted and created again."
                ));
                err.substatus = COLLECTION_RID_MISMATCH;
                Err(err)
            }
            _ => Ok(()),
        }
    }

    fn overloaded(&self) -> ApiError {
        let mut err = ApiError::new(
            axum::http::StatusCode::TOO_MANY_REQUESTS,
            format!(
                "The server is serving its limit of {} requests at once. Retry after the time \
                 in x-ms-retry-after-ms.",
                self.config.max_concurrent_requests
            ),
        );
        err.retry_after = Some(std::time::Duration::from_millis(100));
        err
    }

    /// What a resource token's permission grants now; a deleted permission
    /// revokes its tokens.
    fn grant(&self, claims: &auth::Claims) -> Result<Grant, ApiError> {
        let permission = self
            .engine
            .read_permission(&claims.db, &claims.user, &claims.permission)
            .map_err(|_| {
                ApiError::unauthorized(format!(
                    "The permission behind this resource token (dbs/{}/users/{}/permissions/{}) \
                     no longer exists.",
                    claims.db, claims.user, claims.permission
                ))
            })?;
        Ok(Grant {
            resource: permission["resource"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            read_only: !permission["permissionMode"]
                .as_str()
                .is_some_and(|m| m.eq_ignore_ascii_case("all")),
            partition_key: permission
                .get("resourcePartitionKey")
                .filter(|v| !v.is_null())
                .cloned(),
        })
    }

    async fn route(&self, address: &Address, ctx: &RequestContext) -> Result<Reply, ApiError> {
        match address {
            Address::Account => Ok(handlers::account::read(self, ctx)),
            Address::Databases => handlers::databases::feed(self, ctx).await,
            Address::Users { db } => handlers::users::feed(self, ctx, db).await,
            Address::User { db, user } => handlers::users::one(self, ctx, db, user).await,
            Address::Permissions { db, user } => {
                handlers::users::permissions(self, ctx, db, user).await
            }
            Address::Permission { db, user, id } => {
                handlers::users::permission(self, ctx, db, user, id).await
            }
            Address::Offers => handlers::offers::feed(self, ctx),
            Address::Offer { id } => handlers::offers::one(self, ctx, id).await,
            Address::Database { db } => handlers::databases::one(self, ctx, db).await,
            Address::Containers { db } => handlers::containers::feed(self, ctx, db).await,
            Address::Container { db, coll } => handlers::containers::one(self, ctx, db, coll).await,
            Address::PartitionKeyRanges { db, coll } => {
                handlers::containers::partition_key_ranges(self, ctx, db, coll)
            }
            Address::Items { db, coll } => handlers::items::feed(self, ctx, db, coll).await,
            Address::PartitionKeyDelete { db, coll } => {
                handlers::items::delete_partition(self, ctx, db, coll).await
            }
            Address::Item { db, coll, id } => handlers::items::one(self, ctx, db, coll, id).await,
            Address::Conflicts { db, coll } => handlers::conflicts::feed(self, ctx, db, coll),
            Address::Conflict { db, coll, .. } => handlers::conflicts::one(self, ctx, db, coll),
            Address::Scripts { db, coll, kind } => {
                handlers::scripts::feed(self, ctx, db, coll, *kind).await
            }
            Address::Script { db, coll, kind, id } => {
                handlers::scripts::one(self, ctx, db, coll, *kind, id).await
            }
        }
    }
}

/// Whether the request creates, replaces, upserts or patches a resource and
/// so answers with it (queries, batches and stored procedure runs answer
/// with results instead).
fn writes_resource(address: &Address, ctx: &RequestContext) -> bool {
    match ctx.method {
        Method::PUT | Method::PATCH => true,
        Method::POST => {
            !(ctx.is_query()
                || ctx.is_query_plan_request()
                || ctx.is_batch()
                || matches!(address, Address::Script { .. }))
        }
        _ => false,
    }
}

fn new_activity_id() -> String {
    uuid::Uuid::new_v4().to_string()
}
