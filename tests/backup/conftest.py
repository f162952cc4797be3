"""Backup targets for the backup tests, each a real server on loopback:
a folder, Azurite (Azure Blob Storage) from npm, and moto's S3 server from PyPI.

A target is (url, env): the --backup URL and the environment that carries
its credentials, as a deployment would set them."""
import os
import socket
import subprocess
import sys
import time
import uuid

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "sdk-python"))

AZURITE_KEY = ("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/"
               "KBHBeksoGMGw==")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, process, name, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{name} did not listen on {port}")


def stop(process):
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="session")
def azurite(tmp_path_factory):
    port = free_port()
    workdir = tmp_path_factory.mktemp("azurite")
    binary = os.path.join(HERE, "node_modules", ".bin", "azurite-blob")
    process = subprocess.Popen(
        [binary, "--blobHost", "127.0.0.1", "--blobPort", str(port), "--location", str(workdir),
         "--skipApiVersionCheck", "--silent"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, process, "azurite")
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process)


@pytest.fixture(scope="session")
def moto(tmp_path_factory):
    port = free_port()
    binary = os.path.join(os.path.dirname(sys.executable), "moto_server")
    process = subprocess.Popen([binary, "-H", "127.0.0.1", "-p", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, process, "moto")
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process)


def azure_target(blob_url):
    from azure.storage.blob import BlobServiceClient
    container = "backups-" + uuid.uuid4().hex[:10]
    conn = (f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={AZURITE_KEY};"
            f"BlobEndpoint={blob_url}/devstoreaccount1;")
    BlobServiceClient.from_connection_string(conn).create_container(container)
    env = {"AZURE_STORAGE_USE_EMULATOR": "true", "AZURITE_BLOB_STORAGE_URL": blob_url}
    return f"az://{container}/cosmonaut", env


def s3_target(endpoint):
    import boto3
    bucket = "backups-" + uuid.uuid4().hex[:10]
    env = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
           "AWS_REGION": "us-east-1", "AWS_ENDPOINT": endpoint, "AWS_ALLOW_HTTP": "true"}
    boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="test",
                 aws_secret_access_key="test", region_name="us-east-1").create_bucket(Bucket=bucket)
    return f"s3://{bucket}/cosmonaut", env


@pytest.fixture(params=["folder", "azure", "s3"])
def target(request, tmp_path):
    """A fresh, empty backup location of each kind."""
    if request.param == "folder":
        return f"file://{tmp_path / 'backup'}", {}
    if request.param == "azure":
        return azure_target(request.getfixturevalue("azurite"))
    return s3_target(request.getfixturevalue("moto"))


@pytest.fixture()
def folder_target(tmp_path):
    return f"file://{tmp_path / 'backup'}", {}
