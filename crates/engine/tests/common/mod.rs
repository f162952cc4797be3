//! Set-up shared by the engine's integration tests.

use cosmonaut_engine::{Engine, EngineConfig};
use serde_json::json;

/// An engine over `dir` with `partitions` per container and a database "db".
pub async fn engine_with_database(dir: &std::path::Path, partitions: u32) -> Engine {
    let engine = Engine::open(
        dir,
        EngineConfig {
            partitions_per_container: partitions,
            ..EngineConfig::default()
        },
    )
    .expect("engine");
    engine
        .create_database(json!({"id": "db"}))
        .await
        .expect("db");
    engine
}
