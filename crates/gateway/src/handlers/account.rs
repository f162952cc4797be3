use axum::http::StatusCode;
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

/// `GET /`: the database account. Its one region's endpoint is the address the
/// client used, so SDKs that follow the location lists come back here.
pub fn read(gateway: &Gateway, ctx: &RequestContext) -> Reply {
    let host = ctx.host.as_str();
    let account_id = host
        .rsplit_once(':')
        .map_or(host, |(h, _)| h)
        .trim_matches(['[', ']']);
    let endpoint = format!("{}://{host}/", ctx.scheme);
    let location = json!([{ "name": gateway.config.region, "databaseAccountEndpoint": endpoint }]);
    let body: Value = json!({
        "_self": "",
        "id": account_id,
        "_rid": account_id,
        "media": "//media/",
        "addresses": "//addresses/",
        "_dbs": "//dbs/",
        "writableLocations": location,
        "readableLocations": location,
        "enableMultipleWriteLocations": false,
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
