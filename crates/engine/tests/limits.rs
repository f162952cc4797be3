//! A query that runs past the engine's time limit is refused with
//! RequestTimeout (408), whichever way it reads its items.

use cosmonaut_engine::partition::PartitionKeyValue;
use cosmonaut_engine::{
    Engine, EngineConfig, ErrorKind, FeedRequest, ItemScope, NewContainer, WriteMode,
};
use cosmonaut_query::Parameters;
use serde_json::json;

#[tokio::test]
async fn queries_past_their_time_limit_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = EngineConfig {
        query_time_limit: std::time::Duration::ZERO,
        ..EngineConfig::default()
    };
    let engine = Engine::open(dir.path(), config).expect("engine");
    engine
        .create_database(json!({"id": "db"}))
        .await
        .expect("db");
    engine
        .create_container("db", NewContainer::hashed("c", "/pk"))
        .await
        .expect("container");
    for i in 0..3 {
        engine
            .write_item(
                "db",
                "c",
                WriteMode::Create,
                json!({"id": format!("{i}"), "pk": "p", "n": i}),
                Some(vec![PartitionKeyValue::String("p".into())]),
                None,
            )
            .await
            .expect("create");
    }
    for text in [
        "SELECT * FROM c",
        "SELECT * FROM c WHERE c.n = 1",
        "SELECT * FROM c ORDER BY c.n",
        "SELECT c.n, COUNT(1) AS k FROM c GROUP BY c.n",
    ] {
        let query = cosmonaut_query::parse(text).expect("parse");
        let err = engine
            .query_items(
                "db",
                "c",
                &ItemScope::All,
                &query,
                &Parameters::new(),
                &FeedRequest::default(),
            )
            .err()
            .unwrap_or_else(|| panic!("{text} ran past its limit"));
        assert_eq!(err.kind, ErrorKind::RequestTimeout, "{text}: {err}");
        assert!(err.message.contains("time limit"));
    }
}
