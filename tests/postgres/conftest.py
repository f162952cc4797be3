"""A PostgreSQL server and three Cosmonaut gateways over it, for the cluster tests.

tests/postgres/pg.sh makes and starts the PostgreSQL server (Debian's
package, loopback only); the gateways are real `cosmonaut serve --store`
processes sharing one database.
"""
import os
import subprocess
import sys
import uuid

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "sdk-python"))

from rest import RestClient  # noqa: E402
from server import Server  # noqa: E402

KEY = "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw=="
GATEWAYS = 3


class Postgres:
    def __init__(self, folder):
        self.folder = folder
        self.url = self._pg("start").strip()

    def _pg(self, action):
        return subprocess.run(["bash", os.path.join(HERE, "pg.sh"), action, self.folder],
                              check=True, capture_output=True, text=True).stdout

    def kill(self):
        """Stops the server at once, as a crash would."""
        self._pg("kill")

    def restart(self):
        self._pg("restart")

    def stop(self):
        self._pg("stop")

    def database(self):
        """A new database's URL."""
        name = "c" + uuid.uuid4().hex[:12]
        subprocess.run(["psql", self.url, "-qc", f"CREATE DATABASE {name}"], check=True)
        return self.url.replace("/postgres?", f"/{name}?")


@pytest.fixture(scope="module")
def postgres(tmp_path_factory):
    pg = Postgres(str(tmp_path_factory.mktemp("pg")))
    yield pg
    try:
        pg.stop()
    except subprocess.CalledProcessError:
        pass


class Cluster:
    def __init__(self, gateways, url):
        self.gateways = gateways
        self.url = url

    @property
    def rests(self):
        return [RestClient(g.endpoint, KEY) for g in self.gateways]


@pytest.fixture(scope="module")
def cluster(postgres, tmp_path_factory):
    url = postgres.database()
    gateways = [Server(str(tmp_path_factory.mktemp(f"gw{i}")),
                       extra_args=["--store", url, "--store-wait", "5s"]).start()
                for i in range(GATEWAYS)]
    yield Cluster(gateways, url)
    for g in gateways:
        if g.process.poll() is None:
            g.stop()
