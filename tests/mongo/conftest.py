"""A real `cosmonaut serve` with its MongoDB endpoint (TLS and plain) for
pymongo, started once for the module; tests that kill or restart a server
start their own."""
import json
import os
import re
import sys
import tempfile
import uuid

import pytest
from pymongo import MongoClient

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "sdk-python"))

from server import Server  # noqa: E402


class MongoServer(Server):
    """A server started with --mongo-port 0 --mongo-plain-port 0; reads the
    MongoDB connection strings from its banner."""

    def __init__(self, data_dir, extra_args=()):
        super().__init__(data_dir, extra_args=["--mongo-port", "0", "--mongo-plain-port", "0",
                                               *extra_args])
        self.tls_url = self.plain_url = None

    def start(self, timeout=30):
        super().start(timeout)
        while self.plain_url is None:
            line = self.process.stdout.readline()
            assert line, f"no MongoDB line in the banner: {self.errors()}"
            match = re.search(r"MongoDB: (mongodb://\S+)", line)
            if match and "ssl=true" in match.group(1):
                self.tls_url = match.group(1)
            elif match:
                self.plain_url = match.group(1)
        return self

    def keys(self):
        with open(os.path.join(self.data_dir, "keys.json")) as f:
            return json.load(f)

    def client(self, **options):
        """A client of the plain port (the TLS one has its own tests)."""
        options.setdefault("serverSelectionTimeoutMS", 10000)
        return MongoClient(self.plain_url, **options)

    def port(self, tls=False):
        return int(re.search(r"@[^:]+:(\d+)/", self.tls_url if tls else self.plain_url).group(1))


@pytest.fixture(scope="session")
def server():
    data = tempfile.mkdtemp(prefix="cosmonaut-mongo-")
    srv = MongoServer(data).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def client(server):
    c = server.client()
    yield c
    c.close()


@pytest.fixture()
def db(client):
    name = f"t{uuid.uuid4().hex[:10]}"
    yield client[name]
    client.drop_database(name)


@pytest.fixture()
def coll(db):
    return db["items"]
