"""Computed properties through the Python SDK: queryable, never stored, not in SELECT *."""
import pytest
from azure.cosmos import PartitionKey, exceptions

from conftest import unique


def test_computed_properties(database):
    c = database.create_container(
        unique("cp"),
        PartitionKey(path="/pk"),
        computed_properties=[
            {"name": "cp_lower", "query": "SELECT VALUE LOWER(c.name) FROM c"},
            {"name": "cp_total", "query": "SELECT VALUE r.price * r.qty FROM r"},
        ],
    )
    c.create_item({"id": "1", "pk": "p", "name": "Widget", "price": 2, "qty": 5})
    c.create_item({"id": "2", "pk": "p", "name": "GADGET", "price": 10, "qty": 1})
    q = lambda text: list(c.query_items(text, partition_key="p"))
    assert q("SELECT VALUE c.id FROM c WHERE c.cp_lower = 'gadget'") == ["2"]
    assert sorted(q("SELECT VALUE c.cp_total FROM c WHERE c.cp_total >= 10")) == [10, 10]
    assert q("SELECT c.id, c.cp_total FROM c WHERE c.id = '1'") == [{"id": "1", "cp_total": 10}]
    assert q("SELECT VALUE c.cp_lower FROM c ORDER BY c.cp_lower") == ["gadget", "widget"]
    star = q("SELECT * FROM c WHERE c.id = '1'")[0]
    assert "cp_lower" not in star and "cp_total" not in star
    assert "cp_lower" not in c.read_item("1", partition_key="p")
    assert c.read()["computedProperties"][0]["name"] == "cp_lower"


def test_invalid_computed_properties_are_refused(database):
    for bad in (
        [{"name": "cp", "query": "SELECT c.name FROM c"}],
        [{"name": "cp", "query": "SELECT VALUE c.name FROM c WHERE c.x = 1"}],
        [{"name": "_cp", "query": "SELECT VALUE c.name FROM c"}],
        [{"name": "cp", "query": "not a query"}],
    ):
        with pytest.raises(exceptions.CosmosHttpResponseError) as err:
            database.create_container(unique("cp"), PartitionKey(path="/pk"), computed_properties=bad)
        assert err.value.status_code == 400, bad


def test_computed_properties_are_indexed_when_named(database):
    c = database.create_container(
        unique("cpi"),
        PartitionKey(path="/pk"),
        computed_properties=[
            {"name": "cp_lower", "query": "SELECT VALUE LOWER(c.name) FROM c"},
            {"name": "cp_upper", "query": "SELECT VALUE UPPER(c.name) FROM c"},
        ],
        # cp_lower is named, so it is indexed; the wildcard does not index cp_upper.
        indexing_policy={"includedPaths": [{"path": "/*"}, {"path": "/cp_lower/?"}], "excludedPaths": []},
    )
    for i in range(40):
        c.create_item({"id": f"i{i}", "pk": "p", "name": f"Name{i}"})

    def read(query):
        rows = list(c.query_items(query, partition_key="p", populate_query_metrics=True))
        metrics = c.client_connection.last_response_headers["x-ms-documentdb-query-metrics"]
        fields = dict(kv.split("=") for kv in metrics.split(";"))
        return rows, int(fields["retrievedDocumentCount"])

    rows, retrieved = read("SELECT VALUE c.id FROM c WHERE c.cp_lower = 'name7'")
    assert rows == ["i7"] and retrieved == 1
    rows, retrieved = read("SELECT VALUE c.id FROM c WHERE c.cp_upper = 'NAME7'")
    assert rows == ["i7"] and retrieved == 40
    # Writes keep the computed entries in step.
    c.replace_item("i7", {"id": "i7", "pk": "p", "name": "Other"})
    assert read("SELECT VALUE c.id FROM c WHERE c.cp_lower = 'name7'")[0] == []
    assert read("SELECT VALUE c.id FROM c WHERE c.cp_lower = 'other'")[0] == ["i7"]
    # Changing the computed property rebuilds its entries.
    props = c.read()
    database.replace_container(
        c,
        PartitionKey(path="/pk"),
        computed_properties=[{"name": "cp_lower", "query": "SELECT VALUE CONCAT('x', LOWER(c.name)) FROM c"}],
        indexing_policy=props["indexingPolicy"],
    )
    rows, retrieved = read("SELECT VALUE c.id FROM c WHERE c.cp_lower = 'xname3'")
    assert rows == ["i3"] and retrieved == 1
