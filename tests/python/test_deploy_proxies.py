"""The load-balancer configurations shipped in docs/deploy/ run as written in
front of three nodes on PostgreSQL (issue 10's deployment guide). Each test
reads the file, points its upstream `server` lines at the loopback nodes and
its listener at a free port, and drives the proxy with boto3 and presigned
URLs: the flows of the seed apps, spread over the nodes, and still served
when one node is stopped."""

import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import boto3
import pytest
import requests
import yaml
from botocore.client import Config

from conftest import nginx_main_config
from test_cluster import NODES, Cluster, needs_postgres

DEPLOY = Path(__file__).resolve().parents[2] / "docs" / "deploy"


def find(name: str) -> str | None:
    return shutil.which(name) or next(
        (p for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}") if os.path.exists(p)), None
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen, log: str) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"proxy exited: {Path(log).read_text()[-2000:] if os.path.exists(log) else ''}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    pytest.fail("proxy did not listen")


def shipped_config(name: str, cluster: Cluster, port: int, listener: str, listen_at: str) -> str:
    """docs/deploy/NAME with its three example nodes (10.0.0.1x:9000) replaced
    by the cluster's loopback nodes and its one `listener` by `listen_at`."""
    text = (DEPLOY / name).read_text()
    hosts = iter(n.endpoint.split("//")[1] for n in cluster.nodes)
    text, count = re.subn(r"10\.0\.0\.\d+:9000", lambda _: next(hosts), text)
    assert count == NODES, f"docs/deploy/{name} should list three example nodes"
    text, count = re.subn(listener, listen_at.format(port=port), text)
    assert count == 1, f"docs/deploy/{name} should have one listener"
    return text


def nginx_config(cluster: Cluster, port: int, d: str) -> str:
    return nginx_main_config(d, shipped_config("nginx.conf", cluster, port, r"listen 80;", "listen 127.0.0.1:{port};"))


def haproxy_config(cluster: Cluster, port: int) -> str:
    return shipped_config("haproxy.cfg", cluster, port, r"bind :80\b", "bind 127.0.0.1:{port}")


@pytest.fixture(params=["nginx", "haproxy"])
def proxied(request):
    """(cluster, proxy endpoint) with the named proxy's shipped config."""
    needs_postgres()
    binary = find(request.param)
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail(f"{request.param} is not installed (.ci/run installs it)", pytrace=False)
        pytest.skip(f"{request.param} is not installed")
    cluster = Cluster(extra_env={"MINIO_PROMETHEUS_AUTH_TYPE": "public"})
    d = tempfile.mkdtemp(prefix=f"almacen-{request.param}-")
    port = free_port()
    log = os.path.join(d, "error.log")
    if request.param == "nginx":
        conf = os.path.join(d, "nginx.conf")
        Path(conf).write_text(nginx_config(cluster, port, d))
        proc = subprocess.Popen([binary, "-c", conf, "-p", d], stderr=open(log, "ab"))
    else:
        conf = os.path.join(d, "haproxy.cfg")
        Path(conf).write_text(haproxy_config(cluster, port))
        proc = subprocess.Popen([binary, "-db", "-f", conf], stdout=open(log, "ab"), stderr=subprocess.STDOUT)
    try:
        wait_port(port, proc, log)
        yield cluster, f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        cluster.close()
        shutil.rmtree(d, ignore_errors=True)


def proxy_client(node, endpoint: str):
    """boto3 as an application configures it: the public (proxy) endpoint."""
    return boto3.client(
        "s3", endpoint_url=endpoint, region_name=node.region,
        aws_access_key_id=node.access_key, aws_secret_access_key=node.secret_key,
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"},
                      retries={"max_attempts": 1, "mode": "standard"}, read_timeout=120),
    )


def puts_on(node) -> float:
    text = requests.get(node.endpoint + "/minio/v2/metrics/node", timeout=30).text
    m = re.search(r'^minio_s3_requests_total\{[^}]*api="PutObject"[^}]*\} ([0-9.e+]+)$', text, re.M)
    return float(m.group(1)) if m else 0.0


def test_seed_flows_through_the_shipped_proxy_config(proxied):
    cluster, endpoint = proxied
    node = cluster.nodes[0]
    s3 = proxy_client(node, endpoint)
    s3.create_bucket(Bucket="products")
    # Many small PUTs: the balancer spreads them over the nodes.
    for i in range(30):
        s3.put_object(Bucket="products", Key=f"img/{i:03}.jpg", Body=b"%03d" % i)
    assert sum(1 for n in cluster.nodes if puts_on(n) > 0) >= 2
    # A multipart video upload whose parts may land on different nodes.
    part = os.urandom(5 << 20)
    up = s3.create_multipart_upload(Bucket="products", Key="videos/inventory.mp4")
    etags = [
        s3.upload_part(Bucket="products", Key="videos/inventory.mp4", UploadId=up["UploadId"],
                       PartNumber=n, Body=part)["ETag"]
        for n in (1, 2)
    ]
    s3.complete_multipart_upload(
        Bucket="products", Key="videos/inventory.mp4", UploadId=up["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in zip((1, 2), etags)]},
    )
    assert s3.head_object(Bucket="products", Key="videos/inventory.mp4")["ContentLength"] == 10 << 20
    # Presigned PUT from a "phone", presigned GET from a "browser", both
    # signed over the proxy's Host.
    url = s3.generate_presigned_url("put_object", Params={"Bucket": "products", "Key": "customer/p.png"},
                                        ExpiresIn=300)
    assert requests.put(url, data=b"\x89PNG photo", timeout=30).status_code == 200
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "products", "Key": "customer/p.png"},
                                        ExpiresIn=300)
    got = requests.get(url, timeout=30)
    assert got.status_code == 200 and got.content == b"\x89PNG photo"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="products", Prefix="img/")["Contents"]]
    assert keys == [f"img/{i:03}.jpg" for i in range(30)]


def test_a_stopped_node_is_skipped(proxied):
    cluster, endpoint = proxied
    s3 = proxy_client(cluster.nodes[0], endpoint)
    s3.create_bucket(Bucket="ha-demo")
    s3.put_object(Bucket="ha-demo", Key="k", Body=b"still here")
    cluster.nodes[1].stop()
    # Every request succeeds: the proxy moves off the stopped node (nginx on
    # the refused connection, HAProxy on it and its health check).
    for i in range(20):
        assert s3.get_object(Bucket="ha-demo", Key="k")["Body"].read() == b"still here"
        s3.put_object(Bucket="ha-demo", Key=f"after/{i}", Body=b"x")
    assert s3.list_objects_v2(Bucket="ha-demo", Prefix="after/")["KeyCount"] == 20


def test_compose_file_wires_every_node_to_one_database_and_volume():
    """docs/deploy/docker-compose.yml (no Docker here): every node shares the
    metadata URL and the data volume, has its own node id, and the nginx
    config it mounts lists exactly those nodes."""
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    services = compose["services"]
    nodes = sorted(s for s in services if s.startswith("node"))
    assert len(nodes) == 3
    urls = {services[n]["environment"]["ALMACEN_META_URL"] for n in nodes}
    assert len(urls) == 1 and next(iter(urls)).startswith("postgres://")
    assert {services[n]["environment"]["ALMACEN_NODE_ID"] for n in nodes} == set(nodes)
    assert all("almacen-data:/data" in services[n]["volumes"] for n in nodes)
    mounted = services["nginx"]["volumes"][0].split(":")[0]
    conf = (DEPLOY / mounted).read_text()
    assert re.findall(r"server (node\d):9000", conf) == nodes
    # The compose copy of the nginx config differs from the guide's only in
    # the upstream names.
    def normalise(text: str) -> list[str]:
        lines = [l for l in text.splitlines() if l.strip() and not l.lstrip().startswith("#")]
        return [re.sub(r"server (node\d|10\.0\.0\.\d+):9000", "server NODE", l)
                .replace("server_name _;", "server_name s3.example.com;") for l in lines]
    assert normalise(conf) == normalise((DEPLOY / "nginx.conf").read_text())
