"""`almacen admin trace`: live requests streamed to an admin, filtered by
bucket or errors, one JSON line each, never a secret; refused to others."""

import json
import os
import subprocess
import threading
import time
import urllib.parse

from botocore.exceptions import ClientError


def start_trace(srv, *args, access_key=None, secret_key=None):
    ak = access_key or srv.access_key
    sk = secret_key or srv.secret_key
    host = srv.endpoint.split("://", 1)[1]
    env = dict(os.environ)
    env["ALMACEN_HOST_srv"] = (
        f"http://{urllib.parse.quote(ak, safe='')}:{urllib.parse.quote(sk, safe='')}@{host}"
    )
    env["ALMACEN_CONFIG_DIR"] = srv.log_dir
    return subprocess.Popen(
        [srv.binary, "admin", "--json", "trace", "srv", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )


def drive_until_done(proc, action, timeout=20.0):
    """Repeats `action` until the trace process exits (it stops after
    --count lines), bounded in time."""
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        action()
        time.sleep(0.2)
    if proc.poll() is None:
        proc.kill()
    out, err = proc.communicate(timeout=10)
    return [json.loads(line) for line in out.splitlines() if line.strip()], err


def test_trace_streams_requests(server):
    s3 = server.client()
    s3.create_bucket(Bucket="traced")
    s3.create_bucket(Bucket="other-bucket")
    proc = start_trace(server, "--bucket", "traced", "--count", "3")

    def action():
        s3.put_object(Bucket="other-bucket", Key="ignored", Body=b"x")
        s3.put_object(Bucket="traced", Key="photos/a b.jpg", Body=b"y" * 10)

    lines, err = drive_until_done(proc, action)
    assert proc.returncode == 0, err
    assert len(lines) == 3
    for rec in lines:
        assert rec["bucket"] == "traced" and rec["api"] == "PutObject"
        assert rec["object"] == "photos/a b.jpg" and rec["statusCode"] == 200
        assert rec["accessKey"] == server.access_key and rec["rx"] >= 10
        text = json.dumps(rec)
        assert server.secret_key not in text and "Signature" not in text


def test_trace_errors_only(server):
    s3 = server.client()
    s3.create_bucket(Bucket="traced-errors")
    proc = start_trace(server, "--errors", "--count", "2")

    def action():
        s3.put_object(Bucket="traced-errors", Key="fine", Body=b"x")
        try:
            s3.get_object(Bucket="traced-errors", Key="missing")
        except ClientError:
            pass

    lines, err = drive_until_done(proc, action)
    assert proc.returncode == 0, err
    assert [r["errorCode"] for r in lines] == ["NoSuchKey", "NoSuchKey"]
    assert all(r["statusCode"] == 404 for r in lines)


def test_trace_needs_admin_rights(server):
    assert server.admin("user", "add", "srv", "tracer-user", "tracerpass123").returncode == 0
    assert server.admin("policy", "attach", "srv", "readwrite", "--user", "tracer-user").returncode == 0
    proc = start_trace(server, access_key="tracer-user", secret_key="tracerpass123")
    out, err = proc.communicate(timeout=30)
    assert proc.returncode != 0 and "AccessDenied" in err
