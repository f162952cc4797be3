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
