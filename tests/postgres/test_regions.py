"""Regions: gateways over one PostgreSQL each name a region; the account
lists every live one, the SDK routes by its preferred locations, and when
the preferred region's gateway dies the SDK carries on through the next
one without an error reaching the application."""
import re

import pytest
import requests
from azure.cosmos import CosmosClient, PartitionKey

from conftest import KEY
from server import Server

WEST, NORTH = "West Europe", "North Europe"


def created_items(gateway):
    """Item creates the gateway has answered, from its /metrics."""
    text = requests.get(gateway.endpoint + "metrics", verify=False).text
    total = 0.0
    for line in text.splitlines():
        if line.startswith("cosmonaut_requests_total{") and 'resource_type="docs"' in line \
                and 'operation="Create"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


@pytest.fixture()
def regions(postgres, tmp_path):
    url = postgres.database()
    west = Server(str(tmp_path / "west"), extra_args=["--store", url, "--region", WEST]).start()
    north = Server(str(tmp_path / "north"), extra_args=["--store", url, "--region", NORTH]).start()
    yield west, north
    for gateway in (west, north):
        if gateway.process.poll() is None:
            gateway.stop()


def test_the_sdk_writes_to_its_preferred_region_and_fails_over(regions):
    west, north = regions
    client = CosmosClient(west.endpoint, KEY, connection_verify=False,
                          preferred_locations=[NORTH, WEST], multiple_write_locations=True)
    account = client.get_database_account()
    assert {loc["name"] for loc in account.WritableLocations} == {WEST, NORTH}
    assert {loc["name"] for loc in account.ReadableLocations} == {WEST, NORTH}
    assert account._EnableMultipleWritableLocations is True

    container = client.create_database("regions").create_container("items", PartitionKey(path="/pk"))
    before = created_items(north)
    for n in range(20):
        container.create_item({"id": f"a{n}", "pk": "p"})
    assert created_items(north) - before >= 20, "writes did not go to the preferred region"

    north.kill()
    for n in range(20):
        container.create_item({"id": f"b{n}", "pk": "p"})
    ids = {item["id"] for item in container.query_items("SELECT c.id FROM c", partition_key="p")}
    assert ids == {f"a{n}" for n in range(20)} | {f"b{n}" for n in range(20)}


def test_a_stopped_gateway_drops_out_of_the_account(regions):
    west, north = regions
    rest_account = lambda: CosmosClient(west.endpoint, KEY, connection_verify=False).get_database_account()
    assert {loc["name"] for loc in rest_account().ReadableLocations} == {WEST, NORTH}
    assert north.stop() == 0
    account = rest_account()
    assert [loc["name"] for loc in account.ReadableLocations] == [WEST]
    assert account._EnableMultipleWritableLocations is False
