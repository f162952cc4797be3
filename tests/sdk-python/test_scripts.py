"""Stored procedures, triggers and user-defined functions through the Python SDK."""
import pytest
from azure.cosmos import documents, exceptions

from conftest import unique

BULK_CREATE = """
function bulkCreate(docs) {
    var collection = getContext().getCollection();
    var created = 0;
    function next(i) {
        if (i >= docs.length) {
            getContext().getResponse().setBody({ created: created });
            return;
        }
        var accepted = collection.createDocument(collection.getSelfLink(), docs[i], function (err) {
            if (err) throw err;
            created++;
            next(i + 1);
        });
        if (!accepted) throw new Error("not accepted");
    }
    next(0);
}
"""

COUNT_AND_TOUCH = """
function countAndTouch(prefix) {
    var collection = getContext().getCollection();
    collection.queryDocuments(collection.getSelfLink(),
        { query: "SELECT * FROM r WHERE STARTSWITH(r.id, @p)", parameters: [{ name: "@p", value: prefix }] },
        {},
        function (err, docs) {
            if (err) throw err;
            docs.forEach(function (d) {
                d.touched = true;
                collection.replaceDocument(d._self, d, function (e) { if (e) throw e; });
            });
            console.log("touched %s", docs.length);
            getContext().getResponse().setBody(docs.length);
        });
}
"""


def sproc(container, sid, body):
    return container.scripts.create_stored_procedure(body={"id": sid, "body": body})


def test_stored_procedure_resources(container):
    created = sproc(container, "hello", "function () { getContext().getResponse().setBody('hi'); }")
    assert created["id"] == "hello" and created["_rid"] and created["_etag"]
    assert created["_self"].endswith(f"/sprocs/{created['_rid']}/")
    with pytest.raises(exceptions.CosmosResourceExistsError):
        sproc(container, "hello", "function () {}")
    assert container.scripts.get_stored_procedure("hello")["body"].startswith("function")
    sproc(container, "other", "function () {}")
    assert sorted(s["id"] for s in container.scripts.list_stored_procedures()) == ["hello", "other"]
    found = list(
        container.scripts.query_stored_procedures(
            "SELECT * FROM s WHERE s.id = @id", parameters=[{"name": "@id", "value": "other"}]
        )
    )
    assert [s["id"] for s in found] == ["other"]
    replaced = container.scripts.replace_stored_procedure(
        "hello", {"id": "hello", "body": "function () { getContext().getResponse().setBody('bye'); }"}
    )
    assert replaced["_rid"] == created["_rid"] and replaced["_etag"] != created["_etag"]
    assert container.scripts.execute_stored_procedure("hello", partition_key="a") == "bye"
    container.scripts.delete_stored_procedure("other")
    with pytest.raises(exceptions.CosmosResourceNotFoundError):
        container.scripts.get_stored_procedure("other")
    with pytest.raises(exceptions.CosmosResourceNotFoundError):
        container.scripts.execute_stored_procedure("other", partition_key="a")
    # The service stores a script's source as sent (any text) and compiles
    # it when it runs: a broken one fails then, with 400.
    assert sproc(container, "broken", "function ( {")["body"] == "function ( {"
    with pytest.raises(exceptions.CosmosHttpResponseError) as bad:
        container.scripts.execute_stored_procedure("broken", partition_key="a")
    assert bad.value.status_code == 400


def test_script_bodies_are_stored_as_sent(container):
    # Method shorthand and text that is not JavaScript at all.
    trigger = container.scripts.create_trigger({"id": "t", "body": "serverScript() { var x = 10; }",
                                                "triggerType": "pre", "triggerOperation": "all"})
    assert trigger["body"] == "serverScript() { var x = 10; }"
    # Properties keep the client's casing.
    assert (trigger["triggerType"], trigger["triggerOperation"]) == ("pre", "all")
    text = "Line Separator (\u2028) & Paragraph Separator (\u2029) & Next Line (\x85)"
    created = container.scripts.create_stored_procedure({"id": "text", "body": text})
    assert container.scripts.get_stored_procedure(created["id"])["body"] == text
    # A method runs as its function.
    container.scripts.create_stored_procedure(
        {"id": "method", "body": "run(x) { getContext().getResponse().setBody(x + 1); }"})
    assert container.scripts.execute_stored_procedure("method", params=[1], partition_key="a") == 2
    # A lower-case trigger fires as its type says.
    container.scripts.create_trigger({"id": "stamp", "triggerType": "pre", "triggerOperation": "create",
                                      "body": "function () { var r = getContext().getRequest(); "
                                              "var d = r.getBody(); d.stamped = true; r.setBody(d); }"})
    doc = container.create_item({"id": "x", "pk": "a"}, pre_trigger_include="stamp")
    assert doc["stamped"] is True


def test_stored_procedure_writes_and_queries_its_partition(container):
    sproc(container, "bulk", BULK_CREATE)
    docs = [{"id": f"d{i}", "pk": "p", "n": i} for i in range(5)]
    result = container.scripts.execute_stored_procedure("bulk", params=[docs], partition_key="p")
    assert result == {"created": 5}
    assert container.read_item("d3", partition_key="p")["n"] == 3
    sproc(container, "touch", COUNT_AND_TOUCH)
    result = container.scripts.execute_stored_procedure(
        "touch", params=["d"], partition_key="p", enable_script_logging=True
    )
    assert result == 5
    headers = container.client_connection.last_response_headers
    assert headers["x-ms-documentdb-script-log-results"] == "touched%205"
    assert all(i.get("touched") for i in container.read_all_items())


def test_script_logging(container):
    sproc(
        container,
        "chatty",
        "function () { console.log('The value of %s is %s.', 'x', 1); console.log(' 100%% / {a}');"
        " getContext().getResponse().setBody('done'); }",
    )
    assert container.scripts.execute_stored_procedure("chatty", partition_key="p") == "done"
    headers = container.client_connection.last_response_headers
    assert "x-ms-documentdb-script-log-results" not in headers
    container.scripts.execute_stored_procedure("chatty", partition_key="p", enable_script_logging=True)
    headers = container.client_connection.last_response_headers
    # Calls run together; a lone argument is no format string, so its %% stays;
    # the header is escaped as .NET's Uri.EscapeDataString escapes.
    assert headers["x-ms-documentdb-script-log-results"] == "The%20value%20of%20x%20is%201.%20100%25%25%20%2F%20%7Ba%7D"


def test_stored_procedure_response_body(container):
    sproc(container, "digits", "function () { for (var i = 0; i < 10; i++) getContext().getResponse().appendValue('Body', i); }")
    assert container.scripts.execute_stored_procedure("digits", partition_key="p") == "0123456789"
    sproc(container, "sum", "function () { var r = getContext().getResponse(); r.setBody(1); r.appendBody(2); }")
    assert container.scripts.execute_stored_procedure("sum", partition_key="p") == 3
    sproc(container, "silent", "function () { }")
    assert container.scripts.execute_stored_procedure("silent", partition_key="p") == ""


def test_stored_procedure_is_all_or_nothing(container):
    sproc(container, "bulk", BULK_CREATE)
    container.create_item({"id": "d2", "pk": "p"})
    docs = [{"id": f"d{i}", "pk": "p"} for i in range(4)]
    with pytest.raises(exceptions.CosmosResourceExistsError):
        container.scripts.execute_stored_procedure("bulk", params=[docs], partition_key="p")
    # d0 and d1 were created before the conflict and rolled back with it.
    assert sorted(i["id"] for i in container.read_all_items()) == ["d2"]


def test_stored_procedure_stays_in_its_partition(container):
    sproc(container, "bulk", BULK_CREATE)
    with pytest.raises(exceptions.CosmosHttpResponseError) as err:
        container.scripts.execute_stored_procedure(
            "bulk", params=[[{"id": "x", "pk": "elsewhere"}]], partition_key="p"
        )
    assert err.value.status_code == 400
    assert list(container.read_all_items()) == []


def test_script_failures_are_reported(container):
    sproc(container, "throws", "function () { throw new Error('boom'); }")
    with pytest.raises(exceptions.CosmosHttpResponseError) as err:
        container.scripts.execute_stored_procedure("throws", partition_key="p")
    assert err.value.status_code == 400
    assert "boom" in err.value.message
    sproc(container, "spins", "function () { while (true) {} }")
    with pytest.raises(exceptions.CosmosHttpResponseError) as err:
        container.scripts.execute_stored_procedure("spins", partition_key="p")
    assert err.value.status_code == 408
    # The server is still there and still serves.
    container.create_item({"id": "alive", "pk": "p"})


PRE_STAMP = """
function stamp() {
    var request = getContext().getRequest();
    var item = request.getBody();
    item.stampedBy = "pre";
    item.operation = request.getOperationType();
    request.setBody(item);
}
"""

POST_COUNT = """
function countWrites() {
    var collection = getContext().getCollection();
    var created = getContext().getResponse().getBody();
    collection.upsertDocument(collection.getSelfLink(),
        { id: "counter-" + created.pk, pk: created.pk, last: created.id },
        function (err) { if (err) throw err; });
}
"""


def trigger(container, tid, body, ttype, op):
    return container.scripts.create_trigger(
        body={"id": tid, "body": body, "triggerType": ttype, "triggerOperation": op}
    )


def test_triggers(container):
    trigger(container, "stamp", PRE_STAMP, documents.TriggerType.Pre, documents.TriggerOperation.All)
    trigger(container, "count", POST_COUNT, documents.TriggerType.Post, documents.TriggerOperation.Create)
    assert sorted(t["id"] for t in container.scripts.list_triggers()) == ["count", "stamp"]
    assert container.scripts.get_trigger("count")["triggerType"] == documents.TriggerType.Post  # as sent: "post"
    item = container.create_item(
        {"id": "a", "pk": "p"}, pre_trigger_include="stamp", post_trigger_include="count"
    )
    assert item["stampedBy"] == "pre" and item["operation"] == "Create"
    assert container.read_item("counter-p", partition_key="p")["last"] == "a"
    # Without the header, no trigger runs.
    plain = container.create_item({"id": "b", "pk": "p"})
    assert "stampedBy" not in plain
    # A trigger for creates does not run on a replace.
    with pytest.raises(exceptions.CosmosHttpResponseError) as err:
        container.replace_item("b", {"id": "b", "pk": "p"}, post_trigger_include="count")
    assert err.value.status_code == 400
    replaced = container.replace_item("b", {"id": "b", "pk": "p"}, pre_trigger_include="stamp")
    assert replaced["operation"] == "Replace"
    # A missing trigger is refused and nothing is written.
    with pytest.raises(exceptions.CosmosResourceNotFoundError):
        container.create_item({"id": "c", "pk": "p"}, pre_trigger_include="missing")
    with pytest.raises(exceptions.CosmosResourceNotFoundError):
        container.read_item("c", partition_key="p")


def test_post_triggers_see_the_request_and_the_response(container):
    trigger(
        container,
        "upper",
        "function () { var r = getContext().getRequest(); var d = r.getBody(); d.id = d.id.toUpperCase(); r.setBody(d); }",
        "Pre",
        "All",
    )
    trigger(
        container,
        "check",
        "function () { var pre = getContext().getRequest().getBody();"
        " var post = getContext().getResponse().getBody();"
        " if (pre.id !== 'A' || pre._rid !== undefined) throw 'request: ' + JSON.stringify(pre);"
        " if (post.id !== 'A' || !post._rid) throw 'response: ' + JSON.stringify(post); }",
        "Post",
        "All",
    )
    item = container.create_item({"id": "a", "pk": "p"}, pre_trigger_include="upper", post_trigger_include="check")
    assert item["id"] == "A" and item["_rid"]


def test_a_failing_trigger_rolls_the_write_back(container):
    trigger(container, "veto", "function () { throw new Error('vetoed'); }", "Post", "All")
    with pytest.raises(exceptions.CosmosHttpResponseError) as err:
        container.create_item({"id": "a", "pk": "p"}, post_trigger_include="veto")
    assert err.value.status_code == 400 and "vetoed" in err.value.message
    with pytest.raises(exceptions.CosmosResourceNotFoundError):
        container.read_item("a", partition_key="p")
    container.create_item({"id": "kept", "pk": "p"})
    with pytest.raises(exceptions.CosmosHttpResponseError):
        container.delete_item("kept", partition_key="p", post_trigger_include="veto")
    assert container.read_item("kept", partition_key="p")["id"] == "kept"


def test_user_defined_functions_in_queries(container):
    container.scripts.create_user_defined_function(
        body={"id": "tax", "body": "function (price) { return price * 0.25; }"}
    )
    container.scripts.create_user_defined_function(
        body={"id": "label", "body": "function (name, n) { return name.toUpperCase() + '#' + n; }"}
    )
    assert sorted(u["id"] for u in container.scripts.list_user_defined_functions()) == ["label", "tax"]
    for i in range(4):
        container.create_item({"id": f"i{i}", "pk": f"p{i % 2}", "price": 100 * i, "name": "x"})
    rows = list(
        container.query_items(
            "SELECT VALUE udf.tax(c.price) FROM c WHERE udf.tax(c.price) > 30",
            enable_cross_partition_query=True,
        )
    )
    assert sorted(rows) == [50, 75]
    rows = list(
        container.query_items(
            "SELECT c.id, udf.label(c.name, c.price) AS l FROM c WHERE c.id = 'i1'",
            partition_key="p1",
        )
    )
    assert rows == [{"id": "i1", "l": "X#100"}]
    with pytest.raises(exceptions.CosmosHttpResponseError) as err:
        list(container.query_items("SELECT VALUE udf.nope(c.price) FROM c", partition_key="p0"))
    assert err.value.status_code == 400


def test_scripts_go_with_their_container(database):
    from azure.cosmos import PartitionKey

    name = unique("scripted")
    first = database.create_container(name, PartitionKey(path="/pk"))
    sproc(first, "s", "function () {}")
    database.delete_container(name)
    again = database.create_container(name, PartitionKey(path="/pk"))
    assert list(again.scripts.list_stored_procedures()) == []
