"""Throughput offers through the Python SDK: read and replace a container's RU/s."""
import pytest
from azure.cosmos import PartitionKey, exceptions

from conftest import unique


def test_read_and_replace_container_throughput(database):
    c = database.create_container(unique("ru"), PartitionKey(path="/pk"), offer_throughput=800)
    assert c.get_throughput().offer_throughput == 800
    assert c.replace_throughput(1200).offer_throughput == 1200
    assert c.get_throughput().offer_throughput == 1200
    default = database.create_container(unique("ru"), PartitionKey(path="/pk"))
    assert default.get_throughput().offer_throughput == 400
    with pytest.raises(exceptions.CosmosHttpResponseError) as err:
        c.replace_throughput(450)
    assert err.value.status_code == 400
    assert c.get_throughput().offer_throughput == 1200


def offers_of(rest, resource_self):
    r = rest.request(
        "POST", "/offers", "offers", "",
        body={"query": "SELECT * FROM r WHERE r.resource = @link",
              "parameters": [{"name": "@link", "value": resource_self}]},
        headers={"content-type": "application/query+json", "x-ms-documentdb-isquery": "true"},
    )
    assert r.status_code == 200, r.text
    return r.json()["Offers"]


def test_shared_database_throughput(client, rest):
    db = client.create_database(unique("shared"), offer_throughput=1000)
    try:
        assert db.get_throughput().offer_throughput == 1000
        shared = db.create_container(unique("s"), PartitionKey(path="/pk"))
        # A container sharing its database's throughput has no offer of its own.
        # (The Python SDK's get_throughput fails on its own retry path then, so ask directly.)
        assert offers_of(rest, shared.read()["_self"]) == []
        dedicated = db.create_container(unique("d"), PartitionKey(path="/pk"), offer_throughput=500)
        assert dedicated.get_throughput().offer_throughput == 500
        assert db.replace_throughput(2000).offer_throughput == 2000
        assert db.get_throughput().offer_throughput == 2000
        shared.create_item({"id": "works", "pk": "p"})
    finally:
        client.delete_database(db.id)
    plain = client.create_database(unique("plain"))
    try:
        assert offers_of(rest, plain.read()["_self"]) == []
    finally:
        client.delete_database(plain.id)


def test_autoscale_throughput(client, database):
    from azure.cosmos import ThroughputProperties

    c = database.create_container(
        unique("auto"), PartitionKey(path="/pk"), offer_throughput=ThroughputProperties(auto_scale_max_throughput=4000)
    )
    props = c.get_throughput()
    assert props.auto_scale_max_throughput == 4000
    assert props.properties["content"]["offerThroughput"] == 400  # a tenth of the maximum
    replaced = c.replace_throughput(ThroughputProperties(auto_scale_max_throughput=6000))
    assert c.get_throughput().auto_scale_max_throughput == 6000
    with pytest.raises(exceptions.CosmosHttpResponseError) as err:
        c.replace_throughput(ThroughputProperties(auto_scale_max_throughput=1500))
    assert err.value.status_code == 400
    with pytest.raises(exceptions.CosmosHttpResponseError) as err:
        database.create_container(
            unique("auto"), PartitionKey(path="/pk"), offer_throughput=ThroughputProperties(auto_scale_max_throughput=999)
        )
    assert err.value.status_code == 400
    db = client.create_database(unique("autodb"), offer_throughput=ThroughputProperties(auto_scale_max_throughput=1000))
    try:
        assert db.get_throughput().auto_scale_max_throughput == 1000
    finally:
        client.delete_database(db.id)
    assert replaced is not None


def test_autoscale_increment_percent_round_trips(client, database):
    from azure.cosmos import ThroughputProperties

    c = database.create_container(unique("inc"), PartitionKey(path="/pk"), offer_throughput=ThroughputProperties(
        auto_scale_max_throughput=1000, auto_scale_increment_percent=3))
    assert c.get_throughput().auto_scale_increment_percent == 3
    c.replace_throughput(ThroughputProperties(auto_scale_max_throughput=2000, auto_scale_increment_percent=5))
    props = c.get_throughput()
    assert (props.auto_scale_max_throughput, props.auto_scale_increment_percent) == (2000, 5)
    db = client.create_database(unique("incdb"), offer_throughput=ThroughputProperties(
        auto_scale_max_throughput=1000, auto_scale_increment_percent=2))
    try:
        assert db.get_throughput().auto_scale_increment_percent == 2
    finally:
        client.delete_database(db.id)
