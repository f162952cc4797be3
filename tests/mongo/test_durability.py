"""Acknowledged MongoDB writes survive kill -9, with w:1 and w:majority."""
import tempfile

from pymongo import WriteConcern

from conftest import MongoServer


def test_acknowledged_writes_survive_kill_9():
    data = tempfile.mkdtemp(prefix="cosmonaut-mongo-kill-")
    srv = MongoServer(data).start()
    with srv.client() as c:
        one = c.k.get_collection("w1", write_concern=WriteConcern(w=1))
        majority = c.k.get_collection("wm", write_concern=WriteConcern(w="majority"))
        for i in range(200):
            one.insert_one({"_id": i, "v": i})
            majority.update_one({"_id": "counter"}, {"$inc": {"n": 1}}, upsert=True)
    srv.kill()
    srv = MongoServer(data).start()
    try:
        with srv.client() as c:
            assert c.k.w1.count_documents({}) == 200
            assert c.k.w1.find_one({"_id": 199}) == {"_id": 199, "v": 199}
            assert c.k.wm.find_one({"_id": "counter"})["n"] == 200
    finally:
        srv.stop()


def test_mongo_data_is_backed_up_and_restored(tmp_path):
    import datetime

    from bson import Decimal128, Int64, ObjectId

    backup = ["--backup", f"file://{tmp_path / 'backup'}", "--lease-ttl", "3s"]
    source = MongoServer(str(tmp_path / "a"), extra_args=backup).start()
    docs = [{"_id": ObjectId(), "n": Int64(i), "d": Decimal128(f"{i}.5"),
             "when": datetime.datetime(2026, 1, 1, i % 24), "tags": ["x", i]} for i in range(50)]
    with source.client() as c:
        c.shop.orders.insert_many(docs)
        c.shop.orders.create_index("n")
        c.shop.orders.update_one({"_id": docs[0]["_id"]}, {"$set": {"changed": True}})
    assert source.stop() == 0
    restored = MongoServer(str(tmp_path / "b"), extra_args=backup).start()
    try:
        assert any("Restored from" in line for line in restored.output), restored.output
        with restored.client() as c:
            back = list(c.shop.orders.find().sort("n", 1))
            docs[0]["changed"] = True
            assert back == docs
            assert [i["name"] for i in c.shop.orders.list_indexes()] == ["_id_", "n_1"]
    finally:
        restored.stop()
