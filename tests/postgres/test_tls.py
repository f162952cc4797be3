"""TLS to PostgreSQL: with sslmode=require and the server's CA (sslrootcert),
the gateway's connections are encrypted and verified; a server whose
certificate the CA did not sign is refused with the reason."""
import datetime
import ipaddress
import os
import subprocess

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from conftest import KEY
from rest import RestClient
from server import BINARY, Server
from test_cluster import create, make_container


def certificate(subject, issuer_key, issuer_name, key, ca, ip=None):
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
               .issuer_name(issuer_name or x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
               .public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5))
               .not_valid_after(now + datetime.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if ip:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


def make_ca(name):
    key = ec.generate_private_key(ec.SECP256R1())
    return key, certificate(name, key, None, key, ca=True)


def test_tls_to_postgres_is_verified(postgres, tmp_path):
    ca_key, ca = make_ca("test CA")
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = certificate("127.0.0.1", ca_key, ca.subject, server_key, ca=False, ip="127.0.0.1")
    cluster = open(os.path.join(postgres.folder, "cluster")).read().strip()
    data = os.path.join(cluster, "data")
    with open(os.path.join(data, "server.crt"), "wb") as f:
        f.write(pem(server_cert))
    key_path = os.path.join(data, "server.key")
    with open(key_path, "wb") as f:
        f.write(server_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption()))
    os.chmod(key_path, 0o600)
    if os.getuid() == 0:
        subprocess.run(["chown", "postgres:", key_path, os.path.join(data, "server.crt")], check=True)
    for statement in ["ALTER SYSTEM SET ssl = on", "SELECT pg_reload_conf()"]:
        subprocess.run(["psql", postgres.url, "-qc", statement], check=True)
    ca_path = tmp_path / "ca.pem"
    ca_path.write_bytes(pem(ca))

    url = postgres.database().replace("sslmode=disable", f"sslmode=verify-full&sslrootcert={ca_path}")
    gateway = Server(str(tmp_path / "gw"), extra_args=["--store", url, "--store-wait", "5s"]).start()
    try:
        rest = RestClient(gateway.endpoint, KEY)
        link = make_container(rest, "tls")
        assert create(rest, link, {"id": "a", "pk": "p"}).status_code == 201
        encrypted = subprocess.run(
            ["psql", postgres.url, "-Atc", "SELECT count(*) FROM pg_stat_ssl JOIN pg_stat_activity "
             "USING (pid) WHERE ssl AND datname <> 'postgres'"],
            check=True, capture_output=True, text=True).stdout.strip()
        assert int(encrypted) > 0
    finally:
        gateway.stop()

    # A CA that did not sign the server's certificate: refused, and said why.
    _, other = make_ca("another CA")
    other_path = tmp_path / "other.pem"
    other_path.write_bytes(pem(other))
    wrong = url.replace(str(ca_path), str(other_path))
    refused = subprocess.run([BINARY, "serve", "--data-dir", str(tmp_path / "gw2"), "--port", "0",
                              "--store", wrong, "--store-wait", "1s"],
                             capture_output=True, text=True, timeout=60)
    assert refused.returncode != 0
    assert "certificate" in refused.stderr.lower() or "tls" in refused.stderr.lower(), refused.stderr
