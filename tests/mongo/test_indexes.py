"""Unique and TTL indexes hold on every write."""
import datetime
import threading
import time

import pytest
from pymongo.errors import DuplicateKeyError, OperationFailure, WriteError


def test_unique_index_refuses_a_second_holder(coll):
    coll.insert_many([{"_id": 1, "email": "a"}, {"_id": 2, "email": "b"}])
    assert coll.create_index("email", unique=True) == "email_1"
    with pytest.raises(DuplicateKeyError) as err:
        coll.insert_one({"email": "a"})
    assert err.value.code == 11000 and "email_1" in str(err.value) and "dup key" in str(err.value)
    with pytest.raises(WriteError) as err:
        coll.update_one({"_id": 2}, {"$set": {"email": "a"}})
    assert err.value.code == 11000
    assert coll.find_one({"_id": 2})["email"] == "b", "a refused update changes nothing"
    # A key given up is free again: by update, by delete.
    coll.update_one({"_id": 2}, {"$set": {"email": "c"}})
    coll.insert_one({"_id": 3, "email": "b"})
    coll.delete_one({"_id": 1})
    coll.insert_one({"_id": 4, "email": "a"})
    coll.replace_one({"_id": 4}, {"email": "a", "again": True})
    assert sorted(d["email"] for d in coll.find()) == ["a", "b", "c"]
    # Missing counts as null: one document may lack the field.
    coll.insert_one({"_id": 5})
    with pytest.raises(DuplicateKeyError):
        coll.insert_one({"_id": 6})
    coll.drop_index("email_1")
    coll.insert_one({"_id": 7, "email": "a"})
    assert coll.count_documents({"email": "a"}) == 2


def test_unique_numbers_compound_and_sparse(coll):
    coll.create_index("n", unique=True)
    coll.insert_one({"n": 1})
    with pytest.raises(DuplicateKeyError):
        coll.insert_one({"n": 1.0})
    coll.create_index([("a", 1), ("b", 1)], unique=True, sparse=True)
    coll.insert_many([{"n": 2, "a": 1, "b": 1}, {"n": 3, "a": 1, "b": 2}, {"n": 4}, {"n": 5}])
    with pytest.raises(DuplicateKeyError):
        coll.insert_one({"n": 6, "a": 1, "b": 2})


def test_a_unique_index_over_duplicates_is_refused(coll):
    coll.insert_many([{"k": 1}, {"k": 2}, {"k": 1}])
    with pytest.raises(OperationFailure) as err:
        coll.create_index("k", unique=True)
    assert err.value.code == 11000
    assert [i["name"] for i in coll.list_indexes()] == ["_id_"]
    coll.insert_one({"k": 2})


def test_concurrent_inserts_of_one_key_admit_one(coll):
    coll.create_index("slot", unique=True)
    outcomes = []

    def take(i):
        try:
            coll.insert_one({"_id": i, "slot": "x"})
            outcomes.append("ok")
        except DuplicateKeyError:
            outcomes.append("dup")

    threads = [threading.Thread(target=take, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("ok") == 1 and coll.count_documents({"slot": "x"}) == 1


def test_ttl_index_expires_documents(coll):
    now = datetime.datetime.now(datetime.timezone.utc)
    coll.insert_one({"_id": "before-index", "at": now - datetime.timedelta(hours=1)})
    coll.create_index("at", expireAfterSeconds=2)
    coll.insert_many([
        {"_id": "past", "at": now - datetime.timedelta(seconds=60)},
        {"_id": "soon", "at": [now + datetime.timedelta(hours=9), now]},
        {"_id": "future", "at": now + datetime.timedelta(hours=1)},
        {"_id": "no-date", "at": "yesterday"},
        {"_id": "missing"},
    ])
    index = [i for i in coll.list_indexes() if i["name"] == "at_1"][0]
    assert index["expireAfterSeconds"] == 2
    deadline = time.time() + 15
    while sorted(d["_id"] for d in coll.find()) != ["future", "missing", "no-date"]:
        assert time.time() < deadline, sorted(d["_id"] for d in coll.find())
        time.sleep(0.3)


def test_equality_filters_use_an_index_and_find_what_a_scan_finds(coll):
    from bson import Int64
    coll.insert_many([{"_id": i, "g": i % 30, "tags": [f"t{i % 7}", "all"]} for i in range(300)])
    coll.insert_many([{"_id": "long", "g": Int64(7)}, {"_id": "double", "g": 7.0}, {"_id": "no-g"}])
    scan = coll.find({"g": 7}).explain()
    assert scan["queryPlanner"]["winningPlan"]["stage"] == "COLLSCAN"
    assert scan["executionStats"]["totalDocsExamined"] == 303
    expected = sorted(map(str, (d["_id"] for d in coll.find({"g": 7}))))
    coll.create_index("g")
    coll.create_index([("tags", 1), ("g", -1)])
    plan = coll.find({"g": 7}).explain()
    assert plan["queryPlanner"]["winningPlan"]["inputStage"]["indexName"] == "g_1"
    assert plan["executionStats"]["totalDocsExamined"] == 12
    assert sorted(map(str, (d["_id"] for d in coll.find({"g": 7})))) == expected
    assert len(expected) == 12
    assert coll.count_documents({"g": {"$in": [1, 2]}, "tags": "t1"}) == len(
        [i for i in range(300) if i % 30 in (1, 2) and i % 7 == 1])
    assert [d["_id"] for d in coll.find({"g": None})] == ["no-g"]
    tagged = coll.find({"tags": "t3", "g": {"$gt": 20}}).explain()
    assert tagged["queryPlanner"]["winningPlan"]["inputStage"]["indexName"] == "tags_1_g_-1"
    assert tagged["executionStats"]["nReturned"] == len([i for i in range(300) if i % 7 == 3 and i % 30 > 20])
    # Writes after the index keep it: a changed value is found under its new key only.
    coll.update_one({"_id": 0}, {"$set": {"g": 999}})
    assert [d["_id"] for d in coll.find({"g": 999})] == [0]
    assert 0 not in [d["_id"] for d in coll.find({"g": 0})]
    coll.delete_one({"_id": 30})
    assert sorted(d["_id"] for d in coll.find({"g": 0})) == list(range(60, 300, 30))


def test_range_filters_use_an_index_and_find_what_a_scan_finds(coll):
    from bson import Decimal128, Int64
    docs = [{"_id": i, "n": i % 50, "s": f"k{i % 40:02d}"} for i in range(400)]
    docs += [{"_id": "long", "n": Int64(30)}, {"_id": "dec", "n": Decimal128("30.5")},
             {"_id": "str-n", "n": "31"}, {"_id": "arr", "n": [1, 99]}, {"_id": "nested", "n": [[40]]},
             {"_id": "none"}, {"_id": "null", "n": None}, {"_id": "inf", "n": float("inf")}]
    coll.insert_many(docs)
    filters = [{"n": {"$gt": 30}}, {"n": {"$gte": 30, "$lt": 32}}, {"n": {"$lte": 2}},
               {"n": {"$gt": 45, "$lt": 10}},  # an array holds one element for each condition
               {"s": {"$gte": "k10", "$lt": "k12"}}, {"s": {"$lt": "k01"}}, {"n": {"$gt": "30"}},
               {"n": {"$gt": 30}, "s": {"$lt": "k05"}}]
    expected = {str(f): sorted(map(str, (d["_id"] for d in coll.find(f)))) for f in filters}
    for f in filters:
        assert coll.find(f).explain()["queryPlanner"]["winningPlan"]["stage"] == "COLLSCAN"
    coll.create_index("n")
    coll.create_index("s")
    for f in filters:
        plan = coll.find(f).explain()
        assert plan["queryPlanner"]["winningPlan"]["inputStage"]["stage"] == "IXSCAN", f
        assert sorted(map(str, (d["_id"] for d in coll.find(f)))) == expected[str(f)], f
    narrow = coll.find({"n": {"$gte": 30, "$lt": 32}}).explain()["executionStats"]
    assert narrow["totalDocsExamined"] < 60, narrow
    assert "arr" in expected[str({"n": {"$gt": 45, "$lt": 10}})]
    assert "inf" in expected[str({"n": {"$gt": 30}})]
    # A date bound is not a key range: the collection is read.
    import datetime
    plan = coll.find({"n": {"$gt": datetime.datetime(2020, 1, 1)}}).explain()
    assert plan["queryPlanner"]["winningPlan"]["stage"] == "COLLSCAN"


def test_partial_indexes_oblige_only_the_documents_they_match(coll):
    import datetime
    coll.create_index("email", unique=True, partialFilterExpression={"active": True}, name="active_email")
    spec = next(i for i in coll.list_indexes() if i["name"] == "active_email")
    assert spec["partialFilterExpression"] == {"active": True}
    coll.insert_many([{"_id": 1, "email": "a", "active": False}, {"_id": 2, "email": "a", "active": False},
                      {"_id": 3, "email": "a", "active": True}])
    with pytest.raises(DuplicateKeyError):
        coll.insert_one({"_id": 4, "email": "a", "active": True})
    with pytest.raises(DuplicateKeyError):
        coll.update_one({"_id": 1}, {"$set": {"active": True}})
    # Leaving the filter gives the key back.
    coll.update_one({"_id": 3}, {"$set": {"active": False}})
    coll.update_one({"_id": 1}, {"$set": {"active": True}})
    assert coll.count_documents({"active": True}) == 1
    # Not used to find documents: the others have no keys there.
    assert coll.find({"email": "a"}).explain()["queryPlanner"]["winningPlan"]["stage"] == "COLLSCAN"
    assert coll.count_documents({"email": "a"}) == 3
    # A partial TTL index expires only what it matches.
    past = datetime.datetime(2000, 1, 1)
    coll.database.t.create_index("at", expireAfterSeconds=0, partialFilterExpression={"kind": "temp"})
    coll.database.t.insert_many([{"_id": "temp", "kind": "temp", "at": past},
                                 {"_id": "kept", "kind": "keep", "at": past}])
    deadline = time.time() + 15
    while [d["_id"] for d in coll.database.t.find()] != ["kept"]:
        assert time.time() < deadline, list(coll.database.t.find())
        time.sleep(0.3)
    with pytest.raises(OperationFailure) as e:
        coll.create_index("x", sparse=True, partialFilterExpression={"x": {"$exists": True}})
    assert e.value.code == 67
    with pytest.raises(OperationFailure):
        coll.create_index("y", partialFilterExpression={"y": {"$bogus": 1}})


def test_coll_mod_changes_an_index_ttl_and_hides_it(coll):
    now = datetime.datetime.now(datetime.timezone.utc)
    coll.create_index("at", expireAfterSeconds=3600)
    coll.create_index("g")
    coll.insert_many([{"_id": 1, "at": now - datetime.timedelta(seconds=60), "g": 1},
                      {"_id": 2, "at": now + datetime.timedelta(hours=1), "g": 2}])
    time.sleep(1.5)
    assert coll.count_documents({}) == 2
    db = coll.database
    reply = db.command("collMod", coll.name, index={"keyPattern": {"at": 1}, "expireAfterSeconds": 10})
    assert reply["expireAfterSeconds_old"] == 3600 and reply["expireAfterSeconds_new"] == 10
    assert next(i for i in coll.list_indexes() if i["name"] == "at_1")["expireAfterSeconds"] == 10
    deadline = time.time() + 15
    while [d["_id"] for d in coll.find()] != [2]:
        assert time.time() < deadline, list(coll.find())
        time.sleep(0.3)
    # Hidden: kept, not used to find documents; shown again, used again.
    reply = db.command("collMod", coll.name, index={"name": "g_1", "hidden": True})
    assert reply["hidden_old"] is False and reply["hidden_new"] is True
    assert next(i for i in coll.list_indexes() if i["name"] == "g_1")["hidden"] is True
    assert coll.find({"g": 2}).explain()["queryPlanner"]["winningPlan"]["stage"] == "COLLSCAN"
    db.command("collMod", coll.name, index={"name": "g_1", "hidden": False})
    assert coll.find({"g": 2}).explain()["queryPlanner"]["winningPlan"]["inputStage"]["stage"] == "IXSCAN"
    with pytest.raises(OperationFailure) as e:
        db.command("collMod", coll.name, index={"name": "nope", "hidden": True})
    assert e.value.code == 27
    with pytest.raises(OperationFailure) as e:
        db.command("collMod", "missing-collection", index={"name": "g_1", "hidden": True})
    assert e.value.code == 26
    with pytest.raises(OperationFailure):
        db.command("collMod", coll.name, validator={"x": {"$exists": True}})
