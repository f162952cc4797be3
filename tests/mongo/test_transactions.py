"""Sessions, multi-document transactions and retryable writes through
pymongo: all or nothing, isolated until commit, conflicts reported with the
label drivers retry on, and a retried write applied once."""
import threading
import time

import pytest
from bson import Int64
from pymongo import MongoClient
from pymongo.errors import DuplicateKeyError, OperationFailure


def test_commit_makes_every_write_visible_at_once(server, client, db):
    db.a.insert_one({"_id": 1, "n": 0})
    other = server.client()
    with client.start_session() as s:
        with s.start_transaction():
            db.a.insert_one({"_id": 2, "n": 0}, session=s)
            db.a.update_one({"_id": 1}, {"$inc": {"n": 5}}, session=s)
            db.b.insert_one({"_id": "x", "moved": True}, session=s)
            db.a.delete_one({"_id": 2}, session=s)
            db.a.insert_one({"_id": 3}, session=s)
            # The transaction reads its own writes ...
            assert db.a.find_one({"_id": 1}, session=s)["n"] == 5
            assert sorted(d["_id"] for d in db.a.find({}, session=s)) == [1, 3]
            assert db.a.count_documents({}, session=s) == 2
            assert db.b.find_one({"moved": True}, session=s)["_id"] == "x"
            # ... which no one else sees before the commit.
            odb = other[db.name]
            assert odb.a.find_one({"_id": 1})["n"] == 0
            assert odb.a.find_one({"_id": 3}) is None
            assert "b" not in odb.list_collection_names() or odb.b.count_documents({}) == 0
    assert db.a.find_one({"_id": 1})["n"] == 5
    assert sorted(d["_id"] for d in db.a.find()) == [1, 3]
    assert db.b.find_one({"_id": "x"})["moved"] is True
    other.close()


def test_abort_discards_every_write(client, db):
    db.a.insert_one({"_id": 1, "n": 0})
    with client.start_session() as s:
        s.start_transaction()
        db.a.update_one({"_id": 1}, {"$set": {"n": 9}}, session=s)
        db.a.insert_one({"_id": 2}, session=s)
        db.a.delete_one({"_id": 1}, session=s)
        assert db.a.find_one({"_id": 1}, session=s) is None
        s.abort_transaction()
    assert list(db.a.find()) == [{"_id": 1, "n": 0}]


def test_a_concurrent_write_fails_the_commit_and_with_transaction_runs_it_again(client, db):
    db.a.insert_one({"_id": 1, "n": 0, "outside": 0})
    attempts = []

    def callback(s):
        doc = db.a.find_one({"_id": 1}, session=s)
        db.a.update_one({"_id": 1}, {"$set": {"n": doc["n"] + 1}}, session=s)
        if not attempts:
            # Someone else writes the document before this transaction commits.
            db.a.update_one({"_id": 1}, {"$inc": {"outside": 1, "n": 10}})
        attempts.append(1)

    with client.start_session() as s:
        s.with_transaction(callback)
    assert len(attempts) == 2
    doc = db.a.find_one({"_id": 1})
    assert doc == {"_id": 1, "n": 11, "outside": 1}


def test_the_conflict_is_write_conflict_with_the_transient_label(client, db):
    db.a.insert_one({"_id": 1, "n": 0})
    with client.start_session() as s:
        s.start_transaction()
        db.a.update_one({"_id": 1}, {"$inc": {"n": 1}}, session=s)
        db.a.update_one({"_id": 1}, {"$inc": {"n": 100}})
        with pytest.raises(OperationFailure) as e:
            s.commit_transaction()
        assert e.value.code == 112
        assert e.value.has_error_label("TransientTransactionError")
    assert db.a.find_one({"_id": 1})["n"] == 100


def test_concurrent_transactions_lose_no_increment(server, db):
    db.counter.insert_one({"_id": "c", "n": 0, "log": []})
    committed = []

    def worker(k):
        c = server.client()
        try:
            for i in range(5):
                with c.start_session() as s:
                    def body(s):
                        doc = c[db.name].counter.find_one({"_id": "c"}, session=s)
                        c[db.name].counter.update_one(
                            {"_id": "c"},
                            {"$set": {"n": doc["n"] + 1}, "$push": {"log": f"{k}-{i}"}},
                            session=s)
                    s.with_transaction(body)
                    committed.append(1)
        finally:
            c.close()

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    doc = db.counter.find_one({"_id": "c"})
    assert doc["n"] == len(committed) == 20
    assert len(set(doc["log"])) == 20


def test_an_error_inside_aborts_the_transaction_and_stores_nothing(client, db):
    db.a.insert_one({"_id": 1})
    with client.start_session() as s:
        s.start_transaction()
        db.a.insert_one({"_id": 2}, session=s)
        with pytest.raises(DuplicateKeyError):
            db.a.insert_one({"_id": 1}, session=s)
        with pytest.raises(OperationFailure) as e:
            db.a.insert_one({"_id": 3}, session=s)
        assert e.value.code == 251
        assert e.value.has_error_label("TransientTransactionError")
        s.abort_transaction()
    assert [d["_id"] for d in db.a.find()] == [1]


def test_unique_indexes_hold_inside_transactions(client, db):
    db.u.create_index("email", unique=True)
    db.u.insert_many([{"_id": 1, "email": "a"}, {"_id": 2, "email": "b"}])
    with client.start_session() as s:
        s.start_transaction()
        db.u.insert_one({"_id": 3, "email": "c"}, session=s)
        with pytest.raises(DuplicateKeyError):
            db.u.insert_one({"_id": 4, "email": "c"}, session=s)
        s.abort_transaction()
    with client.start_session() as s:
        s.start_transaction()
        with pytest.raises(DuplicateKeyError):
            db.u.update_one({"_id": 2}, {"$set": {"email": "a"}}, session=s)
        s.abort_transaction()
    # A key moves from one document to another within one transaction.
    with client.start_session() as s:
        with s.start_transaction():
            db.u.update_one({"_id": 1}, {"$set": {"email": "z"}}, session=s)
            db.u.update_one({"_id": 2}, {"$set": {"email": "a"}}, session=s)
            db.u.insert_one({"_id": 5, "email": "b"}, session=s)
    assert {d["_id"]: d["email"] for d in db.u.find()} == {1: "z", 2: "a", 5: "b"}
    for taken in ["a", "b", "z"]:
        with pytest.raises(DuplicateKeyError):
            db.u.insert_one({"email": taken})
    db.u.insert_one({"email": "free"})


def test_a_transaction_lives_five_seconds(client, db):
    with client.start_session() as s:
        s.start_transaction()
        db.a.insert_one({"_id": 1}, session=s)
        time.sleep(5.5)
        with pytest.raises(OperationFailure) as e:
            db.a.insert_one({"_id": 2}, session=s)
        assert e.value.code == 251 and "isn't active" in str(e.value)
        assert e.value.has_error_label("TransientTransactionError")
    assert db.a.count_documents({}) == 0


def test_commands_a_transaction_cannot_run(client, db):
    with client.start_session() as s:
        s.start_transaction()
        with pytest.raises(OperationFailure) as e:
            db.command("dbStats", session=s)
        assert e.value.code == 263
        s.abort_transaction()


def test_a_retried_write_is_applied_once(server, db):
    c = server.client(retryWrites=True)
    cdb = c[db.name]
    with c.start_session() as s:
        insert = {"insert": "r", "documents": [{"_id": 1, "n": 1}], "txnNumber": Int64(7)}
        first = cdb.command(insert, session=s)
        again = cdb.command(insert, session=s)
        assert first["n"] == again["n"] == 1 and "writeErrors" not in again
        inc = {"update": "r", "updates": [{"q": {"_id": 1}, "u": {"$inc": {"n": 1}}}],
               "txnNumber": Int64(8)}
        cdb.command(inc, session=s)
        cdb.command(inc, session=s)
        assert cdb.r.find_one({"_id": 1})["n"] == 2
        with pytest.raises(OperationFailure) as e:
            cdb.command({**inc, "txnNumber": Int64(3)}, session=s)
        assert e.value.code == 225
    c.close()
    # The driver's own retryable writes (numbered by the driver, on sessions
    # the manual numbers above never touched) work as usual.
    c = server.client(retryWrites=True)
    c[db.name].r.insert_one({"_id": 2})
    c[db.name].r.update_one({"_id": 2}, {"$set": {"x": 1}})
    assert c[db.name].r.count_documents({}) == 2
    c.close()
