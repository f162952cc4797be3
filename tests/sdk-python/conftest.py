"""Fixtures for driving a running Cosmonaut with the Python SDK.

scripts/test.sh starts the server and sets COSMONAUT_ENDPOINT, COSMONAUT_KEY,
COSMONAUT_PARTITIONS and COSMONAUT_BIN.
"""
import os
import uuid

import pytest
from azure.cosmos import CosmosClient, PartitionKey

from rest import RestClient

ENDPOINT = os.environ.get("COSMONAUT_ENDPOINT", "https://localhost:8081/")
KEY = os.environ.get(
    "COSMONAUT_KEY",
    "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==",
)
PARTITIONS = int(os.environ.get("COSMONAUT_PARTITIONS", "1"))


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def client():
    return CosmosClient(ENDPOINT, KEY, connection_verify=False)


@pytest.fixture(scope="session")
def rest():
    return RestClient(ENDPOINT, KEY)


@pytest.fixture()
def database(client):
    db = client.create_database(unique("py-db"))
    yield db
    client.delete_database(db.id)


@pytest.fixture()
def container(database):
    return database.create_container(unique("items"), PartitionKey(path="/pk"))
