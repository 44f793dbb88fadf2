"""The docker-compose files in examples/compose, checked without Docker: for
each, the almacen service's own command line and environment start the real
binary (its /data mapped to a temp folder, its ports to ephemeral ones), the
compose credentials work through boto3, the buckets ALMACEN_BUCKETS names
exist, and the service's healthcheck passes."""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
import urllib.request
from pathlib import Path

import pytest
import yaml
from botocore.exceptions import ClientError

from conftest import REPO_ROOT, AlmacenServer, find_binary

COMPOSE_DIR = REPO_ROOT / "examples" / "compose"
DOCKERFILE = REPO_ROOT / "Dockerfile"

# What each file must keep from the seed it comes from: host ports of the
# API and console, root user, buckets made at start.
EXPECTED = {
    "seed-000-miinventario.yml": {"api": "9002", "console": "9003", "user": "minioadmin", "buckets": []},
    "seed-001-flask-catalog.yml": {"api": "9000", "console": "9001", "user": "minioadmin", "buckets": ["uploads"]},
    "seed-003-vigila.yml": {"api": "9000", "console": "9090", "user": "admin", "buckets": ["videos"]},
    "seed-004-lumira.yml": {"api": "9000", "console": "9001", "user": "lumira_admin", "buckets": ["lumira-client-files"]},
}


def almacen_service(path: Path) -> dict:
    doc = yaml.safe_load(path.read_text())
    services = [s for s in doc["services"].values() if str(s.get("image", "")).startswith("almacen")]
    assert len(services) == 1, f"{path.name}: expected one service with an almacen image"
    return services[0]


def environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def command(service: dict) -> list[str]:
    cmd = service["command"]
    return shlex.split(cmd) if isinstance(cmd, str) else [str(c) for c in cmd]


def port_map(service: dict) -> dict[str, str]:
    """container port -> host port."""
    out = {}
    for p in service["ports"]:
        parts = str(p).split("/")[0].split(":")  # [IP:]HOST:CONTAINER[/proto]
        out[parts[-1]] = parts[-2] if len(parts) > 1 else parts[-1]
    return out


def test_every_example_is_checked():
    assert sorted(p.name for p in COMPOSE_DIR.glob("*.yml")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_compose_service_runs_as_written(name):
    want = EXPECTED[name]
    service = almacen_service(COMPOSE_DIR / name)
    env = environment(service)
    argv = command(service)
    ports = port_map(service)

    # MinIO's command line, unchanged; the image's ENTRYPOINT is `almacen`.
    assert argv[:2] == ["server", "/data"], argv
    console = argv[argv.index("--console-address") + 1]
    assert ports == {"9000": want["api"], console.lstrip(":"): want["console"]}
    assert any(v.endswith(":/data") for v in service["volumes"])
    assert env["MINIO_ROOT_USER"] == want["user"]

    data = tempfile.mkdtemp(prefix="almacen-compose-")
    # /data becomes a temp folder; the API port an ephemeral one, through
    # the environment so that the command line stays exactly as written.
    mapped = [data if a == "/data" else a for a in argv]
    srv = AlmacenServer(
        data_dir=data,
        access_key=env["MINIO_ROOT_USER"],
        secret_key=env["MINIO_ROOT_PASSWORD"],
        extra_env={**env, "ALMACEN_ADDRESS": "127.0.0.1:0"},
        server_args=mapped,
    )
    try:
        srv.start()
        host_port = srv.endpoint.split("://", 1)[1]
        with urllib.request.urlopen(srv.endpoint + "/minio/health/ready", timeout=10) as r:
            assert r.status == 200

        s3 = srv.client()
        names = {b["Name"] for b in s3.list_buckets()["Buckets"]}
        assert set(want["buckets"]) <= names
        s3.create_bucket(Bucket="compose-check")
        s3.put_object(Bucket="compose-check", Key="k", Body=b"v")
        assert s3.get_object(Bucket="compose-check", Key="k")["Body"].read() == b"v"
        wrong = srv.client(secret_key="not-the-password")
        with pytest.raises(ClientError) as e:
            wrong.list_buckets()
        assert e.value.response["Error"]["Code"] == "SignatureDoesNotMatch"

        # The healthcheck as the container runs it, with `localhost:9000`
        # standing for the mapped port.
        test = service["healthcheck"]["test"]
        assert test[0] == "CMD"
        probe = [a.replace("localhost:9000", host_port) for a in test[1:]]
        if probe[0] == "almacen":
            probe[0] = find_binary()
        run_env = {**os.environ, **env, "ALMACEN_ADDRESS": host_port}
        r = subprocess.run(probe, capture_output=True, text=True, env=run_env, timeout=30)
        assert r.returncode == 0, (probe, r.stdout, r.stderr)
    finally:
        srv.cleanup()


def test_dockerfile_runs_minio_command_line():
    text = DOCKERFILE.read_text()
    lines = [l.strip() for l in text.splitlines() if l.strip() and not l.strip().startswith("#")]
    froms = [l for l in lines if l.startswith("FROM ")]
    assert len(froms) == 2 and " AS build" in froms[0] and "slim" in froms[1]
    assert 'ENTRYPOINT ["almacen"]' in lines
    assert 'CMD ["server", "/data", "--console-address", ":9001"]' in lines
    assert 'VOLUME ["/data"]' in lines and "EXPOSE 9000 9001" in lines
    assert any(l.startswith("USER ") and not l.startswith("USER root") for l in lines)
    assert "almacen" in text.split("HEALTHCHECK", 1)[1].split("\n\n")[0]
    assert "ready" in text.split("HEALTHCHECK", 1)[1].split("\n\n")[0]
    # The default command parses: `almacen server /data --console-address :9001`.
    r = subprocess.run([find_binary(), "server", "--help"], capture_output=True, text=True, timeout=30)
    assert "--console-address" in r.stdout
