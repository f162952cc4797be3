//! The official Rust SDK against a running Cosmonaut. The server is started by
//! scripts/test.sh, which sets COSMONAUT_ENDPOINT and COSMONAUT_KEY.

use azure_data_cosmos::models::ContainerProperties;
use azure_data_cosmos::CosmosClient;
use sdk_rust_conformance::{client, unique};
use serde_json::{json, Value};

type TestResult = Result<(), Box<dyn std::error::Error>>;

#[tokio::test]
async fn item_crud_round_trip() -> TestResult {
    let client = client().await?;
    let db_id = unique("rust-db");
    client.create_database(&db_id, None).await?;
    let db = client.database_client(&db_id);
    db.create_container(ContainerProperties::new("items", "/pk".into()), None)
        .await?;
    let container = db.container_client("items", None).await?;

    container
        .create_item("p1", "a", json!({"id": "a", "pk": "p1", "n": 1}), None)
        .await?;
    let read: Value = container.read_item("p1", "a", None).await?.into_model()?;
    assert_eq!(read["n"], 1);
    container
        .upsert_item("p1", "a", json!({"id": "a", "pk": "p1", "n": 2}), None)
        .await?;
    container
        .replace_item("p1", "a", json!({"id": "a", "pk": "p1", "n": 3}), None)
        .await?;
    let read: Value = container.read_item("p1", "a", None).await?.into_model()?;
    assert_eq!(read["n"], 3);
    container.delete_item("p1", "a", None).await?;
    let missing = container.read_item("p1", "a", None).await;
    assert!(missing.is_err());
    db.delete(None).await?;
    Ok(())
}

/// A database with one container partitioned on `pk`, deleted by the caller.
async fn scratch(
    client: &CosmosClient,
    pk: azure_data_cosmos::models::PartitionKeyDefinition,
) -> Result<
    (
        azure_data_cosmos::clients::DatabaseClient,
        azure_data_cosmos::clients::ContainerClient,
    ),
    Box<dyn std::error::Error>,
> {
    let db_id = unique("rust-db");
    client.create_database(&db_id, None).await?;
    let db = client.database_client(&db_id);
    db.create_container(ContainerProperties::new("items", pk), None)
        .await?;
    let container = db.container_client("items", None).await?;
    Ok((db, container))
}

#[tokio::test]
async fn errors_carry_the_service_status() -> TestResult {
    let client = client().await?;
    let (db, container) = scratch(&client, "/pk".into()).await?;
    let created = container
        .create_item("p", "e", json!({"id": "e", "pk": "p", "v": 1}), None)
        .await?;
    let etag = created
        .headers()
        .etag()
        .cloned()
        .ok_or("create returned no etag")?;

    let conflict = container
        .create_item("p", "e", json!({"id": "e", "pk": "p"}), None)
        .await;
    assert!(conflict
        .err()
        .ok_or("duplicate create succeeded")?
        .status()
        .is_conflict());
    let missing = container.read_item("p", "nope", None).await;
    assert!(missing
        .err()
        .ok_or("missing read succeeded")?
        .status()
        .is_not_found());

    use azure_data_cosmos::options::{ItemWriteOptions, Precondition};
    let guarded = || {
        Some(ItemWriteOptions::default().with_precondition(Precondition::if_match(etag.clone())))
    };
    container
        .replace_item("p", "e", json!({"id": "e", "pk": "p", "v": 2}), guarded())
        .await?;
    let stale = container
        .replace_item("p", "e", json!({"id": "e", "pk": "p", "v": 3}), guarded())
        .await;
    assert!(stale
        .err()
        .ok_or("stale replace succeeded")?
        .status()
        .is_precondition_failed());
    let read: Value = container.read_item("p", "e", None).await?.into_model()?;
    assert_eq!(read["v"], 2);

    let too_big = json!({"id": "big", "pk": "p", "blob": "x".repeat(2 * 1024 * 1024)});
    let err = container
        .create_item("p", "big", too_big, None)
        .await
        .err()
        .ok_or("2 MB item accepted")?;
    assert_eq!(u16::from(err.status().status_code()), 413);
    db.delete(None).await?;
    Ok(())
}

#[tokio::test]
async fn queries_and_feeds_cover_every_partition() -> TestResult {
    use azure_data_cosmos::{FeedScope, Query};
    use futures::TryStreamExt;
    let client = client().await?;
    let (db, container) = scratch(&client, "/pk".into()).await?;
    for i in 0..40 {
        let pk = format!("p{}", i % 8);
        container
            .create_item(
                pk.clone(),
                &format!("i{i}"),
                json!({"id": format!("i{i}"), "pk": pk.clone(), "n": i}),
                None,
            )
            .await?;
    }
    let mut all = container
        .query_items::<Value>(
            Query::from("SELECT * FROM c"),
            FeedScope::full_container(),
            None,
        )
        .await?;
    let mut count = 0;
    while all.try_next().await?.is_some() {
        count += 1;
    }
    assert_eq!(count, 40);

    let query = Query::from("SELECT * FROM c WHERE c.n = @n").with_parameter("@n", 13)?;
    let mut one = container
        .query_items::<Value>(query, FeedScope::partition("p5"), None)
        .await?;
    let row = one.try_next().await?.ok_or("no row")?;
    assert_eq!(row["id"], "i13");
    assert!(one.try_next().await?.is_none());
    db.delete(None).await?;
    Ok(())
}

#[tokio::test]
async fn hierarchical_partition_keys() -> TestResult {
    let client = client().await?;
    let (db, container) = scratch(&client, ("/tenant", "/user").into()).await?;
    for tenant in ["a", "b"] {
        for user in 0..3 {
            let id = format!("{tenant}{user}");
            let user = format!("u{user}");
            container
                .create_item(
                    (tenant, user.clone()),
                    &id,
                    json!({"id": id.clone(), "tenant": tenant, "user": user.clone()}),
                    None,
                )
                .await?;
        }
    }
    let read: Value = container
        .read_item(("b", "u2"), "b2", None)
        .await?
        .into_model()?;
    assert_eq!(read["tenant"], "b");
    let wrong = container.read_item(("a", "u2"), "b2", None).await;
    assert!(wrong
        .err()
        .ok_or("read under the wrong key succeeded")?
        .status()
        .is_not_found());
    container.delete_item(("b", "u2"), "b2", None).await?;
    db.delete(None).await?;
    Ok(())
}

#[tokio::test]
async fn cross_partition_ordering() -> TestResult {
    use azure_data_cosmos::{FeedScope, Query};
    use futures::TryStreamExt;
    let client = client().await?;
    let (db, container) = scratch(&client, "/pk".into()).await?;
    for i in 0..30 {
        let pk = format!("k{i}");
        container
            .create_item(
                pk.clone(),
                &format!("i{i}"),
                json!({"id": format!("i{i}"), "pk": pk, "n": i}),
                None,
            )
            .await?;
    }
    let collect = |text: &'static str| {
        let container = container.clone();
        async move {
            let mut rows = container
                .query_items::<Value>(Query::from(text), FeedScope::full_container(), None)
                .await?;
            let mut out = Vec::new();
            while let Some(row) = rows.try_next().await? {
                out.push(row);
            }
            Ok::<_, Box<dyn std::error::Error>>(out)
        }
    };
    let ordered = collect("SELECT VALUE c.n FROM c ORDER BY c.n DESC").await?;
    assert_eq!(ordered, (0..30).rev().map(|n| json!(n)).collect::<Vec<_>>());
    let top = collect("SELECT TOP 2 c.id FROM c ORDER BY c.n").await?;
    assert_eq!(top, vec![json!({"id": "i0"}), json!({"id": "i1"})]);
    // This SDK refuses cross-partition aggregates on the client side, so
    // aggregates are checked within one partition key.
    let mut count = container
        .query_items::<Value>(
            Query::from("SELECT VALUE COUNT(1) FROM c"),
            FeedScope::partition("k7"),
            None,
        )
        .await?;
    assert_eq!(count.try_next().await?, Some(json!(1)));
    db.delete(None).await?;
    Ok(())
}

#[tokio::test]
async fn transactional_batch() -> TestResult {
    use azure_data_cosmos::TransactionalBatch;
    let client = client().await?;
    let (db, container) = scratch(&client, "/pk".into()).await?;
    container
        .create_item("p", "old", json!({"id": "old", "pk": "p"}), None)
        .await?;
    let batch = TransactionalBatch::new("p")
        .create_item(json!({"id": "a", "pk": "p", "n": 1}))?
        .upsert_item(json!({"id": "old", "pk": "p", "n": 2}), None)?
        .read_item("a", None)
        .delete_item("old", None);
    let done = container
        .execute_transactional_batch(batch, None)
        .await?
        .into_model()?;
    let codes: Vec<u16> = done.results().iter().map(|r| r.status_code()).collect();
    assert_eq!(codes, vec![201, 200, 200, 204]);

    // A failing operation rolls the whole batch back.
    let batch = TransactionalBatch::new("p")
        .create_item(json!({"id": "b", "pk": "p"}))?
        .create_item(json!({"id": "a", "pk": "p"}))?;
    let failed = container.execute_transactional_batch(batch, None).await?;
    assert_eq!(u16::from(failed.status().status_code()), 207);
    let codes: Vec<u16> = failed
        .into_model()?
        .results()
        .iter()
        .map(|r| r.status_code())
        .collect();
    assert_eq!(codes, vec![424, 409]);
    assert!(container.read_item("p", "b", None).await.is_err());
    db.delete(None).await?;
    Ok(())
}
