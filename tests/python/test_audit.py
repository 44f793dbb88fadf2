"""The audit log: one JSON line per request, with who, what, where and the
outcome, and never a secret or a signature."""

import json
import os
import time
import uuid

import requests
from botocore.exceptions import ClientError


def read_lines(path, want, timeout=10.0):
    deadline = time.monotonic() + timeout
    lines = []
    while time.monotonic() < deadline:
        if os.path.exists(path):
            with open(path) as f:
                lines = [json.loads(line) for line in f if line.strip()]
            if len(lines) >= want:
                return lines
        time.sleep(0.1)
    return lines


def test_one_line_per_request_and_no_secrets(server_factory, tmp_path):
    log = tmp_path / "audit" / "audit.log"
    srv = server_factory(extra_env={"ALMACEN_AUDIT_LOG_FILE": str(log)})
    s3 = srv.client()
    s3.create_bucket(Bucket="audited")
    s3.put_object(Bucket="audited", Key="photos/a b.jpg", Body=b"x" * 321)
    try:
        s3.get_object(Bucket="audited", Key="missing")
    except ClientError:
        pass
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "audited", "Key": "photos/a b.jpg"}, ExpiresIn=60)
    assert requests.get(url, timeout=30).status_code == 200
    bad = srv.client(secret_key="wrong-secret-123")
    try:
        bad.list_objects_v2(Bucket="audited")
    except ClientError:
        pass
    lines = read_lines(log, 5)
    assert len(lines) == 5, lines
    create, put, missing, presigned, denied = lines
    assert create["api"] == "CreateBucket" and create["bucket"] == "audited" and create["statusCode"] == 200
    assert put["api"] == "PutObject" and put["object"] == "photos/a b.jpg" and put["rx"] == 321
    assert put["accessKey"] == srv.access_key and put["remoteHost"] == "127.0.0.1"
    assert put["requestID"] and put["durationMs"] >= 0 and "Boto3" in put["userAgent"]
    assert missing["statusCode"] == 404 and missing["errorCode"] == "NoSuchKey"
    assert presigned["api"] == "GetObject" and presigned["tx"] == 321
    assert denied["statusCode"] == 403 and denied["errorCode"] == "SignatureDoesNotMatch"
    raw = log.read_text()
    assert srv.secret_key not in raw
    assert "Signature=" not in raw and "X-Amz-" not in raw and "Credential" not in raw


def test_rotation(server_factory, tmp_path):
    log = tmp_path / "audit.log"
    srv = server_factory(extra_env={"ALMACEN_AUDIT_LOG_FILE": str(log), "ALMACEN_AUDIT_LOG_MAX_MIB": "1"})
    s3 = srv.client()
    s3.create_bucket(Bucket="rot")
    key = "k" * 900  # long keys make long lines
    for i in range(1400):
        s3.head_bucket(Bucket="rot") if i % 2 else s3.put_object(Bucket="rot", Key=f"{key}{i % 7}", Body=b"x")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not os.path.exists(f"{log}.1"):
        time.sleep(0.1)
    assert os.path.exists(f"{log}.1")
    assert os.path.getsize(f"{log}.1") <= (1 << 20) + 4096


def test_debug_log_has_one_line_per_request(server_factory):
    srv = server_factory(extra_env={"RUST_LOG": "info,almacen_s3::front=debug"})
    s3 = srv.client()
    s3.create_bucket(Bucket="logged")
    s3.put_object(Bucket="logged", Key="k", Body=b"x" * 10)
    deadline = time.monotonic() + 10
    text = ""
    while time.monotonic() < deadline:
        text = open(srv.stderr_path).read()
        if "api=PutObject" in text:
            break
        time.sleep(0.1)
    lines = [l for l in text.splitlines() if "request" in l and "api=" in l]
    assert any("api=PutObject" in l and "status=200" in l for l in lines), text[-2000:]
    assert srv.secret_key not in text


def test_audit_webhook_receives_records_and_waits_for_a_down_endpoint(server_factory):
    from test_notifications import Receiver, free_port

    port = free_port()  # nothing listens yet: the endpoint is down
    srv = server_factory(extra_env={
        "MINIO_AUDIT_WEBHOOK_ENABLE_SIEM": "on",
        "MINIO_AUDIT_WEBHOOK_ENDPOINT_SIEM": f"http://127.0.0.1:{port}/audit",
        "MINIO_AUDIT_WEBHOOK_AUTH_TOKEN_SIEM": "siem-token-123",
    })
    s3 = srv.client()
    s3.create_bucket(Bucket="hooked")
    s3.put_object(Bucket="hooked", Key="early.txt", Body=b"before the endpoint was up")
    time.sleep(0.5)
    rx = Receiver(port)  # the endpoint comes up: queued records arrive
    try:
        s3.put_object(Bucket="hooked", Key="late.txt", Body=b"after")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any(
                e.get("object") == "late.txt" for e in rx.events):
            time.sleep(0.1)
        keys = [(e["api"], e.get("object")) for e in rx.events]
        assert ("PutObject", "early.txt") in keys and ("PutObject", "late.txt") in keys
        assert keys.index(("PutObject", "early.txt")) < keys.index(("PutObject", "late.txt"))
        assert set(rx.auth) == {"Bearer siem-token-123"}
        for e in rx.events:
            assert srv.secret_key not in json.dumps(e)
        put = next(e for e in rx.events if e.get("object") == "late.txt")
        assert put["bucket"] == "hooked" and put["statusCode"] == 200 and put["rx"] == 5
    finally:
        rx.stop()
