"""Databases, collections, indexes and aggregation pipelines."""
import pytest
from pymongo import ASCENDING, DESCENDING
from pymongo.errors import CollectionInvalid, OperationFailure


def test_databases_and_collections(client, db):
    db.create_collection("a")
    db["b"].insert_one({"x": 1})
    assert db.name in client.list_database_names()
    assert sorted(db.list_collection_names()) == ["a", "b"]
    assert [c["name"] for c in db.list_collections(filter={"name": "a"})] == ["a"]
    with pytest.raises(CollectionInvalid):
        db.create_collection("a")
    db["b"].rename("c")
    assert sorted(db.list_collection_names()) == ["a", "c"]
    assert db["c"].find_one({}, {"_id": 0}) == {"x": 1}
    db.drop_collection("a")
    db.drop_collection("never-there")
    assert db.list_collection_names() == ["c"]
    client.drop_database(db.name)
    assert db.name not in client.list_database_names()


def test_indexes(coll):
    coll.insert_one({"a": 1})
    assert coll.create_index([("a", ASCENDING), ("b", DESCENDING)]) == "a_1_b_-1"
    assert coll.create_index("c", name="by_c") == "by_c"
    names = [i["name"] for i in coll.list_indexes()]
    assert names == ["_id_", "a_1_b_-1", "by_c"]
    coll.drop_index("by_c")
    assert list(coll.index_information()) == ["_id_", "a_1_b_-1"]
    with pytest.raises(OperationFailure):
        coll.drop_index("nope")
    coll.create_index("p", partialFilterExpression={"p": {"$gt": 1}})
    assert coll.index_information()["p_1"]["partialFilterExpression"] == {"p": {"$gt": 1}}


def test_aggregation_pipelines(db):
    orders = db.orders
    orders.insert_many([
        {"_id": i, "cust": f"c{i % 3}", "amount": i * 10, "items": ["x", "y"][: 1 + i % 2]}
        for i in range(1, 10)
    ])
    db.customers.insert_many([{"_id": "c0", "name": "Zero"}, {"_id": "c1", "name": "One"}])
    got = list(orders.aggregate([
        {"$match": {"amount": {"$gte": 20}}},
        {"$group": {"_id": "$cust", "total": {"$sum": "$amount"}, "n": {"$sum": 1},
                    "avg": {"$avg": "$amount"}, "max": {"$max": "$amount"}, "ids": {"$push": "$_id"}}},
        {"$sort": {"total": -1}},
    ]))
    assert sorted((g["_id"], g["total"], g["n"]) for g in got) == [("c0", 180, 3), ("c1", 110, 2), ("c2", 150, 3)]
    assert [g["_id"] for g in got] == ["c0", "c2", "c1"]
    assert list(orders.aggregate([{"$unwind": "$items"}, {"$count": "n"}])) == [{"n": 14}]
    assert list(orders.aggregate([{"$sortByCount": "$cust"}, {"$limit": 1}]))[0]["count"] == 3
    joined = list(orders.aggregate([
        {"$match": {"_id": 3}},
        {"$lookup": {"from": "customers", "localField": "cust", "foreignField": "_id", "as": "who"}},
        {"$project": {"_id": 0, "name": {"$arrayElemAt": ["$who.name", 0]}, "double": {"$multiply": ["$amount", 2]}}},
    ]))
    assert joined == [{"name": "Zero", "double": 60}]
    facets = list(orders.aggregate([{"$facet": {
        "small": [{"$match": {"amount": {"$lt": 30}}}, {"$count": "n"}],
        "big": [{"$match": {"amount": {"$gte": 30}}}, {"$count": "n"}],
    }}]))
    assert facets == [{"small": [{"n": 2}], "big": [{"n": 7}]}]
    buckets = list(orders.aggregate([{"$bucket": {"groupBy": "$amount", "boundaries": [0, 50, 100]}}]))
    assert buckets == [{"_id": 0, "count": 4}, {"_id": 50, "count": 5}]
    shaped = list(orders.aggregate([
        {"$match": {"_id": 1}}, {"$addFields": {"tag": {"$concat": ["$cust", "-", {"$toString": "$amount"}]}}},
        {"$unset": ["items"]}, {"$replaceRoot": {"newRoot": {"t": "$tag"}}},
    ]))
    assert shaped == [{"t": "c1-10"}]
    many = list(orders.aggregate([{"$sort": {"_id": 1}}], batchSize=2))
    assert [d["_id"] for d in many] == list(range(1, 10))
    with pytest.raises(OperationFailure):
        list(orders.aggregate([{"$bogus": {}}]))


def test_merge_matches_results_into_a_collection(client, db):
    db.src.insert_many([{"_id": 1, "v": "a", "n": 1}, {"_id": 2, "v": "b", "n": 2},
                        {"_id": 3, "v": "c", "n": 3}])
    db.dst.insert_many([{"_id": 1, "v": "old", "keep": True}, {"_id": 9, "v": "z"}])
    # Default: merge into what matches, insert the rest.
    list(db.src.aggregate([{"$match": {"_id": {"$lte": 2}}}, {"$merge": "dst"}]))
    assert list(db.dst.find().sort("_id", 1)) == [
        {"_id": 1, "v": "a", "keep": True, "n": 1}, {"_id": 2, "v": "b", "n": 2}, {"_id": 9, "v": "z"}]
    # replace / discard.
    list(db.src.aggregate([{"$project": {"v": 1}},
                           {"$merge": {"into": "dst", "whenMatched": "replace", "whenNotMatched": "discard"}}]))
    assert list(db.dst.find().sort("_id", 1)) == [
        {"_id": 1, "v": "a"}, {"_id": 2, "v": "b"}, {"_id": 9, "v": "z"}]
    # keepExisting leaves matches alone.
    list(db.src.aggregate([{"$set": {"v": "new"}}, {"$merge": {"into": "dst", "whenMatched": "keepExisting"}}]))
    assert [d["v"] for d in db.dst.find().sort("_id", 1)] == ["a", "b", "new", "z"]
    # A pipeline with $$new and let variables.
    list(db.src.aggregate([{"$merge": {
        "into": "dst", "let": {"bonus": 10},
        "whenMatched": [{"$set": {"total": {"$add": ["$$new.n", "$$bonus"]}}}]}}]))
    assert [d.get("total") for d in db.dst.find({"_id": {"$in": [1, 2, 3]}}).sort("_id", 1)] == [11, 12, 13]
    # fail on a match: 11000; fail when nothing matches: 13113.
    with pytest.raises(OperationFailure) as e:
        list(db.src.aggregate([{"$merge": {"into": "dst", "whenMatched": "fail"}}]))
    assert e.value.code == 11000
    with pytest.raises(OperationFailure) as e:
        list(db.src.aggregate([{"$set": {"_id": 100}}, {"$limit": 1},
                               {"$merge": {"into": "dst", "whenNotMatched": "fail"}}]))
    assert e.value.code == 13113
    # `on` another field (unique there), into another database.
    other = client[db.name + "x"]
    try:
        other.people.create_index("email", unique=True)
        other.people.insert_one({"email": "a@x", "name": "A"})
        list(db.src.aggregate([{"$project": {"_id": 0, "email": {"$concat": ["$v", "@x"]}, "n": 1}},
                               {"$merge": {"into": {"db": other.name, "coll": "people"}, "on": "email"}}]))
        people = {d["email"]: d for d in other.people.find()}
        assert people["a@x"]["name"] == "A" and people["a@x"]["n"] == 1
        assert set(people) == {"a@x", "b@x", "c@x"}
        with pytest.raises(OperationFailure):
            list(db.src.aggregate([{"$project": {"_id": 0, "n": 1}},
                                   {"$merge": {"into": {"db": other.name, "coll": "people"}, "on": "email"}}]))
    finally:
        client.drop_database(other.name)
    # Only last.
    with pytest.raises(OperationFailure):
        list(db.src.aggregate([{"$merge": "dst"}, {"$match": {}}]))


def test_blocking_stages_refused_over_the_limit_only_without_disk_use(client, db):
    db.big.insert_many([{"_id": i, "k": i % 3, "pad": "x" * 1000} for i in range(50)])
    was = client.admin.command("setParameter", 1, internalQueryMaxBlockingSortMemoryUsageBytes=10_000)["was"]
    try:
        assert client.admin.command("getParameter", 1)["internalQueryMaxBlockingSortMemoryUsageBytes"] == 10_000
        for stage in [{"$sort": {"k": 1}}, {"$group": {"_id": "$k", "n": {"$sum": 1}}}]:
            with pytest.raises(OperationFailure) as e:
                list(db.big.aggregate([stage], allowDiskUse=False))
            assert e.value.code == 292
            # MongoDB 6.0 spills to disk unless told not to; so does this server's answer.
            assert len(list(db.big.aggregate([stage]))) in (3, 50)
            assert len(list(db.big.aggregate([stage], allowDiskUse=True))) in (3, 50)
        with pytest.raises(OperationFailure) as e:
            list(db.big.find().sort("k", 1).allow_disk_use(False))
        assert e.value.code == 292
        assert len(list(db.big.find().sort("k", 1))) == 50
        # Within the limit (a filter first), the opt-out changes nothing.
        assert len(list(db.big.aggregate([{"$match": {"_id": {"$lt": 5}}}, {"$sort": {"k": 1}}],
                                         allowDiskUse=False))) == 5
        with pytest.raises(OperationFailure):
            client.admin.command("setParameter", 1, notAKnob=5)
    finally:
        client.admin.command("setParameter", 1, internalQueryMaxBlockingSortMemoryUsageBytes=was)
