"""Checks of the packaging: the Dockerfile, compose.yaml, the Kubernetes
manifests and the Helm chart.

Run from this folder: python -m pytest -q check.py

The Kubernetes objects are validated against the Kubernetes OpenAPI schemas
that the kubernetes-validate package carries (no cluster, no network), in
strict mode, so a misspelt or misplaced field fails too.
"""

import json
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = sorted((ROOT / "deploy" / "kubernetes").glob("*.yaml"))
CHART = ROOT / "deploy" / "helm" / "cosmonaut"
# The oldest Kubernetes the chart claims (Chart.yaml's kubeVersion) and the
# newest the validator knows.
KUBERNETES_VERSIONS = ["1.25", kubernetes_validate.latest_version()]
# A key for rendering the chart (its templates require one).
TEST_KEY = "dGVzdCBrZXkgZm9yIHJlbmRlcmluZyB0aGUgY2hhcnQ="
SERVER_UID = 10001


def load_documents(text):
    """The YAML documents of a multi-document stream, less empty ones."""
    return [doc for doc in yaml.safe_load_all(text) if doc]


def validate_objects(objects, source):
    assert objects, f"{source}: no Kubernetes objects"
    for obj in objects:
        for version in KUBERNETES_VERSIONS:
            try:
                kubernetes_validate.validate(obj, version, strict=True)
            except kubernetes_validate.ValidationError as error:
                path = ".".join(str(part) for part in error.path)
                pytest.fail(f"{source}: {obj['kind']}/{obj['metadata']['name']} against "
                            f"Kubernetes {version}: {path}: {error.message}")


def by_kind(objects, kind):
    return [obj for obj in objects if obj["kind"] == kind]


def check_statefulset(objects, source):
    """What every deployment of the server must keep, whatever its form."""
    (statefulset,) = by_kind(objects, "StatefulSet")
    spec = statefulset["spec"]
    assert spec["replicas"] == 1, f"{source}: one server per data file"
    pod = spec["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] >= 30, source
    assert pod["securityContext"]["runAsNonRoot"] is True, source
    assert pod["securityContext"]["runAsUser"] == SERVER_UID, source
    assert pod["securityContext"]["fsGroup"] == SERVER_UID, source
    assert all("emptyDir" not in volume for volume in pod.get("volumes", [])), \
        f"{source}: the data dir must be on a PersistentVolumeClaim, never an emptyDir"
    claims = [claim["metadata"]["name"] for claim in spec["volumeClaimTemplates"]]
    (container,) = pod["containers"]
    mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
    assert mounts.get("/data") in claims, f"{source}: /data must be a claim of volumeClaimTemplates"
    args = container["args"]
    assert args[0] == "serve" and "--bind" in args and args[args.index("--bind") + 1] == "0.0.0.0"
    env = {item["name"]: item for item in container["env"]}
    assert env["COSMONAUT_INSTANCE_ID"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    sources = {next(iter(item)) for item in container["envFrom"]}
    assert sources == {"secretRef", "configMapRef"}, source
    for probe, path in [("livenessProbe", "/health/live"), ("readinessProbe", "/health/ready"),
                        ("startupProbe", "/health/live")]:
        http = container[probe]["httpGet"]
        assert (http["path"], http["scheme"]) == (path, "HTTPS"), f"{source}: {probe}"
    annotations = spec["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/scheme"] == "https"
    assert annotations["prometheus.io/path"] == "/metrics"
    assert annotations["prometheus.io/port"] == "8081"
    assert "memory" in container["resources"]["limits"], source
    (config_map,) = by_kind(objects, "ConfigMap")
    assert "COSMONAUT_CACHE_MIB" in config_map["data"], source
    services = by_kind(objects, "Service")
    assert any(service["spec"].get("clusterIP") == "None" and
               service["metadata"]["name"] == spec["serviceName"] for service in services), \
        f"{source}: the StatefulSet's serviceName must be a headless Service"
    return statefulset


# (a) The plain manifests.

@pytest.mark.parametrize("path", MANIFESTS, ids=lambda path: path.name)
def test_manifests_are_valid_kubernetes(path):
    validate_objects(load_documents(path.read_text()), path.name)


def test_manifests_deploy_the_server_as_intended():
    objects = [obj for path in MANIFESTS for obj in load_documents(path.read_text())]
    check_statefulset(objects, "deploy/kubernetes")
    (secret,) = by_kind(objects, "Secret")
    assert "COSMONAUT_KEY" in secret.get("stringData", {}) or "COSMONAUT_KEY" in secret["data"]
    (config_map,) = by_kind(objects, "ConfigMap")
    assert {"COSMONAUT_BACKUP", "COSMONAUT_BACKUP_INTERVAL",
            "COSMONAUT_SNAPSHOT_INTERVAL"} <= set(config_map["data"])


def test_validator_rejects_a_wrong_field():
    """The validation above is not vacuous: a misplaced field fails it."""
    (statefulset,) = by_kind(load_documents((ROOT / "deploy/kubernetes/cosmonaut.yaml")
                                            .read_text()), "StatefulSet")
    statefulset["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["httpGet"]["port"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(statefulset, KUBERNETES_VERSIONS[-1], strict=True)
    statefulset = by_kind(load_documents((ROOT / "deploy/kubernetes/cosmonaut.yaml")
                                         .read_text()), "StatefulSet")[0]
    statefulset["spec"]["volumeClaimTemplate"] = statefulset["spec"].pop("volumeClaimTemplates")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(statefulset, KUBERNETES_VERSIONS[-1], strict=True)


# (b) The chart's values against its schema.

def values_schema():
    return json.loads((CHART / "values.schema.json").read_text())


def test_chart_values_match_the_schema():
    schema = values_schema()
    jsonschema.Draft7Validator.check_schema(schema)
    jsonschema.Draft7Validator(schema).validate(yaml.safe_load((CHART / "values.yaml").read_text()))


@pytest.mark.parametrize("change", [
    {"cacheMib": "512"},
    {"cacheMib": 8},
    {"key": "not base64!"},
    {"backup": {"url": "ftp://somewhere"}},
    {"backup": {"interval": "often"}},
    {"service": {"type": "Ingress"}},
    {"persistance": {"size": "1Gi"}},
], ids=str)
def test_schema_rejects_wrong_values(change):
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    values.update(change)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft7Validator(values_schema()).validate(values)


def test_chart_versions():
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["apiVersion"] == "v2"
    assert chart["appVersion"] == cargo_workspace()["workspace"]["package"]["version"]


# (c) The chart, rendered.

def render_chart(values, scratch):
    """The chart's objects as `helm template` makes them with these values;
    None when there is no way to render it here."""
    helm = shutil.which("helm")
    if helm:
        values_file = scratch / "values.yaml"
        values_file.write_text(yaml.safe_dump(values))
        rendered = subprocess.run(
            [helm, "template", "cosmonaut", str(CHART), "--namespace", "db", "-f", str(values_file)],
            check=True, capture_output=True, text=True).stdout
        return load_documents(rendered)
    try:
        # Helm's own renderer as a library, when it is installed.
        import helm_python
    except ImportError:
        return None
    with helm_python.Chart.load(str(CHART)) as chart:
        rendered = chart.render(values, name="cosmonaut", namespace="db")
    return [obj for path, text in sorted(rendered.items()) if path.endswith(".yaml")
            for obj in load_documents(text)]


NO_RENDERER = "no helm binary on PATH (nor the helm_python library) to render the chart"
CHART_CASES = {
    "defaults": {"key": TEST_KEY},
    "backup": {"key": TEST_KEY,
               "backup": {"url": "az://backups/cosmonaut",
                          "credentials": {"AZURE_STORAGE_ACCOUNT_NAME": "account"}},
               "persistence": {"storageClass": "fast"}, "tlsHostnames": ["db.example"]},
    "existing-secret": {"existingSecret": "my-keys"},
    "mongo": {"key": TEST_KEY, "mongo": {"enabled": True, "port": 10255}},
}


@pytest.mark.parametrize("case", CHART_CASES)
def test_rendered_chart_is_valid_kubernetes(case, tmp_path):
    objects = render_chart(CHART_CASES[case], tmp_path)
    if objects is None:
        pytest.skip(NO_RENDERER)
    validate_objects(objects, f"chart ({case})")
    statefulset = check_statefulset(objects, f"chart ({case})")
    container = statefulset["spec"]["template"]["spec"]["containers"][0]
    secrets = by_kind(objects, "Secret")
    if case == "existing-secret":
        assert not secrets
        assert {"secretRef": {"name": "my-keys"}} in container["envFrom"]
    else:
        assert len(secrets) == 1 and "COSMONAUT_KEY" in secrets[0]["data"]
    (config_map,) = by_kind(objects, "ConfigMap")
    assert ("COSMONAUT_BACKUP" in config_map["data"]) == (case == "backup"), \
        "an empty COSMONAUT_BACKUP is an error: the chart must leave it out"
    mongo_ports = [p for p in container["ports"] if p["name"] == "mongodb"]
    mongo_env = [e for e in container["env"] if e["name"] == "COSMONAUT_MONGO_PORT"]
    service_ports = [p for s in by_kind(objects, "Service") for p in s["spec"]["ports"]
                     if p["name"] == "mongodb"]
    if case == "mongo":
        assert mongo_ports == [{"name": "mongodb", "containerPort": 10255, "protocol": "TCP"}]
        assert mongo_env == [{"name": "COSMONAUT_MONGO_PORT", "value": "10255"}]
        assert len(service_ports) == 2 and all(p["targetPort"] == "mongodb" for p in service_ports)
    else:
        assert not mongo_ports and not mongo_env and not service_ports, "MongoDB is off by default"
    names = container["args"][container["args"].index("--tls-hostname") + 1].split(",")
    assert {"cosmonaut", "cosmonaut.db.svc"} <= set(names)
    assert ("db.example" in names) == (case == "backup")


def test_chart_matches_the_plain_manifests(tmp_path):
    objects = render_chart({"key": TEST_KEY}, tmp_path)
    if objects is None:
        pytest.skip(NO_RENDERER)
    plain = by_kind(load_documents((ROOT / "deploy/kubernetes/cosmonaut.yaml").read_text()),
                    "StatefulSet")[0]["spec"]["template"]["spec"]
    chart = by_kind(objects, "StatefulSet")[0]["spec"]["template"]["spec"]
    for field in ["securityContext", "terminationGracePeriodSeconds"]:
        assert chart[field] == plain[field], field
    for field in ["startupProbe", "livenessProbe", "readinessProbe", "ports", "securityContext",
                  "resources"]:
        assert chart["containers"][0][field] == plain["containers"][0][field], field


# (d) The Dockerfile and compose.yaml.

def cargo_workspace():
    return tomllib.loads((ROOT / "Cargo.toml").read_text())


def cargo_builds(text):
    """The `cargo build` commands of a Dockerfile or shell script, as word lists."""
    joined = text.replace("\\\n", " ")
    return [match.split() for match in re.findall(r"cargo build[^\n&;|]*", joined)]


def packages(command):
    return [command[i + 1] for i, word in enumerate(command) if word in ("-p", "--package")]


def test_dockerfile_builds_as_ci_does():
    (docker,) = cargo_builds((ROOT / "Dockerfile").read_text())
    assert docker == ["cargo", "build", "--release", "--locked", "-p", "cosmonaut"]
    script = cargo_builds((ROOT / "scripts" / "test.sh").read_text())
    assert any("cosmonaut" in packages(command) for command in script), \
        "scripts/test.sh no longer builds -p cosmonaut"
    # Beyond the packages, the two may differ only in profile, lock file and output.
    ci = next(command for command in script if "cosmonaut" in packages(command))

    def flags(command):
        return {word for word in command if word.startswith("-")} - {"--release", "--locked", "--quiet"}

    assert flags(docker) == flags(ci)


def test_dockerfile_toolchain_and_runtime():
    text = (ROOT / "Dockerfile").read_text()
    rust_version = cargo_workspace()["workspace"]["package"]["rust-version"]
    assert re.search(rf"^FROM rust:{re.escape(rust_version)}-bookworm AS builder$", text, re.M)
    assert re.search(r"^FROM debian:bookworm-slim$", text, re.M)
    assert re.search(rf"^USER {SERVER_UID}:{SERVER_UID}$", text, re.M)
    assert re.search(r"^VOLUME /data$", text, re.M)
    assert re.search(r"^EXPOSE 8081$", text, re.M)
    assert 'CMD ["cosmonaut", "health"]' in text
    assert 'ENTRYPOINT ["cosmonaut"]' in text


def test_compose_mounts_named_volumes_at_data():
    text = (ROOT / "compose.yaml").read_text()
    compose = yaml.safe_load(text)
    named = set(compose.get("volumes") or {})
    for name in ["cosmonaut", "cosmonaut-backed-up"]:
        service = compose["services"][name]
        mounts = {}
        for volume in service["volumes"]:
            if isinstance(volume, str):
                source, target = volume.split(":")[:2]
            else:
                source, target = volume.get("source"), volume["target"]
            mounts[target] = source
        assert mounts.get("/data") in named, f"{name}: /data must be a named volume"
        assert ["serve"] == service["command"][:1], name
    assert compose["services"]["cosmonaut"]["ports"] == ["8081:8081", "10255:10255"]
    assert "COSMONAUT_MONGO_PORT=10255" in compose["services"]["cosmonaut"]["environment"]
    assert "profiles" not in compose["services"]["cosmonaut"]
    for name in ["azurite", "cosmonaut-backed-up"]:
        assert compose["services"][name]["profiles"] == ["backup"], name
    # Compose substitutes $NAME and ${NAME} everywhere, the inline script
    # included: only the intended variables may appear.
    assert set(re.findall(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)", text)) == {"AZURITE_IMAGE"}
