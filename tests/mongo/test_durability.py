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
