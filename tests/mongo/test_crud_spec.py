"""The MongoDB specifications' unified-format tests of CRUD, transactions and
the convenient transaction API, run by a runner of our own against a real
server. The JSON files are not in this repository: they are taken at test
time from the pymongo source distribution (which ships them under
test/<group>/unified), downloaded from PyPI into tests/mongo/.cache.
crud-spec-skips.txt lists what is left out and why.

The runner implements the parts of the unified format these tests use:
entities (clients, databases, collections, sessions), initialData,
operations with expectResult / expectError (codes, names, messages, error
labels), session and transaction operations (withTransaction runs its
callback's operations), the test runner's assertions about collections,
indexes and session state, and outcome. Command-monitoring expectations
(expectEvents) check what the driver sends, not what the server does, and
are not compared; fail points are a mongod testing facility this server
does not have, so tests that set one are skipped."""
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
from pymongo.client_session import ClientSession, TransactionOptions
from pymongo.read_concern import ReadConcern
from pymongo.write_concern import WriteConcern
from pymongo.errors import BulkWriteError, OperationFailure, PyMongoError

HERE = os.path.dirname(os.path.abspath(__file__))
CACHE = os.path.join(HERE, ".cache")
PYMONGO = "4.20.1"
SERVER_VERSION = (6, 0, 0)


GROUPS = ["crud", "transactions", "transactions-convenient-api"]


def spec_files():
    """(name, path) of every test file; names outside CRUD carry their group."""
    tests = os.path.join(CACHE, f"pymongo-{PYMONGO}", "test")
    if not all(os.path.isdir(os.path.join(tests, g, "unified")) for g in GROUPS):
        os.makedirs(CACHE, exist_ok=True)
        if not os.path.exists(os.path.join(CACHE, f"pymongo-{PYMONGO}.tar.gz")):
            subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-binary", ":all:", "--no-deps",
                            "--disable-pip-version-check", f"pymongo=={PYMONGO}", "-d", CACHE], check=True)
        wanted = tuple(f"/test/{g}/unified/" for g in GROUPS)
        with tarfile.open(os.path.join(CACHE, f"pymongo-{PYMONGO}.tar.gz")) as tar:
            members = [m for m in tar.getmembers() if any(w in m.name for w in wanted) and m.name.endswith(".json")]
            tar.extractall(CACHE, members=members, filter="data")
    files = []
    for group in GROUPS:
        for path in sorted(glob.glob(os.path.join(tests, group, "unified", "*.json"))):
            name = os.path.basename(path)[:-5]
            files.append((name if group == "crud" else f"{group}/{name}", path))
    return files


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
    for name, path in spec_files():
        with open(path) as f:
            spec = json_util.loads(f.read())
        for test in spec["tests"]:
            cases.append((name, spec, test))
            ids.append(f"{name}: {test['description']}")
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


def transaction_options(args):
    options = {}
    if "readConcern" in args:
        options["read_concern"] = ReadConcern(**args["readConcern"])
    if "writeConcern" in args:
        options["write_concern"] = write_concern(args["writeConcern"])
    if "readPreference" in args:
        options["read_preference"] = read_preference(args["readPreference"])
    if "maxCommitTimeMS" in args:
        options["max_commit_time_ms"] = args["maxCommitTimeMS"]
    return options


def write_concern(spec):
    renames = {"w": "w", "j": "j", "wtimeoutMS": "wtimeout", "journal": "j"}
    return WriteConcern(**{renames[k]: v for k, v in spec.items()})


def read_preference(spec):
    from pymongo import read_preferences
    return read_preferences.make_read_preference(
        read_preferences.read_pref_mode_from_name(spec["mode"]), spec.get("tagSets"))


SESSION_STATES = {"none": "NONE", "starting": "STARTING", "in_progress": "IN_PROGRESS",
                  "committed": "COMMITTED", "aborted": "ABORTED"}


def run_runner_operation(entities, setup, name, args):
    """The test runner's own operations: assertions about the server's state
    (and one about the driver's session state)."""
    if name in ("assertCollectionExists", "assertCollectionNotExists"):
        names = setup[args["databaseName"]].list_collection_names()
        assert (args["collectionName"] in names) == (name == "assertCollectionExists"), names
    elif name in ("assertIndexExists", "assertIndexNotExists"):
        indexes = [i["name"] for i in setup[args["databaseName"]][args["collectionName"]].list_indexes()]
        assert (args["indexName"] in indexes) == (name == "assertIndexExists"), indexes
    elif name == "createEntities":
        create_entities(entities["$server"], entities, entities["$clients"], args["entities"])
    elif name == "assertSessionTransactionState":
        # Checked through pymongo's session internals (no public accessor).
        from pymongo.client_session_shared import _TxnState
        names = {v: k for k, v in vars(_TxnState).items() if k.isupper()}
        state = names[entities[args["session"]]._transaction.state]
        assert state.replace("COMMITTED_EMPTY", "COMMITTED") == SESSION_STATES[args["state"]], state
    else:
        raise Unsupported(f"test runner operation {name}")


def run_session_operation(entities, session, name, args, setup):
    if name == "startTransaction":
        return session.start_transaction(**transaction_options(args))
    if name == "commitTransaction":
        return session.commit_transaction()
    if name == "abortTransaction":
        return session.abort_transaction()
    if name == "endSession":
        return session.end_session()
    if name == "withTransaction":
        def callback(_session):
            for op in args["callback"]:
                run_checked(entities, op, setup, reraise=True)
        return session.with_transaction(callback, **transaction_options(args))
    raise Unsupported(f"session operation {name}")


def run_operation(entities, op, setup=None):
    name, target, args = op["name"], entities.get(op["object"]), dict(op.get("arguments", {}))
    if name in ("failPoint", "targetedFailPoint"):
        raise Unsupported("fail points")
    if op["object"] == "testRunner":
        return run_runner_operation(entities, setup, name, args)
    if isinstance(target, ClientSession):
        return run_session_operation(entities, target, name, args, setup)
    if "session" in args:
        args["session"] = entities[args["session"]]
    kwargs = {}
    renames = {"returnDocument": "return_document", "arrayFilters": "array_filters", "batchSize": "batch_size",
               "bypassDocumentValidation": "bypass_document_validation", "allowDiskUse": "allow_disk_use",
               "maxTimeMS": "max_time_ms", "let": "let", "upsert": "upsert", "sort": "sort", "projection": "projection",
               "hint": "hint", "collation": "collation", "comment": "comment", "skip": "skip", "limit": "limit",
               "ordered": "ordered", "session": "session"}
    positional = {"filter", "update", "replacement", "document", "documents", "pipeline", "fieldName", "requests",
                  "collection", "keys", "name", "command", "commandName", "readPreference"}
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
    if name == "runCommand":
        kwargs.pop("comment", None)
        return target.command(args["command"], **({"session": args["session"]} if "session" in args else {}))
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
    for label in expected.get("errorLabelsContain", []):
        assert isinstance(error, PyMongoError) and error.has_error_label(label), (label, repr(error))
    for label in expected.get("errorLabelsOmit", []):
        assert not (isinstance(error, PyMongoError) and error.has_error_label(label)), (label, repr(error))
    if "errorContains" in expected:
        assert expected["errorContains"].lower() in str(error).lower(), repr(error)
    if "expectResult" in expected and isinstance(error, BulkWriteError):
        d = error.details
        partial = {"insertedCount": d["nInserted"], "deletedCount": d["nRemoved"], "matchedCount": d["nMatched"],
                   "modifiedCount": d["nModified"], "upsertedCount": d["nUpserted"],
                   "upsertedIds": {str(u["index"]): u["_id"] for u in d.get("upserted", [])}}
        assert matches(expected["expectResult"], partial), (expected["expectResult"], partial)


def create_entities(server, entities, clients, specs):
    """Makes the clients, databases, collections and sessions a test names."""
    for entity in specs:
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
                e["collectionName"], write_concern=write_concern(concern) if concern else None)
        elif kind == "session":
            options = e.get("sessionOptions", {})
            defaults = options.get("defaultTransactionOptions")
            entities[e["id"]] = entities[e["client"]].start_session(
                causal_consistency=options.get("causalConsistency"),
                default_transaction_options=TransactionOptions(**transaction_options(defaults))
                if defaults else None)
        else:
            raise Unsupported(f"entity {kind}")


def run_checked(entities, op, setup, reraise=False):
    """Runs one operation and checks its result or error; an unexpected
    error is raised as it came when `reraise` (a withTransaction callback's
    errors go back to the driver, which decides on retrying)."""
    try:
        result = run_operation(entities, op, setup)
        error = None
    except (PyMongoError, TypeError, ValueError) as e:
        result, error = None, e
    if "expectError" in op:
        assert error is not None, f"{op['name']} should have failed; it returned {result!r}"
        check_error(op["expectError"], error)
        if reraise:
            raise error
        return
    if error is not None and reraise:
        raise error
    if error is not None:
        raise AssertionError(f"{op['name']} failed: {error!r}") from error
    if "expectResult" in op:
        assert matches(op["expectResult"], result), (op["expectResult"], result)


def test_crud_spec(spec_case, server):
    filename, spec, test = spec_case
    skips = load_skips()
    reason = skips.get((filename, test["description"])) or skips.get((filename, "*"))
    if reason:
        pytest.skip(reason)
    if not runnable(spec.get("runOnRequirements")) or not runnable(test.get("runOnRequirements")):
        pytest.skip("runOnRequirements exclude MongoDB 6.0 replica sets")
    if test.get("skipReason"):
        pytest.skip(test["skipReason"])
    entities, clients = {}, []
    try:
        entities.update({"$server": server, "$clients": clients})
        try:
            create_entities(server, entities, clients, spec.get("createEntities", []))
        except Unsupported as e:
            pytest.skip(f"the runner does not implement {e}")
        setup = server.client()
        clients.append(setup)
        # As the unified runner does: no transaction of an earlier test stays open.
        setup.admin.command("killAllSessions", [])
        for data in spec.get("initialData", []):
            db = setup[data["databaseName"]]
            db.drop_collection(data["collectionName"])
            db.create_collection(data["collectionName"])
            if data["documents"]:
                db[data["collectionName"]].insert_many(data["documents"])
        for op in test["operations"]:
            try:
                run_checked(entities, op, setup)
            except Unsupported as e:
                pytest.skip(f"the runner does not implement {e}")
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
