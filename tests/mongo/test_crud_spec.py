"""The MongoDB specifications' CRUD unified-format tests, run by a runner of
our own against a real server. The JSON files are not in this repository:
they are taken at test time from the pymongo source distribution (which
ships them under test/crud/unified), downloaded from PyPI into
tests/mongo/.cache. crud-spec-skips.txt lists what is left out and why.

The runner implements the parts of the unified format the CRUD tests use:
entities (clients, databases, collections), initialData, operations with
expectResult / expectError, and outcome. Command-monitoring expectations
(expectEvents) check what the driver sends, not what the server does, and
are not compared."""
import glob
import json
import os
import re
import subprocess
import sys
import tarfile

import pytest
from bson import json_util
from pymongo import DeleteMany, DeleteOne, InsertOne, MongoClient, ReplaceOne, ReturnDocument, UpdateMany, UpdateOne
from pymongo.write_concern import WriteConcern
from pymongo.errors import BulkWriteError, OperationFailure, PyMongoError

HERE = os.path.dirname(os.path.abspath(__file__))
CACHE = os.path.join(HERE, ".cache")
PYMONGO = "4.20.1"
SERVER_VERSION = (6, 0, 0)


def spec_files():
    folder = os.path.join(CACHE, f"pymongo-{PYMONGO}", "test", "crud", "unified")
    if not os.path.isdir(folder):
        os.makedirs(CACHE, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-binary", ":all:", "--no-deps",
                        "--disable-pip-version-check", f"pymongo=={PYMONGO}", "-d", CACHE], check=True)
        with tarfile.open(os.path.join(CACHE, f"pymongo-{PYMONGO}.tar.gz")) as tar:
            members = [m for m in tar.getmembers() if "/test/crud/unified/" in m.name and m.name.endswith(".json")]
            tar.extractall(CACHE, members=members, filter="data")
    return sorted(glob.glob(os.path.join(folder, "*.json")))


def load_skips():
    skips = {}
    with open(os.path.join(HERE, "crud-spec-skips.txt")) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            target, reason = line.split("#", 1)
            name, _, test = target.strip().partition(": ")
            skips[(name, test.strip() or "*")] = reason.strip()
    return skips


def pytest_generate_tests(metafunc):
    if "spec_case" not in metafunc.fixturenames:
        return
    cases, ids = [], []
    for path in spec_files():
        with open(path) as f:
            spec = json_util.loads(f.read())
        for test in spec["tests"]:
            cases.append((os.path.basename(path), spec, test))
            ids.append(f"{os.path.basename(path)[:-5]}: {test['description']}")
    metafunc.parametrize("spec_case", cases, ids=ids)


def version(text):
    return tuple(int(p) for p in (text.split(".") + ["0", "0"])[:3])


def runnable(requirements):
    """Whether any runOnRequirements entry holds for this server."""
    if not requirements:
        return True
    for r in requirements:
        if "minServerVersion" in r and version(r["minServerVersion"]) > SERVER_VERSION:
            continue
        if "maxServerVersion" in r and version(r["maxServerVersion"]) < SERVER_VERSION:
            continue
        if "topologies" in r and "replicaset" not in r["topologies"]:
            continue
        if r.get("serverless") == "require" or r.get("csfle") or r.get("authEnabled") is False:
            continue
        if r.get("serverParameters"):
            continue
        return True
    return False


def snake(name):
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class Unsupported(Exception):
    """Something the runner does not implement: the test is skipped."""


def matches(expected, actual, root=True):
    if isinstance(expected, dict) and len(expected) == 1 and next(iter(expected)).startswith("$$"):
        op, arg = next(iter(expected.items()))
        if op == "$$exists":
            return (actual is not Missing) == arg
        if op == "$$unsetOrMatches":
            return actual is Missing or actual is None or matches(arg, actual, root)
        if op == "$$type":
            names = arg if isinstance(arg, list) else [arg]
            return any(type_matches(n, actual) for n in names)
        if op == "$$lte":
            return actual is not Missing and actual <= arg
        if op == "$$matchAsDocument":
            return matches(arg, json_util.loads(actual), True)
        if op == "$$matchAsRoot":
            return matches(arg, actual, True)
        raise Unsupported(f"special operator {op}")
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return False
        for key, value in expected.items():
            if not matches(value, actual.get(key, Missing), False):
                return False
        return root or set(actual) <= set(expected)
    if isinstance(expected, list):
        # The documents of a root-level array (a find's result) are root-level too.
        return isinstance(actual, list) and len(expected) == len(actual) and all(
            matches(e, a, root) for e, a in zip(expected, actual))
    if isinstance(expected, (int, float)) and not isinstance(expected, bool):
        return isinstance(actual, (int, float)) and not isinstance(actual, bool) and float(expected) == float(actual)
    return expected == actual


class _Missing:
    def __repr__(self):
        return "<missing>"


Missing = _Missing()


def type_matches(name, value):
    import bson
    return {
        "double": lambda v: isinstance(v, float), "string": lambda v: isinstance(v, str),
        "object": lambda v: isinstance(v, dict), "array": lambda v: isinstance(v, list),
        "objectId": lambda v: isinstance(v, bson.ObjectId), "bool": lambda v: isinstance(v, bool),
        "int": lambda v: isinstance(v, int) and not isinstance(v, bool), "long": lambda v: isinstance(v, int),
        "null": lambda v: v is None, "date": lambda v: hasattr(v, "year"),
    }.get(name, lambda v: False)(value)


def write_models(requests):
    models = []
    for request in requests:
        (kind, args), = request.items()
        args = dict(args)
        common = {k: args[k] for k in ("collation", "hint", "upsert", "sort") if k in args}
        if "arrayFilters" in args:
            common["array_filters"] = args["arrayFilters"]
        if kind == "insertOne":
            models.append(InsertOne(args["document"]))
        elif kind == "updateOne":
            models.append(UpdateOne(args["filter"], args["update"], **common))
        elif kind == "updateMany":
            common.pop("sort", None)
            models.append(UpdateMany(args["filter"], args["update"], **common))
        elif kind == "replaceOne":
            models.append(ReplaceOne(args["filter"], args["replacement"], **common))
        elif kind == "deleteOne":
            models.append(DeleteOne(args["filter"], **{k: v for k, v in common.items() if k in ("collation", "hint")}))
        elif kind == "deleteMany":
            models.append(DeleteMany(args["filter"], **{k: v for k, v in common.items() if k in ("collation", "hint")}))
        else:
            raise Unsupported(f"bulk request {kind}")
    return models


def bulk_result(r):
    if not r.acknowledged:
        return {}
    return {"deletedCount": r.deleted_count, "insertedCount": r.inserted_count, "matchedCount": r.matched_count,
            "modifiedCount": r.modified_count, "upsertedCount": r.upserted_count,
            "upsertedIds": {str(k): v for k, v in r.upserted_ids.items()}}


def run_operation(entities, op):
    name, target, args = op["name"], entities.get(op["object"]), dict(op.get("arguments", {}))
    if op["object"] == "testRunner" or name in ("failPoint", "targetedFailPoint"):
        raise Unsupported(f"test runner operation {name}")
    if "session" in args:
        args["session"] = entities[args["session"]]
    kwargs = {}
    renames = {"returnDocument": "return_document", "arrayFilters": "array_filters", "batchSize": "batch_size",
               "bypassDocumentValidation": "bypass_document_validation", "allowDiskUse": "allow_disk_use",
               "maxTimeMS": "max_time_ms", "let": "let", "upsert": "upsert", "sort": "sort", "projection": "projection",
               "hint": "hint", "collation": "collation", "comment": "comment", "skip": "skip", "limit": "limit",
               "ordered": "ordered", "session": "session"}
    positional = {"filter", "update", "replacement", "document", "documents", "pipeline", "fieldName", "requests",
                  "collection", "keys", "name"}
    for key, value in args.items():
        if key in positional:
            continue
        if key not in renames:
            raise Unsupported(f"argument {key}")
        kwargs[renames[key]] = value
    if "return_document" in kwargs:
        kwargs["return_document"] = ReturnDocument.AFTER if kwargs["return_document"] == "After" else ReturnDocument.BEFORE
    f = args.get("filter", {})
    if name == "insertOne":
        r = target.insert_one(args["document"], **kwargs)
        return {"insertedId": r.inserted_id} if r.acknowledged else {}
    if name == "insertMany":
        r = target.insert_many(args["documents"], **kwargs)
        return {"insertedIds": {str(i): v for i, v in enumerate(r.inserted_ids)}} if r.acknowledged else {}
    if name in ("updateOne", "updateMany", "replaceOne"):
        method = {"updateOne": target.update_one, "updateMany": target.update_many, "replaceOne": target.replace_one}[name]
        r = method(f, args["replacement"] if name == "replaceOne" else args["update"], **kwargs)
        if not r.acknowledged:
            return {}
        return {"matchedCount": r.matched_count, "modifiedCount": r.modified_count,
                "upsertedCount": 1 if r.upserted_id is not None else 0, "upsertedId": r.upserted_id}
    if name in ("deleteOne", "deleteMany"):
        r = (target.delete_one if name == "deleteOne" else target.delete_many)(f, **kwargs)
        return {"deletedCount": r.deleted_count} if r.acknowledged else {}
    if name == "find":
        return list(target.find(f, **kwargs))
    if name == "findOne":
        return target.find_one(f, **kwargs)
    if name == "aggregate":
        return list(target.aggregate(args["pipeline"], **kwargs))
    if name == "countDocuments":
        return target.count_documents(f, **kwargs)
    if name == "estimatedDocumentCount":
        return target.estimated_document_count(**kwargs)
    if name == "count":
        raise Unsupported("the legacy count helper is gone from pymongo")
    if name == "distinct":
        return target.distinct(args["fieldName"], f, **kwargs)
    if name == "findOneAndUpdate":
        return target.find_one_and_update(f, args["update"], **kwargs)
    if name == "findOneAndReplace":
        return target.find_one_and_replace(f, args["replacement"], **kwargs)
    if name == "findOneAndDelete":
        return target.find_one_and_delete(f, **kwargs)
    if name == "bulkWrite":
        return bulk_result(target.bulk_write(write_models(args["requests"]), **kwargs))
    if name == "createCollection":
        return target.create_collection(args["collection"])
    if name == "dropCollection":
        return target.drop_collection(args["collection"])
    if name == "createIndex":
        return target.create_index(list(args["keys"].items()), **({"name": args["name"]} if "name" in args else {}))
    raise Unsupported(f"operation {name}")


def check_error(expected, error):
    if expected.get("isClientError"):
        assert not isinstance(error, OperationFailure), f"expected a client-side error, got {error!r}"
        return
    if "errorCode" in expected:
        assert getattr(error, "code", None) == expected["errorCode"], repr(error)
    if "errorCodeName" in expected:
        details = getattr(error, "details", None) or {}
        name = details.get("codeName") or (details.get("writeErrors") or [{}])[-1].get("codeName")
        assert name == expected["errorCodeName"] or expected["errorCodeName"] in str(error), repr(error)
    if "errorContains" in expected:
        assert expected["errorContains"].lower() in str(error).lower(), repr(error)
    if "expectResult" in expected and isinstance(error, BulkWriteError):
        d = error.details
        partial = {"insertedCount": d["nInserted"], "deletedCount": d["nRemoved"], "matchedCount": d["nMatched"],
                   "modifiedCount": d["nModified"], "upsertedCount": d["nUpserted"],
                   "upsertedIds": {str(u["index"]): u["_id"] for u in d.get("upserted", [])}}
        assert matches(expected["expectResult"], partial), (expected["expectResult"], partial)


def test_crud_spec(spec_case, server):
    filename, spec, test = spec_case
    skips = load_skips()
    reason = skips.get((filename[:-5], test["description"])) or skips.get((filename[:-5], "*"))
    if reason:
        pytest.skip(reason)
    if not runnable(spec.get("runOnRequirements")) or not runnable(test.get("runOnRequirements")):
        pytest.skip("runOnRequirements exclude MongoDB 6.0 replica sets")
    if test.get("skipReason"):
        pytest.skip(test["skipReason"])
    entities, clients = {}, []
    try:
        for entity in spec.get("createEntities", []):
            (kind, e), = entity.items()
            if kind == "client":
                options = {k: v for k, v in e.get("uriOptions", {}).items() if k in ("w", "retryWrites", "readConcernLevel")}
                c = server.client(**options)
                clients.append(c)
                entities[e["id"]] = c
            elif kind == "database":
                entities[e["id"]] = entities[e["client"]][e["databaseName"]]
            elif kind == "collection":
                concern = e.get("collectionOptions", {}).get("writeConcern")
                entities[e["id"]] = entities[e["database"]].get_collection(
                    e["collectionName"], write_concern=WriteConcern(**concern) if concern else None)
            elif kind == "session":
                entities[e["id"]] = entities[e["client"]].start_session()
            else:
                pytest.skip(f"entity {kind}")
        setup = server.client()
        clients.append(setup)
        for data in spec.get("initialData", []):
            db = setup[data["databaseName"]]
            db.drop_collection(data["collectionName"])
            db.create_collection(data["collectionName"])
            if data["documents"]:
                db[data["collectionName"]].insert_many(data["documents"])
        for op in test["operations"]:
            try:
                result = run_operation(entities, op)
                error = None
            except Unsupported as e:
                pytest.skip(f"the runner does not implement {e}")
            except (PyMongoError, TypeError, ValueError) as e:
                result, error = None, e
            if "expectError" in op:
                assert error is not None, f"{op['name']} should have failed; it returned {result!r}"
                check_error(op["expectError"], error)
                continue
            assert error is None, f"{op['name']} failed: {error!r}"
            if "expectResult" in op:
                assert matches(op["expectResult"], result), (op["expectResult"], result)
        for data in test.get("outcome", []):
            stored = list(setup[data["databaseName"]][data["collectionName"]].find().sort("_id", 1))
            try:
                expected = sorted(data["documents"], key=lambda d: d.get("_id"))
            except TypeError:
                expected = data["documents"]
            assert matches(expected, stored, False), (data["documents"], stored)
    finally:
        for c in clients:
            c.close()
