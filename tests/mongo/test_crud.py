"""Documents through pymongo: every BSON type kept, queries, cursors,
updates with every operator, upserts, deletes, bulk writes and counts."""
import datetime
import re

import pytest
from bson import Binary, Decimal128, Int64, MaxKey, MinKey, ObjectId, Regex, Timestamp
from bson.codec_options import CodecOptions
from pymongo import ASCENDING, DESCENDING, DeleteOne, InsertOne, ReplaceOne, ReturnDocument, UpdateMany, UpdateOne
from pymongo.errors import BulkWriteError, DuplicateKeyError, OperationFailure, WriteError


def test_every_bson_type_comes_back_as_it_went_in(db):
    coll = db.get_collection("types", codec_options=CodecOptions(tz_aware=True))
    doc = {
        "_id": ObjectId(),
        "int32": 7, "int64": Int64(7), "double": 7.0, "big": Int64(2**62), "neg": -0.5,
        "decimal": Decimal128("1.10"), "date": datetime.datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=datetime.timezone.utc),
        "binary": b"\x00\x01\xff", "uuid": Binary(b"0123456789abcdef", 4),
        "regex": Regex("^a.*z$", "i"), "ts": Timestamp(1700000000, 3),
        "min": MinKey(), "max": MaxKey(), "null": None, "bool": False, "nan": float("nan"),
        "nested": {"z": 1, "a": [1, [2, {"deep": "x"}], {"k": Int64(3)}]},
    }
    coll.insert_one(doc)
    back = coll.find_one({"_id": doc["_id"]})
    assert list(back.keys()) == list(doc.keys()), "field order is kept"
    for key, value in doc.items():
        if key == "nan":
            assert back[key] != back[key]
            continue
        assert back[key] == value, key
        assert type(back[key]) is type(value), key
    assert type(back["nested"]["a"][2]["k"]) is Int64


def test_insert_and_find_with_query_operators(coll):
    coll.insert_many([
        {"_id": i, "n": i, "tags": ["even" if i % 2 == 0 else "odd", f"t{i % 3}"],
         "sub": {"v": i * 10}, "items": [{"q": i}, {"q": i + 100}], "name": f"Name{i}"}
        for i in range(20)
    ])
    ids = lambda f, **kw: sorted(d["_id"] for d in coll.find(f, **kw))  # noqa: E731
    assert ids({"n": {"$gte": 5, "$lt": 8}}) == [5, 6, 7]
    assert ids({"tags": "even", "n": {"$lt": 6}}) == [0, 2, 4]
    assert ids({"tags": {"$all": ["odd", "t0"]}}) == [3, 9, 15]
    assert ids({"sub.v": {"$in": [30, 40, 999]}}) == [3, 4]
    assert ids({"$or": [{"n": 1}, {"n": {"$gt": 18}}]}) == [1, 19]
    assert ids({"$nor": [{"n": {"$lt": 18}}]}) == [18, 19]
    assert ids({"n": {"$not": {"$lt": 17}}}) == [17, 18, 19]
    assert ids({"items.q": 105}) == [5]
    assert ids({"items": {"$elemMatch": {"q": {"$gt": 110, "$lt": 112}}}}) == [11]
    assert ids({"name": {"$regex": "^name1[0-2]$", "$options": "i"}}) == [10, 11, 12]
    assert ids({"name": re.compile("9$")}) == [9, 19]
    assert ids({"missing": None, "n": {"$lt": 2}}) == [0, 1]
    assert ids({"sub": {"$exists": True}, "n": {"$mod": [7, 0]}}) == [0, 7, 14]
    assert ids({"n": {"$type": "int"}, "tags": {"$size": 2}, "_id": {"$lt": 2}}) == [0, 1]
    assert ids({"$expr": {"$gt": ["$sub.v", {"$multiply": ["$n", 9.5]}]}, "n": {"$lt": 3}}) == [1, 2]
    assert ids({"n": {"$nin": list(range(2, 20))}}) == [0, 1]
    assert coll.find_one({"_id": 4})["sub"] == {"v": 40}
    with pytest.raises(OperationFailure) as err:
        coll.find_one({"n": {"$bogus": 1}})
    assert err.value.code == 2


def test_sort_skip_limit_projection(coll):
    coll.insert_many([{"_id": i, "a": i % 3, "b": -i, "c": {"d": i, "e": "x"}} for i in range(10)])
    got = list(coll.find({}, {"b": 1}).sort([("a", ASCENDING), ("b", DESCENDING)]).skip(2).limit(3))
    assert got == [{"_id": 6, "b": -6}, {"_id": 9, "b": -9}, {"_id": 1, "b": -1}]
    assert coll.find_one({"_id": 2}, {"_id": 0, "c.d": 1}) == {"c": {"d": 2}}
    assert coll.find_one({"_id": 2}, {"c": 0, "b": 0}) == {"_id": 2, "a": 2}
    with pytest.raises(OperationFailure):
        coll.find_one({}, {"a": 1, "b": 0})


def test_cursors_across_batches_and_kill(coll):
    coll.insert_many([{"_id": i} for i in range(250)])
    cursor = coll.find({}, batch_size=7).sort("_id", ASCENDING)
    assert [d["_id"] for d in cursor] == list(range(250))
    db = coll.database
    first = db.command("find", coll.name, batchSize=5)["cursor"]
    assert len(first["firstBatch"]) == 5 and first["id"] != 0
    more = db.command("getMore", first["id"], collection=coll.name, batchSize=10)["cursor"]
    assert len(more["nextBatch"]) == 10 and more["id"] == first["id"]
    killed = db.command("killCursors", coll.name, cursors=[first["id"], 12345])
    assert killed["cursorsKilled"] == [first["id"]] and killed["cursorsNotFound"] == [12345]
    with pytest.raises(OperationFailure) as err:
        db.command("getMore", first["id"], collection=coll.name)
    assert err.value.code == 43
    assert len(list(coll.find({}).limit(120))) == 120


def test_update_operators(coll):
    coll.insert_one({"_id": 1, "n": 5, "f": 1.5, "arr": [3, 1, 2], "old": "x", "s": {"a": 1},
                     "grades": [{"g": 80}, {"g": 90}, {"g": 95}], "set": ["a"]})
    r = coll.update_one({"_id": 1}, {
        "$inc": {"n": 2, "s.b": 1}, "$mul": {"f": 2}, "$rename": {"old": "new"},
        "$push": {"arr": {"$each": [9, 0], "$sort": 1, "$slice": 4}},
        "$addToSet": {"set": {"$each": ["a", "b"]}}, "$currentDate": {"when": True},
        "$min": {"low": 3}, "$max": {"hi": 1}, "$unset": {"s.a": ""},
    })
    assert (r.matched_count, r.modified_count) == (1, 1)
    d = coll.find_one({"_id": 1})
    assert d["n"] == 7 and d["f"] == 3.0 and d["new"] == "x" and "old" not in d
    assert d["arr"] == [0, 1, 2, 3] and d["set"] == ["a", "b"] and d["s"] == {"b": 1}
    assert isinstance(d["when"], datetime.datetime) and d["low"] == 3 and d["hi"] == 1
    coll.update_one({"_id": 1, "grades.g": 90}, {"$set": {"grades.$.g": 91}})
    coll.update_one({"_id": 1}, {"$inc": {"grades.$[].g": 1}})
    coll.update_one({"_id": 1}, {"$set": {"grades.$[hi].top": True}}, array_filters=[{"hi.g": {"$gte": 92}}])
    coll.update_one({"_id": 1}, {"$pull": {"arr": {"$gte": 2}}, "$pop": {"set": 1}})
    d = coll.find_one({"_id": 1})
    assert d["grades"] == [{"g": 81}, {"g": 92, "top": True}, {"g": 96, "top": True}]
    assert d["arr"] == [0, 1] and d["set"] == ["a"]
    coll.update_one({"_id": 1}, {"$pullAll": {"arr": [0]}})
    assert coll.find_one({"_id": 1})["arr"] == [1]
    r = coll.update_one({"_id": 1}, {"$set": {"n": 7}})
    assert (r.matched_count, r.modified_count) == (1, 0)
    with pytest.raises(WriteError) as err:
        coll.update_one({"_id": 1}, {"$inc": {"new": 1}})
    assert err.value.code == 14
    with pytest.raises(WriteError) as err:
        coll.update_one({"_id": 1}, {"$set": {"_id": 2}})
    assert err.value.code == 66
    assert coll.find_one({"_id": 1})["new"] == "x", "a refused update changes nothing"


def test_upserts_replacements_and_update_many(coll):
    r = coll.update_one({"k": "a", "n": {"$gt": 1}}, {"$set": {"v": 1}, "$setOnInsert": {"born": True}}, upsert=True)
    assert r.upserted_id is not None and r.matched_count == 0
    assert coll.find_one({"_id": r.upserted_id}, {"_id": 0}) == {"k": "a", "v": 1, "born": True}
    r = coll.update_one({"k": "a"}, {"$set": {"v": 2}, "$setOnInsert": {"born": False}}, upsert=True)
    assert r.upserted_id is None and coll.find_one({"k": "a"})["born"] is True
    coll.replace_one({"k": "a"}, {"k": "a", "replaced": True})
    assert coll.find_one({"k": "a"}, {"_id": 0}) == {"k": "a", "replaced": True}
    r = coll.replace_one({"_id": "new"}, {"x": 1}, upsert=True)
    assert r.upserted_id == "new"
    coll.insert_many([{"g": 1}, {"g": 1}, {"g": 2}])
    r = coll.update_many({"g": 1}, {"$inc": {"g": 10}})
    assert (r.matched_count, r.modified_count) == (2, 2)
    assert coll.count_documents({"g": 11}) == 2
    coll.update_one({"g": 2}, [{"$set": {"h": {"$add": ["$g", 5]}}}])
    assert coll.find_one({"g": 2})["h"] == 7


def test_find_and_modify(coll):
    coll.insert_many([{"_id": i, "q": i} for i in range(5)])
    before = coll.find_one_and_update({"q": {"$gte": 2}}, {"$inc": {"q": 100}}, sort=[("q", DESCENDING)])
    assert before == {"_id": 4, "q": 4}
    after = coll.find_one_and_update({"_id": 3}, {"$inc": {"q": 1}}, return_document=ReturnDocument.AFTER,
                                     projection={"_id": 0})
    assert after == {"q": 4}
    assert coll.find_one_and_replace({"_id": 0}, {"r": 1}, return_document=ReturnDocument.AFTER) == {"_id": 0, "r": 1}
    assert coll.find_one_and_delete({"_id": 1}) == {"_id": 1, "q": 1}
    assert coll.find_one({"_id": 1}) is None
    up = coll.find_one_and_update({"_id": 9}, {"$set": {"z": 1}}, upsert=True, return_document=ReturnDocument.AFTER)
    assert up == {"_id": 9, "z": 1}


def test_duplicate_keys_and_bulk_writes(coll):
    coll.insert_one({"_id": 1})
    with pytest.raises(DuplicateKeyError) as err:
        coll.insert_one({"_id": 1.0})
    assert err.value.code == 11000 and "dup key" in str(err.value)
    with pytest.raises(BulkWriteError) as err:
        coll.insert_many([{"_id": 2}, {"_id": 1}, {"_id": 3}])
    assert err.value.details["nInserted"] == 1
    assert err.value.details["writeErrors"][0]["index"] == 1
    assert err.value.details["writeErrors"][0]["code"] == 11000
    with pytest.raises(BulkWriteError) as err:
        coll.insert_many([{"_id": 4}, {"_id": 1}, {"_id": 5}], ordered=False)
    assert err.value.details["nInserted"] == 2
    assert sorted(d["_id"] for d in coll.find()) == [1, 2, 4, 5]
    r = coll.bulk_write([
        InsertOne({"_id": 10}), UpdateOne({"_id": 10}, {"$set": {"a": 1}}),
        UpdateMany({"_id": {"$lt": 3}}, {"$set": {"low": True}}), ReplaceOne({"_id": 4}, {"r": 1}),
        DeleteOne({"_id": 5}), UpdateOne({"_id": 11}, {"$set": {"u": 1}}, upsert=True),
    ])
    assert (r.inserted_count, r.matched_count, r.modified_count, r.deleted_count, r.upserted_count) == (1, 4, 4, 1, 1)
    assert coll.count_documents({"low": True}) == 2


def test_deletes_counts_and_distinct(coll):
    coll.insert_many([{"_id": i, "k": i % 4, "l": [i % 2, "x"]} for i in range(40)])
    assert coll.estimated_document_count() == 40
    assert coll.count_documents({"k": 1}) == 10
    assert coll.count_documents({}, skip=35) == 5
    assert coll.count_documents({"k": {"$gt": 0}}, limit=7) == 7
    assert coll.distinct("k") == [0, 1, 2, 3]
    assert coll.distinct("l", {"k": 2}) == [0, "x"]
    assert coll.delete_one({"k": 3}).deleted_count == 1
    assert coll.delete_many({"k": 3}).deleted_count == 9
    assert coll.count_documents({}) == 30


def test_concurrent_increments_lose_nothing(coll):
    import threading
    coll.insert_one({"_id": "c", "n": 0})

    def bump():
        for _ in range(25):
            coll.update_one({"_id": "c"}, {"$inc": {"n": 1}})

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert coll.find_one({"_id": "c"})["n"] == 100
