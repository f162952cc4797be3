"""Change streams (watch) on a collection: every kind of write, in order,
with resume tokens and a pipeline."""


def take(stream, n):
    events = []
    while len(events) < n:
        event = stream.try_next()
        if event is not None:
            events.append(event)
    return events


def test_watch_sees_inserts_updates_replaces_and_deletes(coll):
    with coll.watch(full_document="updateLookup", max_await_time_ms=300) as stream:
        coll.insert_one({"_id": 1, "a": 1, "gone": True})
        coll.update_one({"_id": 1}, {"$set": {"a": 2}, "$unset": {"gone": ""}})
        coll.replace_one({"_id": 1}, {"b": 1})
        coll.delete_one({"_id": 1})
        events = take(stream, 4)
    assert [e["operationType"] for e in events] == ["insert", "update", "replace", "delete"]
    assert all(e["documentKey"] == {"_id": 1} for e in events)
    assert all(e["ns"] == {"db": coll.database.name, "coll": coll.name} for e in events)
    assert events[0]["fullDocument"] == {"_id": 1, "a": 1, "gone": True}
    assert events[1]["updateDescription"]["updatedFields"] == {"a": 2}
    assert events[1]["updateDescription"]["removedFields"] == ["gone"]
    assert events[1]["fullDocument"] == {"_id": 1, "a": 2}
    assert events[2]["fullDocument"] == {"_id": 1, "b": 1}
    assert "fullDocument" not in events[3]
    tokens = [e["_id"] for e in events]
    assert len(set(t["_data"] for t in tokens)) == 4

    with coll.watch(resume_after=tokens[1], max_await_time_ms=300) as resumed:
        assert [e["operationType"] for e in take(resumed, 2)] == ["replace", "delete"]


def test_a_pipeline_filters_events(coll):
    with coll.watch([{"$match": {"operationType": "insert", "fullDocument.keep": True}}],
                    max_await_time_ms=300) as stream:
        coll.insert_many([{"keep": False}, {"keep": True, "n": 1}, {"keep": True, "n": 2}])
        coll.delete_many({})
        events = take(stream, 2)
        assert [e["fullDocument"]["n"] for e in events] == [1, 2]
        assert stream.try_next() is None
