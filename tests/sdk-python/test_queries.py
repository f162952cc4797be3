"""The query language through the Python SDK, in one partition key and across all."""
import pytest
from azure.cosmos import PartitionKey, exceptions

from conftest import PARTITIONS, unique

PEOPLE = [
    {"id": "1", "team": "red", "name": "Ana", "age": 31, "tags": ["x", "y"], "address": {"city": "Oslo"}},
    {"id": "2", "team": "red", "name": "Bo", "age": 25, "tags": ["y"]},
    {"id": "3", "team": "blue", "name": "Cy", "age": 42, "tags": [], "address": {"city": "Rome"}},
    {"id": "4", "team": "blue", "name": "Di", "age": "n/a", "tags": ["x"]},
    {"id": "5", "team": "green", "name": "Ed", "age": 25, "tags": ["z"], "address": None},
]


@pytest.fixture()
def people(database):
    c = database.create_container(
        unique("people"),
        PartitionKey(path="/team"),
        indexing_policy={"compositeIndexes": [[{"path": "/age"}, {"path": "/id"}]]},
    )
    for p in PEOPLE:
        c.create_item(p)
    return c


def q(container, text, partition_key=None, **kwargs):
    if partition_key is None:
        kwargs["enable_cross_partition_query"] = True
    else:
        kwargs["partition_key"] = partition_key
    return list(container.query_items(text, **kwargs))


def test_projection_and_filters(people):
    assert sorted(q(people, "SELECT VALUE c.name FROM c WHERE c.age >= 30")) == ["Ana", "Cy"]
    assert q(people, "SELECT c.name, c.address.city AS city FROM c WHERE c.id = '1'") == [{"name": "Ana", "city": "Oslo"}]
    assert q(people, "SELECT c.name FROM c WHERE c.id = '2' AND NOT IS_DEFINED(c.address)") == [{"name": "Bo"}]
    assert q(people, "SELECT VALUE c.id FROM c WHERE c.address = null") == ["5"]
    assert sorted(q(people, "SELECT VALUE c.id FROM c WHERE STARTSWITH(c.name, 'a', true) OR c.age = 42")) == ["1", "3"]
    assert sorted(q(people, "SELECT VALUE c.id FROM c WHERE ARRAY_CONTAINS(c.tags, 'y')")) == ["1", "2"]
    assert q(people, "SELECT VALUE c.id FROM c WHERE c.name LIKE 'D_'") == ["4"]


def test_order_by_top_offset_in_one_partition(people):
    assert q(people, "SELECT VALUE c.name FROM c ORDER BY c.age DESC", partition_key="red") == ["Ana", "Bo"]
    assert q(people, "SELECT TOP 1 VALUE c.name FROM c ORDER BY c.name", partition_key="blue") == ["Cy"]
    assert q(people, "SELECT VALUE c.name FROM c ORDER BY c.name OFFSET 1 LIMIT 1", partition_key="red") == ["Bo"]


def test_order_by_needs_the_indexes_the_service_needs(people):
    # Several ORDER BY paths need a composite index in the same (or fully inverted) order.
    assert q(people, "SELECT VALUE c.id FROM c ORDER BY c.age DESC, c.id DESC", partition_key="red") == ["1", "2"]
    with pytest.raises(exceptions.CosmosHttpResponseError) as err:
        q(people, "SELECT VALUE c.id FROM c ORDER BY c.age, c.id DESC", partition_key="red")
    assert err.value.status_code == 400
    assert "composite index" in err.value.message


def test_cross_partition_ordering_and_aggregates(people):
    # Sent without a partition key range, the server computes the whole answer.
    assert q(people, "SELECT VALUE c.id FROM c ORDER BY c.age, c.id") == ["2", "5", "1", "3", "4"]
    assert q(people, "SELECT VALUE COUNT(1) FROM c") == [5]
    assert q(people, "SELECT VALUE MAX(c.age) FROM c") == ["n/a"]
    assert q(people, "SELECT VALUE AVG(c.age) FROM c WHERE IS_NUMBER(c.age)") == [30.75]
    assert sorted(q(people, "SELECT DISTINCT VALUE c.team FROM c")) == ["blue", "green", "red"]
    assert q(people, "SELECT VALUE c.id FROM c ORDER BY c.id OFFSET 1 LIMIT 2") == ["2", "3"]
    assert q(people, "SELECT TOP 2 VALUE c.name FROM c ORDER BY c.name DESC") == ["Ed", "Di"]


def test_group_by(people):
    # Within one partition key the server answers whole.
    groups = q(people, "SELECT c.team, COUNT(1) AS n FROM c GROUP BY c.team", partition_key="red")
    assert groups == [{"team": "red", "n": 2}]
    if PARTITIONS == 1:
        groups = q(people, "SELECT c.team, COUNT(1) AS n FROM c GROUP BY c.team")
        assert sorted((g["team"], g["n"]) for g in groups) == [("blue", 2), ("green", 1), ("red", 2)]
    else:
        # Across partitions the client merges, and this SDK does not
        # advertise GROUP BY, so the service refuses the plan.
        with pytest.raises(exceptions.CosmosHttpResponseError) as err:
            q(people, "SELECT c.team, COUNT(1) AS n FROM c GROUP BY c.team")
        assert err.value.status_code == 400
        assert "GroupBy" in err.value.message
    assert sorted(q(people, "SELECT DISTINCT VALUE c.age FROM c WHERE IS_NUMBER(c.age)")) == [25, 31, 42]


def test_joins_and_subqueries(people):
    pairs = q(people, "SELECT c.id, t AS tag FROM c JOIN t IN c.tags WHERE t != 'z'")
    assert sorted((p["id"], p["tag"]) for p in pairs) == [("1", "x"), ("1", "y"), ("2", "y"), ("4", "x")]
    assert sorted(q(people, "SELECT VALUE c.id FROM c WHERE EXISTS(SELECT VALUE t FROM t IN c.tags WHERE t = 'x')")) == ["1", "4"]
    counts = q(people, "SELECT c.id, ARRAY_LENGTH(c.tags) AS n FROM c WHERE c.team = 'red'")
    assert sorted((x["id"], x["n"]) for x in counts) == [("1", 2), ("2", 1)]


def test_parameters_and_paging(people):
    result = q(people, "SELECT VALUE c.id FROM c WHERE c.age = @age ORDER BY c.id",
               parameters=[{"name": "@age", "value": 25}])
    assert result == ["2", "5"]
    pages = list(people.query_items("SELECT * FROM c ORDER BY c.id", enable_cross_partition_query=True,
                                    max_item_count=2).by_page())
    assert [d["id"] for page in pages for d in page] == ["1", "2", "3", "4", "5"]
    assert len(pages) == 3


def test_cross_partition_query_needs_a_plan(people, rest):
    link = people.container_link.strip("/")
    r = rest.request("POST", f"/{link}/docs", "docs", link, body={"query": "SELECT VALUE COUNT(1) FROM c"},
                     headers={"x-ms-documentdb-isquery": "True", "content-type": "application/query+json",
                              "x-ms-documentdb-query-enablecrosspartition": "True"})
    if PARTITIONS == 1:
        assert r.status_code == 200 and r.json()["Documents"] == [5]
    else:
        assert r.status_code == 400 and r.headers["x-ms-substatus"] == "1004"
    plan = rest.request("POST", f"/{link}/docs", "docs", link, body={"query": "SELECT VALUE MAX(c.age) FROM c"},
                        headers={"x-ms-cosmos-is-query-plan-request": "True", "content-type": "application/query+json"})
    assert plan.status_code == 200
    info = plan.json()["queryInfo"]
    assert info["aggregates"] == ["Max"] and info["hasSelectValue"] is True
    assert plan.json()["queryRanges"] == [{"min": "", "max": "FF", "isMinInclusive": True, "isMaxInclusive": False}]


@pytest.mark.parametrize("bad", [
    "SELECT * FORM c",
    "SELECT VALUE NOSUCHFUNCTION(c.a) FROM c",
    "SELECT * FROM c WHERE x.a = 1",
    "SELECT * FROM c WHERE c.a = @missing",
    "SELECT c.team, COUNT(1) FROM c",
])
def test_bad_queries_are_400(people, bad):
    with pytest.raises(exceptions.CosmosHttpResponseError) as err:
        q(people, bad)
    assert err.value.status_code == 400


def test_equality_queries_read_only_what_the_index_names(database):
    c = database.create_container(unique("indexed"), PartitionKey(path="/pk"))
    for i in range(60):
        c.create_item({"id": str(i), "pk": "p", "color": "red" if i % 10 == 0 else "blue"})
    result = list(c.query_items("SELECT VALUE c.id FROM c WHERE c.color = 'red'", partition_key="p",
                                populate_query_metrics=True))
    assert sorted(result, key=int) == ["0", "10", "20", "30", "40", "50"]
    metrics = c.client_connection.last_response_headers["x-ms-documentdb-query-metrics"]
    fields = dict(part.split("=") for part in metrics.split(";"))
    assert int(fields["retrievedDocumentCount"]) == 6
    assert float(fields["indexUtilizationRatio"]) == 1.0
    list(c.query_items("SELECT VALUE c.id FROM c WHERE c.color = 'red'", partition_key="p",
                       populate_index_metrics=True))
    report = c.client_connection.last_response_headers["x-ms-cosmos-index-utilization"]
    assert "/color/?" in str(report)


def test_query_charge_follows_the_work_done(database):
    from azure.cosmos import PartitionKey

    c = database.create_container(unique("ru"), PartitionKey(path="/pk"))
    for i in range(200):
        c.create_item({"id": f"i{i}", "pk": "p", "n": i})

    def charge(query):
        rows = list(c.query_items(query, partition_key="p"))
        assert len(rows) == 1
        return float(c.client_connection.last_response_headers["x-ms-request-charge"])

    indexed = charge("SELECT * FROM c WHERE c.n = 5")
    scanned = charge("SELECT * FROM c WHERE c.n * 2 = 10")
    assert 2 < indexed < 3
    assert scanned > indexed + 5


@pytest.fixture()
def spread(database):
    """Items over several physical partitions, whatever the server's default:
    40000 RU/s gives a container four, as the service splits by throughput."""
    c = database.create_container(unique("spread"), PartitionKey(path="/pk"), offer_throughput=40000)
    for i in range(20):
        c.create_item({"id": f"d{i:02}", "pk": f"p{i}", "n": i, "v": i // 4})
    return c


def test_cross_partition_shapes_the_plan_describes(spread):
    # TOP, OFFSET and LIMIT by parameter: the plan binds them.
    top = [{"name": "@n", "value": 3}]
    assert len(q(spread, "SELECT TOP @n * FROM c", parameters=top)) == 3
    assert q(spread, "SELECT TOP @n VALUE c.n FROM c ORDER BY c.n DESC", parameters=top) == [19, 18, 17]
    # Aggregates with TOP or ORDER BY: one merged row.
    assert q(spread, "SELECT TOP 10 VALUE COUNT(c.id) FROM c") == [20]
    assert q(spread, "SELECT VALUE SUM(c.n) FROM c WHERE IS_NUMBER(c.n) ORDER BY c.n") == [190]
    # DISTINCT with ORDER BY and OFFSET LIMIT: duplicates go before rows are counted off.
    assert q(spread, "SELECT DISTINCT VALUE c.v FROM c ORDER BY c.v OFFSET 1 LIMIT 3") == [1, 2, 3]
    assert q(spread, "SELECT DISTINCT TOP 2 VALUE c.v FROM c ORDER BY c.v DESC") == [4, 3]


def test_query_plan_binds_parameter_counts(spread, rest):
    link = spread.container_link.strip("/")
    body = {"query": "SELECT TOP @n * FROM c ORDER BY c.n", "parameters": [{"name": "@n", "value": 9}]}
    plan = rest.request("POST", f"/{link}/docs", "docs", link, body=body,
                        headers={"x-ms-cosmos-is-query-plan-request": "True",
                                 "content-type": "application/query+json"})
    assert plan.status_code == 200
    info = plan.json()["queryInfo"]
    assert info["top"] == 9 and info["orderBy"] == ["Ascending"]
    assert info["rewrittenQuery"].startswith("SELECT TOP 9 ")


def test_cross_partition_pages_stop_at_physical_partitions(spread):
    ranges = list(spread.client_connection._ReadPartitionKeyRanges(spread.container_link))
    pages = list(spread.query_items("SELECT * FROM c", enable_cross_partition_query=True).by_page())
    assert len(pages) == len(ranges) > 1
    assert sorted(d["id"] for page in pages for d in page) == [f"d{i:02}" for i in range(20)]


def test_metrics_count_what_was_read(database, rest):
    c = database.create_container(unique("metrics"), PartitionKey(path="/pk"))
    for i in range(5):
        c.create_item({"id": str(i), "pk": "p", "n": i})

    def metrics(query):
        list(c.query_items(query, partition_key="p", populate_query_metrics=True))
        header = c.client_connection.last_response_headers["x-ms-documentdb-query-metrics"]
        return dict(part.split("=") for part in header.split(";"))

    # A count the index answers reads no document.
    counted = metrics("SELECT VALUE COUNT(1) FROM c")
    assert counted["retrievedDocumentCount"] == "0" and counted["retrievedDocumentSize"] == "0"
    read = metrics("SELECT * FROM c")
    assert read["retrievedDocumentCount"] == "5" and int(read["retrievedDocumentSize"]) > 0
    # A partition key scope is served by the partition key's index.
    list(c.query_items("SELECT * FROM c", partition_key="p", populate_index_metrics=True))
    report = c.client_connection.last_response_headers["x-ms-cosmos-index-utilization"]
    assert any(i["IndexSpec"] == "/pk/?" for i in report["UtilizedSingleIndexes"])
    # The V2 request header (current .NET and JavaScript SDKs) gets URL-encoded JSON.
    link = c.container_link.strip("/")
    r = rest.request("POST", f"/{link}/docs", "docs", link, body={"query": "SELECT * FROM c WHERE c.n = 1"},
                     headers={"x-ms-documentdb-isquery": "True", "content-type": "application/query+json",
                              "x-ms-documentdb-partitionkey": '["p"]',
                              "x-ms-cosmos-populateindexmetrics-V2": "True"})
    assert r.status_code == 200
    import json
    import urllib.parse
    v2 = json.loads(urllib.parse.unquote(r.headers["x-ms-cosmos-index-utilization"]))
    specs = [i["IndexSpec"] for i in v2["Utilized"]["SingleIndexes"]]
    assert "/n/?" in specs and "/pk/?" in specs


def test_index_metrics_name_potential_indexes(database, rest):
    from azure.cosmos import PartitionKey

    c = database.create_container(
        unique("advice"),
        PartitionKey(path="/pk"),
        indexing_policy={
            "includedPaths": [{"path": "/*"}],
            "excludedPaths": [{"path": "/secret/?"}, {"path": '/"_etag"/?'}],
        },
    )
    for i in range(5):
        c.create_item({"id": f"i{i}", "pk": "p", "n": i, "name": f"n{i}", "secret": i})

    def report(query):
        list(c.query_items(query, partition_key="p", populate_index_metrics=True))
        return c.client_connection.last_response_headers["x-ms-cosmos-index-utilization"]

    # An equality and a range on two paths would be served by a composite index.
    advice = report('SELECT * FROM c WHERE c.n = 1 AND c.name > "a"')
    assert [i["IndexSpecs"] for i in advice["PotentialCompositeIndexes"]] == [["/n ASC", "/name ASC"]]
    assert advice["PotentialSingleIndexes"] == []
    # A filter on an excluded path wants that path's index.
    advice = report("SELECT * FROM c WHERE c.secret = 3")
    assert [i["IndexSpec"] for i in advice["PotentialSingleIndexes"]] == ["/secret/?"]
    # Two equalities need nothing more.
    advice = report("SELECT * FROM c WHERE c.n = 1 AND c.name = 'n1'")
    assert advice["PotentialCompositeIndexes"] == [] and advice["PotentialSingleIndexes"] == []
    # The V2 form groups them under Potential.
    link = c.container_link.strip("/")
    r = rest.request("POST", f"/{link}/docs", "docs", link,
                     body={"query": "SELECT * FROM c WHERE c.n = 1 ORDER BY c.name DESC"},
                     headers={"x-ms-documentdb-isquery": "True", "content-type": "application/query+json",
                              "x-ms-documentdb-partitionkey": '["p"]',
                              "x-ms-cosmos-populateindexmetrics-V2": "True"})
    assert r.status_code == 200, r.text
    import json
    import urllib.parse
    v2 = json.loads(urllib.parse.unquote(r.headers["x-ms-cosmos-index-utilization"]))
    assert v2["Potential"]["CompositeIndexes"] == [
        {"IndexSpecs": ["/n ASC", "/name DESC"], "IndexImpactScore": "High"}
    ]
