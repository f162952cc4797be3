"""Running Cosmonaut as a service: health probes, Prometheus metrics, JSON,
access and slow-query logs, certificate names, and the command line's
manners (a held data dir, a busy port, a closed pipe)."""
import json
import os
import socket
import ssl
import subprocess
import urllib.parse

import pytest
import requests
from azure.cosmos import CosmosClient, PartitionKey
from prometheus_client.parser import text_string_to_metric_families

from conftest import ENDPOINT, KEY, unique
from server import BINARY, Server


def get(endpoint, path, **kwargs):
    return requests.get(endpoint.rstrip("/") + path, verify=False, timeout=10, **kwargs)


def families(text):
    return {f.name: f for f in text_string_to_metric_families(text)}


def test_health_probes_need_no_key():
    live = get(ENDPOINT, "/health/live")
    assert live.status_code == 200 and live.json() == {"status": "live"}
    ready = get(ENDPOINT, "/health/ready")
    assert ready.status_code == 200 and ready.json() == {"status": "ready"}


def test_metrics_parse_as_prometheus_text(container):
    container.create_item({"id": "m1", "pk": "p"})
    container.read_item("m1", partition_key="p")
    found = families(get(ENDPOINT, "/metrics").text)
    requests_total = found["cosmonaut_requests"]
    created = [s for s in requests_total.samples
               if s.labels.get("operation") == "Create" and s.labels.get("resource_type") == "docs"
               and s.labels.get("status") == "201"]
    assert created and created[0].value >= 1 and created[0].labels["substatus"] == "0"
    assert found["cosmonaut_request_duration_seconds"].type == "histogram"
    units = found["cosmonaut_request_units"]
    assert any(s.name.endswith("_sum") and s.value > 0 for s in units.samples)
    documents = found["cosmonaut_container_documents"]
    mine = [s for s in documents.samples if s.labels["container"] == container.id]
    assert [s.value for s in mine] == [1]
    for name in ["cosmonaut_storage_memtable_bytes", "cosmonaut_storage_log_bytes",
                 "cosmonaut_storage_data_file_bytes", "cosmonaut_storage_degraded",
                 "cosmonaut_connections_open", "process_resident_memory_bytes"]:
        assert name in found, name
    assert found["cosmonaut_storage_degraded"].samples[0].value == 0


def own_server(tmp_path, *args, env=None):
    return Server(str(tmp_path / "data"), extra_args=args, env=env).start()


def test_metrics_key_protects_metrics(tmp_path):
    server = own_server(tmp_path, "--metrics-key", "scrape-secret")
    try:
        assert get(server.endpoint, "/metrics").status_code == 401
        wrong = get(server.endpoint, "/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        right = get(server.endpoint, "/metrics", headers={"Authorization": "Bearer scrape-secret"})
        assert right.status_code == 200 and "cosmonaut_storage_commits_total" in right.text
        # Probes stay open.
        assert get(server.endpoint, "/health/ready").status_code == 200
    finally:
        server.stop()


def test_json_access_and_slow_query_logs(tmp_path):
    server = own_server(tmp_path, "--log-format", "json", "--access-log", "all",
                        "--slow-query-ms", "0")
    try:
        client = CosmosClient(server.endpoint, KEY, connection_verify=False)
        c = client.create_database(unique("logs")).create_container(unique("c"), PartitionKey("/pk"))
        c.create_item({"id": "a", "pk": "p", "n": 7})
        rows = list(c.query_items("SELECT * FROM c WHERE c.n = @n",
                                  parameters=[{"name": "@n", "value": 7}], partition_key="p"))
        assert len(rows) == 1
        activity = c.client_connection.last_response_headers["x-ms-activity-id"]
    finally:
        server.stop()
    lines = [json.loads(line) for line in server.errors().splitlines() if line.startswith("{")]
    assert lines and all("timestamp" in e and "level" in e for e in lines)
    access = [e for e in lines if e.get("target") == "cosmonaut::access"]
    created = [e for e in access if e["operation"] == "Create" and e["resource_type"] == "docs"]
    assert created and created[0]["status"] == 201 and created[0]["request_charge"] > 0
    assert {"activity_id", "substatus", "duration_ms", "path"} <= set(created[0])
    slow = [e for e in lines if e.get("target") == "cosmonaut::slow" and e.get("query")]
    query = [e for e in slow if e["activity_id"] == activity]
    assert query, slow
    entry = query[0]
    assert entry["query"] == "SELECT * FROM c WHERE c.n = @n"
    # Parameter names only: values may be personal data.
    assert entry["parameters"] == "@n" and "7" not in entry["parameters"]
    assert entry["scope"] == "one partition key"
    assert entry["documents_read"] == 1 and "/n/?" in entry["indexes"]
    assert entry["request_charge"] > 0 and entry["duration_ms"] >= 0


def test_text_logs_have_no_colours_when_redirected(tmp_path):
    server = own_server(tmp_path, "--access-log", "all")
    try:
        get(server.endpoint, "/")
    finally:
        server.stop()
    text = server.errors()
    assert "request" in text and "\x1b[" not in text


def test_generated_certificate_covers_the_tls_hostnames(tmp_path):
    server = own_server(tmp_path, "--tls-hostname", "cosmonaut.test,10.1.2.3")
    try:
        cert = tmp_path / "cert.pem"
        subprocess.run([BINARY, "cert", "export", "--data-dir", server.data_dir, "--out", str(cert)],
                       check=True)
        port = urllib.parse.urlparse(server.endpoint).port
        # Python verifies the certificate against a name other than localhost.
        context = ssl.create_default_context(cafile=str(cert))
        with socket.create_connection(("127.0.0.1", port)) as raw:
            with context.wrap_socket(raw, server_hostname="cosmonaut.test") as tls:
                assert tls.version() in ("TLSv1.2", "TLSv1.3")
        with pytest.raises(ssl.SSLCertVerificationError):
            with socket.create_connection(("127.0.0.1", port)) as raw:
                context.wrap_socket(raw, server_hostname="elsewhere.test")
        # So does Node.js.
        script = (
            "const tls=require('tls');const fs=require('fs');"
            f"const s=tls.connect({{host:'127.0.0.1',port:{port},servername:'cosmonaut.test',"
            f"ca:fs.readFileSync({json.dumps(str(cert))})}},()=>{{"
            "console.log(s.authorized?'verified':'refused');s.end();});"
            "s.on('error',e=>{console.log('error '+e.message);});"
        )
        out = subprocess.run(["node", "-e", script], capture_output=True, text=True, timeout=30)
        assert out.stdout.strip() == "verified", out.stdout + out.stderr
    finally:
        server.stop()
    # A later start with one more name makes a certificate that keeps the old ones.
    again = own_server(tmp_path, "--tls-hostname", "other.test")
    try:
        names = (tmp_path / "data" / "cert-names.txt").read_text().split()
        assert {"localhost", "cosmonaut.test", "10.1.2.3", "other.test"} <= set(names)
    finally:
        again.stop()


def test_cert_export_refuses_where_no_server_made_one(tmp_path):
    empty = tmp_path / "nothing"
    out = subprocess.run([BINARY, "cert", "export", "--data-dir", str(empty)],
                         capture_output=True, text=True)
    assert out.returncode != 0 and "no certificate" in out.stderr
    assert not empty.exists()


def test_one_server_per_data_dir(tmp_path):
    server = own_server(tmp_path)
    try:
        second = subprocess.run([BINARY, "serve", "--data-dir", server.data_dir, "--port", "0"],
                                capture_output=True, text=True, timeout=30)
        assert second.returncode != 0
        assert f"pid {server.process.pid}" in second.stderr, second.stderr
        # A start that cannot listen leaves nothing behind.
        port = str(urllib.parse.urlparse(server.endpoint).port)
        fresh = tmp_path / "fresh"
        busy = subprocess.run([BINARY, "serve", "--data-dir", str(fresh), "--port", port],
                              capture_output=True, text=True, timeout=30)
        assert busy.returncode != 0 and "cannot listen" in busy.stderr
        assert not fresh.exists()
        # The health subcommand asks the running server.
        probe = subprocess.run([BINARY, "health", "--url", server.endpoint + "health/ready"],
                               capture_output=True, text=True, timeout=30)
        assert probe.returncode == 0, probe.stderr
    finally:
        server.stop()
    probe = subprocess.run([BINARY, "health", "--url", server.endpoint + "health/ready",
                            "--timeout", "2s"], capture_output=True, text=True, timeout=30)
    assert probe.returncode != 0


def test_commands_survive_a_closed_pipe(tmp_path):
    server = own_server(tmp_path)
    server.stop()
    out = subprocess.run(f"'{BINARY}' keys list --data-dir '{server.data_dir}' | head -c 1",
                         shell=True, capture_output=True, text=True, timeout=30)
    assert "panicked" not in out.stderr, out.stderr


def test_the_grafana_dashboard_names_metrics_the_server_has(container):
    import re
    from server import REPO

    container.create_item({"id": "g1", "pk": "p"})
    with open(os.path.join(REPO, "deploy", "grafana", "cosmonaut.json")) as f:
        dashboard = json.load(f)
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    used = set(re.findall(r"\b((?:cosmonaut|process)_[a-z_]+)", " ".join(exprs)))
    scraped = get(ENDPOINT, "/metrics").text
    names = {line.split("{")[0].split(" ")[0] for line in scraped.splitlines()
             if line and not line.startswith("#")}
    # Backup metrics appear only on a server with --backup (tests/backup scrapes them).
    missing = {n for n in used if n not in names and not n.startswith("cosmonaut_backup_")}
    assert not missing, missing


def test_request_spans_export_to_an_otlp_collector(tmp_path):
    import http.server
    import threading
    import time

    received = []

    class Collector(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["content-length"]))
            received.append((self.path, json.loads(body)))
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    collector = http.server.HTTPServer(("127.0.0.1", 0), Collector)
    threading.Thread(target=collector.serve_forever, daemon=True).start()
    try:
        server = own_server(tmp_path, "--otlp-endpoint",
                            f"http://127.0.0.1:{collector.server_address[1]}")
        try:
            client = CosmosClient(server.endpoint, KEY, connection_verify=False)
            c = client.create_database(unique("otlp")).create_container(unique("c"), PartitionKey("/pk"))
            c.create_item({"id": "a", "pk": "p"})
            activity = c.client_connection.last_response_headers["x-ms-activity-id"]
        finally:
            # Spans still queued are sent at shutdown.
            server.stop()
        deadline = time.time() + 10
        while not received and time.time() < deadline:
            time.sleep(0.1)
    finally:
        collector.shutdown()
    assert received and all(path == "/v1/traces" for path, _ in received)
    spans = [span for _, body in received
             for rs in body["resourceSpans"] for ss in rs["scopeSpans"] for span in ss["spans"]]
    trace_id = activity.replace("-", "").lower()
    mine = [s for s in spans if s["traceId"].lower() == trace_id]
    assert len(mine) == 1, [s["traceId"] for s in spans]
    span = mine[0]
    assert span["name"] == "Create"
    attributes = {a["key"]: list(a["value"].values())[0] for a in span["attributes"]}
    assert attributes["db.cosmosdb.resource_type"] == "docs"
    assert int(attributes["http.response.status_code"]) == 201
    assert attributes["activity_id"] == activity
