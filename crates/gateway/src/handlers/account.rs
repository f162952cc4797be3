use axum::http::StatusCode;
use cosmonaut_engine::PRESENCE_FRESH;
use serde_json::{json, Value};

use crate::reply::Reply;
use crate::request::RequestContext;
use crate::Gateway;

/// Limits the service advertises to its query clients.
fn query_engine_configuration() -> String {
    json!({
        "maxSqlQueryInputLength": 524288,
        "maxJoinsPerSqlQuery": 10,
        "maxLogicalAndPerSqlQuery": 2000,
        "maxLogicalOrPerSqlQuery": 2000,
        "maxUdfRefPerSqlQuery": 10,
        "maxInExpressionItemsCount": 16000,
        "queryMaxInMemorySortDocumentCount": 500,
        "maxQueryRequestTimeoutFraction": 0.9,
        "sqlAllowNonFiniteNumbers": false,
        "sqlAllowAggregateFunctions": true,
        "sqlAllowSubQuery": true,
        "sqlAllowScalarSubQuery": true,
        "allowNewKeywords": true,
        "sqlAllowLike": true,
        "sqlAllowGroupByClause": true,
        "maxSpatialQueryCells": 12,
        "spatialMaxGeometryPointCount": 256,
        "sqlDisableOptimizationFlags": 0,
        "sqlAllowTop": true,
        "enableSpatialIndexing": true
    })
    .to_string()
}

/// The account's regions, this gateway's first: its endpoint is the address
/// the client used (or `--public-endpoint`), so SDKs that follow the location
/// lists come back here. Gateways sharing a store add the regions the others
/// announced, one endpoint per region, in region order.
fn regions(gateway: &Gateway, own_endpoint: String) -> Vec<(String, String)> {
    let region = &gateway.config.region;
    let mut regions = vec![(region.clone(), own_endpoint)];
    if !gateway.config.regions_from_store {
        return regions;
    }
    match gateway.engine.live_gateways(PRESENCE_FRESH) {
        Ok(mut live) => {
            live.sort_by(|a, b| (&a.region, &a.instance).cmp(&(&b.region, &b.instance)));
            for other in live {
                if !regions.iter().any(|(name, _)| *name == other.region) {
                    regions.push((other.region, other.endpoint));
                }
            }
        }
        Err(err) => tracing::warn!(%err, "cannot read the other gateways' regions"),
    }
    regions
}

/// `GET /`: the database account.
pub fn read(gateway: &Gateway, ctx: &RequestContext) -> Reply {
    let host = ctx.host.as_str();
    let account_id = host
        .rsplit_once(':')
        .map_or(host, |(h, _)| h)
        .trim_matches(['[', ']']);
    let endpoint = gateway
        .config
        .public_endpoint
        .clone()
        .unwrap_or_else(|| format!("{}://{host}/", ctx.scheme));
    let regions = regions(gateway, endpoint);
    // Every gateway writes, so with several regions each is a write region.
    let multiple_writes = regions.len() > 1;
    let location: Vec<Value> = regions
        .into_iter()
        .map(|(name, endpoint)| json!({ "name": name, "databaseAccountEndpoint": endpoint }))
        .collect();
    let body: Value = json!({
        "_self": "",
        "id": account_id,
        "_rid": account_id,
        "media": "//media/",
        "addresses": "//addresses/",
        "_dbs": "//dbs/",
        "writableLocations": location,
        "readableLocations": location,
        "enableMultipleWriteLocations": multiple_writes,
        "continuousBackupEnabled": false,
        "enableNRegionSynchronousCommit": false,
        "userReplicationPolicy": {"asyncReplication": false, "minReplicaSetSize": 1, "maxReplicasetSize": 4},
        "userConsistencyPolicy": {"defaultConsistencyLevel": "Session"},
        "systemReplicationPolicy": {"minReplicaSetSize": 1, "maxReplicasetSize": 4},
        "readPolicy": {"primaryReadCoefficient": 1, "secondaryReadCoefficient": 1},
        "queryEngineConfiguration": query_engine_configuration(),
    });
    Reply::json(StatusCode::OK, body)
        .header("x-ms-max-media-storage-usage-mb", "10240")
        .header("x-ms-media-storage-usage-mb", "0")
        .header("x-ms-databaseaccount-consumed-mb", "0")
        .header("x-ms-databaseaccount-reserved-mb", "0")
        .header("x-ms-databaseaccount-provisioned-mb", "0")
}
