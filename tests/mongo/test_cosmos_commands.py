"""Azure Cosmos DB for MongoDB's extension commands: customAction for
databases and collections (throughput, shard key, indexes) and
shardCollection."""
import pytest
from pymongo.errors import OperationFailure


def test_custom_actions_for_databases_and_collections(client, server):
    name = "cosmosext"
    db = client[name]
    try:
        db.command({"customAction": "CreateDatabase", "offerThroughput": 1000})
        assert db.command({"customAction": "GetDatabase"})["provisionedThroughput"] == 1000
        db.command({"customAction": "UpdateDatabase", "offerThroughput": 1200})
        assert db.command({"customAction": "GetDatabase"})["provisionedThroughput"] == 1200
        with pytest.raises(OperationFailure) as err:
            db.command({"customAction": "CreateDatabase"})
        assert err.value.code == 48

        db.command({"customAction": "CreateCollection", "collection": "orders", "shardKey": "customerId",
                    "autoScaleSettings": {"maxThroughput": 4000},
                    "indexes": [{"key": {"status": 1}, "name": "status_1"}]})
        got = db.command({"customAction": "GetCollection", "collection": "orders"})
        assert got["shardKeyDefinition"] == {"customerId": "hashed"}
        assert got["autoScaleSettings"] == {"maxThroughput": 4000}
        assert [i["name"] for i in db.orders.list_indexes()] == ["_id_", "status_1"]
        db.command({"customAction": "UpdateCollection", "collection": "orders",
                    "autoScaleSettings": {"maxThroughput": 5000}})
        got = db.command({"customAction": "GetCollection", "collection": "orders"})
        assert got["autoScaleSettings"] == {"maxThroughput": 5000}
        db.orders.insert_one({"customerId": "c1", "status": "new"})
        assert db.orders.find_one({"status": "new"})["customerId"] == "c1"
        with pytest.raises(OperationFailure) as err:
            db.command({"customAction": "GetCollection", "collection": "missing"})
        assert err.value.code == 26
    finally:
        client.drop_database(name)


def test_shard_collection(client):
    try:
        client.admin.command({"shardCollection": "sharded.events", "key": {"deviceId": "hashed"}})
        got = client.sharded.command({"customAction": "GetCollection", "collection": "events"})
        assert got["shardKeyDefinition"] == {"deviceId": "hashed"}
        client.sharded.events.insert_one({"deviceId": 7})
        with pytest.raises(OperationFailure):
            client.admin.command({"shardCollection": "sharded.events", "key": {"other": "hashed"}})
        client.sharded.plain.insert_one({"x": 1})
        with pytest.raises(OperationFailure):
            client.admin.command({"shardCollection": "sharded.plain", "key": {"x": "hashed"}})
    finally:
        client.drop_database("sharded")


def test_get_last_request_statistics_reports_the_charge(server):
    with server.client(maxPoolSize=1) as c:
        coll = c.stats.items
        coll.insert_one({"_id": 1, "payload": "x" * 2000})
        stats = c.stats.command("getLastRequestStatistics")
        assert stats["CommandName"] == "insert"
        assert stats["RequestCharge"] > 5 and stats["RequestDurationInMilliSeconds"] >= 0
        coll.find_one({"_id": 1})
        point = c.stats.command("getLastRequestStatistics")
        assert point["CommandName"] == "find" and point["RequestCharge"] < 5
        coll.insert_many([{"n": i} for i in range(300)])
        list(coll.find({"n": {"$gte": 0}}, batch_size=1000))
        scan = c.stats.command("getLastRequestStatistics")
        assert scan["RequestCharge"] > point["RequestCharge"] * 3
        c.drop_database("stats")


def test_mongo_commands_show_in_metrics(server, client):
    import requests
    import urllib3
    urllib3.disable_warnings()
    client.metricsdb.c.insert_one({"_id": 1})
    try:
        client.metricsdb.command("noSuchCommandAtAll")
    except Exception:
        pass
    text = requests.get(server.endpoint + "metrics", verify=False, timeout=10).text
    assert 'cosmonaut_mongo_commands_total{command="insert",outcome="ok"}' in text
    assert 'cosmonaut_mongo_commands_total{command="other",outcome="CommandNotFound"}' in text
    assert "cosmonaut_mongo_command_duration_seconds" in text
    client.drop_database("metricsdb")
