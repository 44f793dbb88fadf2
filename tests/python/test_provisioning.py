"""Start-up provisioning (ALMACEN_BUCKETS) and `almacen ready`, against the
real binary: what a compose file without an mc init container relies on."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import urllib.error
import urllib.request

import pytest
from botocore.exceptions import ClientError

from conftest import AlmacenServer, ServerStartError, find_binary


def anonymous_get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status
    except urllib.error.HTTPError as e:
        return e.code


def ready(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    full_env = dict(os.environ)
    full_env.pop("ALMACEN_ADDRESS", None)
    full_env.pop("MINIO_ADDRESS", None)
    full_env.update(env or {})
    return subprocess.run(
        [find_binary(), "ready", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=30,
    )


def test_buckets_created_with_their_access(server_factory):
    srv = server_factory(extra_env={"ALMACEN_BUCKETS": "videos, uploads:public-read"})
    s3 = srv.client()
    names = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    assert {"videos", "uploads"} <= names

    s3.put_object(Bucket="uploads", Key="products/tenant_1/1_a.jpg", Body=b"img")
    s3.put_object(Bucket="videos", Key="v.mp4", Body=b"vid")
    # public-read: anonymous GetObject as `mc anonymous set download` gives.
    assert anonymous_get(f"{srv.endpoint}/uploads/products/tenant_1/1_a.jpg") == 200
    policy = json.loads(s3.get_bucket_policy(Bucket="uploads")["Policy"])
    actions = {a for st in policy["Statement"] for a in st["Action"]}
    assert "s3:GetObject" in actions and "s3:PutObject" not in actions
    # No access named: private, no policy at all.
    assert anonymous_get(f"{srv.endpoint}/videos/v.mp4") == 403
    with pytest.raises(ClientError) as e:
        s3.get_bucket_policy(Bucket="videos")
    assert e.value.response["Error"]["Code"] == "NoSuchBucketPolicy"


def test_existing_buckets_are_left_alone_on_restart(server_factory):
    srv = server_factory(extra_env={"ALMACEN_BUCKETS": "uploads:public-read,media"})
    s3 = srv.client()
    s3.put_object(Bucket="uploads", Key="keep.jpg", Body=b"kept")
    # An operator makes the bucket private after the first start.
    s3.delete_bucket_policy(Bucket="uploads")
    data_dir = srv.data_dir
    srv.stop()

    again = server_factory(
        data_dir=data_dir, extra_env={"ALMACEN_BUCKETS": "uploads:public-read,media,extra:download"}
    )
    s3 = again.client()
    assert s3.get_object(Bucket="uploads", Key="keep.jpg")["Body"].read() == b"kept"
    # The existing bucket keeps the operator's choice; the new one is created.
    assert anonymous_get(f"{again.endpoint}/uploads/keep.jpg") == 403
    s3.put_object(Bucket="extra", Key="x", Body=b"x")
    assert anonymous_get(f"{again.endpoint}/extra/x") == 200


def test_public_means_read_and_write_as_mc(server_factory):
    srv = server_factory(extra_env={"ALMACEN_BUCKETS": "dropbox:public"})
    req = urllib.request.Request(f"{srv.endpoint}/dropbox/anon.txt", data=b"hi", method="PUT")
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 200
    assert anonymous_get(f"{srv.endpoint}/dropbox/anon.txt") == 200


@pytest.mark.parametrize(
    "spec, message",
    [
        ("uploads:world-readable", "unknown access"),
        ("Bad_Bucket", "Bad_Bucket"),
        ("a1b,a1b", "listed twice"),
    ],
)
def test_a_bad_spec_stops_the_start_with_a_clear_error(spec, message):
    srv = AlmacenServer(extra_env={"ALMACEN_BUCKETS": spec})
    try:
        with pytest.raises(ServerStartError) as e:
            srv.start(timeout=10)
        assert "ALMACEN_BUCKETS" in str(e.value) and message in str(e.value)
    finally:
        srv.cleanup()


def test_ready_exits_zero_for_a_ready_server(server):
    host_port = server.endpoint.split("://", 1)[1]
    for args, env in [
        (["--endpoint", server.endpoint], None),
        (["--address", host_port], None),
        ([server.endpoint], None),
        (["local"], {"MINIO_ADDRESS": host_port}),
        ([], {"ALMACEN_ADDRESS": host_port}),
    ]:
        r = ready(*args, env=env)
        assert r.returncode == 0, (args, env, r.stderr)
        assert "is ready" in r.stdout
    r = ready("--quiet", "--endpoint", server.endpoint)
    assert r.returncode == 0 and r.stdout == ""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_ready_fails_fast_when_nothing_listens():
    port = free_port()
    r = ready("--endpoint", f"127.0.0.1:{port}", "--timeout", "2")
    assert r.returncode != 0
    assert "not ready" in r.stderr and str(port) in r.stderr
    assert ready("--quiet", "--endpoint", f"127.0.0.1:{port}").stderr == ""


def test_ready_fails_on_a_server_that_is_not_ready(tmp_path):
    # A stand-in that answers 503, as almacen does when it cannot write.
    import http.server
    import threading

    class Busy(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    httpd = http.server.HTTPServer(("127.0.0.1", 0), Busy)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        r = ready("--endpoint", f"http://127.0.0.1:{httpd.server_port}")
        assert r.returncode != 0
        assert "503" in r.stderr
    finally:
        httpd.shutdown()


def test_ready_wait_covers_a_server_still_starting(server_factory):
    srv = server_factory()
    r = ready("--endpoint", srv.endpoint, "--wait", "10")
    assert r.returncode == 0
