"""Commands of every wrong shape get MongoDB errors; the server, the
connection and the stored documents survive them."""
import random
import socket
import struct

import bson
import pytest
from pymongo.errors import OperationFailure

# (Shapes pymongo cannot send, such as `documents: 5`, reach the parser in
# the random-bytes test below.)
SHAPES = [
    {"find": 1}, {"find": "c", "filter": 5}, {"find": "c", "sort": {"a": "up"}}, {"find": "c", "limit": "x"},
    {"find": "c", "projection": {"a": {"$slice": "x"}}}, {"find": "c", "filter": {"$and": 1}},
    {"find": "c", "filter": {"a": {"$regex": "(("}}}, {"find": "c", "filter": {"a": {"$size": -1}}},
    {"find": "c", "filter": {"$expr": {"$add": ["a", {"$bogus": 1}]}}}, {"find": "c", "batchSize": -5},
    {"insert": "c"},
    {"insert": "c", "documents": [{"_id": [1, 2]}]}, {"insert": "c", "documents": [{"_id": {"$x": 1}}]},
    {"insert": "", "documents": [{}]}, {"insert": "a/b", "documents": [{}]},
    {"update": "c", "updates": [{"q": 1, "u": []}]}, {"update": "c", "updates": [{"q": {}, "u": {"$inc": {"a": "x"}}}]},
    {"update": "c", "updates": [{"q": {}, "u": {"$set": {"a.$[nope]": 1}}}]},
    {"update": "c", "updates": [{"q": {}, "u": {"$set": {"a.99999999": 1}}}]},
    {"update": "c", "updates": [{"q": {}, "u": {"$push": {"a": {"$each": 5}}}}]},
    {"update": "c", "updates": [{"q": {}, "u": [{"$set": 1}]}]}, 
    {"delete": "c", "deletes": [{"q": 5, "limit": 0}]}, {"delete": "c", "deletes": [{"limit": 0}]},
    {"update": "c", "updates": [{"u": {"$set": {"a": 1}}, "multi": True}]}, 
    {"findAndModify": "c"}, {"findAndModify": "c", "remove": True, "update": {}},
    {"aggregate": "c", "pipeline": [{"$group": 5}]}, {"aggregate": "c", "pipeline": 3},
    {"aggregate": "c", "pipeline": [{"$unwind": 5}]}, {"aggregate": "c", "pipeline": [{"$limit": -1}]},
    {"aggregate": "c", "pipeline": [{"$lookup": {"from": 5}}]}, {"aggregate": "c", "pipeline": [{"$bucket": {}}]},
    {"aggregate": "c", "pipeline": [{"$project": {"a": {"$divide": [1, 0]}}}], "cursor": {}},
    {"aggregate": "c", "pipeline": [{"$changeStream": {"resumeAfter": {"_data": "zz"}}}], "cursor": {}},
    {"getMore": "x", "collection": "c"}, {"getMore": 5, "collection": 7}, {"killCursors": "c", "cursors": "x"},
    {"count": "c", "query": 5}, {"distinct": "c", "key": 5}, {"createIndexes": "c", "indexes": [{"key": {}}]},
    {"createIndexes": "c", "indexes": [{"key": {"a": 1}, "expireAfterSeconds": -5}]}, {"dropIndexes": "c", "index": 5},
    {"renameCollection": "nodot", "to": "x"}, {"customAction": "Nope"}, {"customAction": "CreateCollection"},
    {"shardCollection": "nodot", "key": {"a": 1}}, {"explain": {"bogus": 1}}, {"listCollections": 1, "filter": 5},
    {"saslContinue": 1, "conversationId": 1, "payload": b"garbage"},
]


def test_every_wrong_shape_is_an_error_and_nothing_is_lost(client):
    db = client.hostile
    db.c.insert_many([{"_id": i, "a": [i]} for i in range(5)])
    for shape in SHAPES:
        # A refused command, or a write command whose statements were refused.
        try:
            reply = db.command(shape)
        except OperationFailure:
            continue
        assert reply.get("writeErrors"), (shape, reply)
    assert client.admin.command("ping")["ok"] == 1
    assert sorted(d["_id"] for d in db.c.find()) == list(range(5))
    client.drop_database("hostile")


def test_random_bytes_do_not_take_the_server_down(server, client):
    rnd = random.Random(7)
    for _ in range(200):
        body = bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 200)))
        if rnd.random() < 0.5:
            doc = bson.encode({"find": "c", "$db": "x", "filter": {"a": rnd.random()}})
            cut = rnd.randrange(len(doc))
            body = doc[:cut] + body
        flags = rnd.choice([0, 1, 2, 0xFFFFFFFF])
        payload = struct.pack("<I", flags) + b"\x00" + body
        message = struct.pack("<iiii", 16 + len(payload), 1, 0, rnd.choice([2013, 2004, 2012, 1, 99]))
        with socket.create_connection(("127.0.0.1", server.port())) as sock:
            sock.settimeout(2)
            sock.sendall(message + payload)
            try:
                sock.recv(65536)
            except (socket.timeout, ConnectionError):
                pass
    assert client.admin.command("ping")["ok"] == 1
