"""Fixtures for driving a running Cosmonaut with the Python SDK.

scripts/test.sh starts the server and sets COSMONAUT_ENDPOINT, COSMONAUT_KEY,
COSMONAUT_PARTITIONS and COSMONAUT_BIN. With several servers serving one account
(gateways over one PostgreSQL), COSMONAUT_ENDPOINTS lists them, comma-separated,
and each test's clients go to the next one in turn, so the suite spreads its
requests over all of them.
"""
import itertools
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
ENDPOINTS = [e for e in os.environ.get("COSMONAUT_ENDPOINTS", ENDPOINT).split(",") if e]
_turns = itertools.count()


def next_endpoint():
    return ENDPOINTS[next(_turns) % len(ENDPOINTS)]


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def clients():
    """One SDK client per server, made once."""
    return {e: CosmosClient(e, KEY, connection_verify=False) for e in ENDPOINTS}


@pytest.fixture()
def client(clients):
    return clients[next_endpoint()]


@pytest.fixture(scope="session")
def rests():
    return {e: RestClient(e, KEY) for e in ENDPOINTS}


@pytest.fixture()
def rest(rests):
    return rests[next_endpoint()]


@pytest.fixture()
def database(client):
    db = client.create_database(unique("py-db"))
    yield db
    client.delete_database(db.id)


@pytest.fixture()
def container(database):
    return database.create_container(unique("items"), PartitionKey(path="/pk"))
