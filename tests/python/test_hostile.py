"""The hostile-input corpus (tests/hostile/*.yaml) sent over raw TCP.

Each case is one request written byte for byte (signed with SigV4 after the
fact where it says so) with the status and S3 error code S3 gives. After the
corpus the server must still be healthy, serve a concurrent load run, and
hold no object the corpus did not mean to create.

Case fields (see tests/hostile/README.md): name, method, path, query,
headers, body / body_repeat, sign (header | none | presign), payload
(signed | unsigned | a literal x-amz-content-sha256), content_length
(auto | none | a number), half_close, expect {status, code}, and `each` to
expand one case over a list of values substituted for `{v}`.
"""

from __future__ import annotations

import concurrent.futures
import datetime
import os
import re
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
import yaml

import rawhttp
from conftest import ACCESS_KEY, AlmacenServer, SECRET_KEY

CORPUS = Path(__file__).resolve().parent.parent / "hostile"
BUCKET = "hostile-corpus"
SEEDED = {"exists.txt": b"0123456789", "folder/a.txt": b"a" * 100}


def _subst(value, v: str):
    if isinstance(value, str):
        return value.replace("{v}", v)
    if isinstance(value, dict):
        return {_subst(k, v): _subst(x, v) for k, x in value.items()}
    if isinstance(value, list):
        return [_subst(x, v) for x in value]
    return value


def _expand(case: dict) -> list[dict]:
    if "each" not in case:
        return [case]
    out = []
    for i, v in enumerate(case["each"]):
        sub = _subst({k: val for k, val in case.items() if k != "each"}, str(v))
        sub["name"] = f"{case['name']} [{i}: {str(v)[:40]!r}]"
        out.append(sub)
    return out


def load_corpus() -> list[dict]:
    cases = []
    for f in sorted(CORPUS.glob("*.yaml")):
        for case in yaml.safe_load(f.read_text()) or []:
            for c in _expand(case):
                c["file"] = f.name
                cases.append(c)
    return cases


CASES = load_corpus()


def test_corpus_size():
    assert len(CASES) >= 300, len(CASES)
    names = [c["name"] for c in CASES]
    assert len(names) == len(set(names)), "case names must be unique"


@pytest.fixture(scope="module")
def target():
    srv = AlmacenServer().start()
    s3 = srv.client()
    s3.create_bucket(Bucket=BUCKET)
    for k, v in SEEDED.items():
        s3.put_object(Bucket=BUCKET, Key=k, Body=v)
    yield srv
    srv.cleanup()


def _fill(text: str) -> str:
    return (
        text.replace("{bucket}", BUCKET)
        .replace("{k1024}", "k" * 1024)
        .replace("{k1025}", "k" * 1025)
        .replace("{e513}", "%C3%A9" * 513)
        .replace("{now}", datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ"))
    )


def _body(case: dict) -> bytes:
    if "body_repeat" in case:
        r = case["body_repeat"]
        return (_fill(r.get("head", "")) + _fill(r["text"]) * int(r["times"]) + _fill(r.get("tail", ""))).encode()
    if "body_hex" in case:
        return bytes.fromhex(case["body_hex"])
    return _fill(case.get("body", "")).encode("utf-8", "surrogateescape")


def _request(srv: AlmacenServer, case: dict) -> bytes:
    u = urlsplit(srv.endpoint)
    host = f"{u.hostname}:{u.port}"
    method = case.get("method", "GET")
    path = _fill(case.get("path", "/"))
    query = _fill(str(case.get("query", "")))
    raw_path = path + ("?" + query if query else "")
    headers = {k: _fill(str(v)) for k, v in (case.get("headers") or {}).items()}
    body = _body(case)
    if headers.get("Content-MD5") == "auto":
        import base64
        import hashlib

        headers["Content-MD5"] = base64.b64encode(hashlib.md5(body).digest()).decode()
    sign = case.get("sign", "header")
    payload = case.get("payload", "signed")
    if sign == "header":
        phash = None if payload == "signed" else (rawhttp.UNSIGNED if payload == "unsigned" else payload)
        signed = rawhttp.sign_headers(
            method, srv.endpoint, raw_path, {"Host": host, **headers}, body, ACCESS_KEY, SECRET_KEY, payload_hash=phash
        )
        # Headers the case sets after signing (to break what was signed).
        signed.update({k: _fill(str(v)) for k, v in (case.get("after_signing") or {}).items()})
        headers = signed
    elif sign == "presign":
        from botocore.auth import S3SigV4QueryAuth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        req = AWSRequest(method=method, url=srv.endpoint + raw_path, headers={"Host": host, **headers})
        S3SigV4QueryAuth(Credentials(ACCESS_KEY, SECRET_KEY), "s3", "us-east-1", expires=int(case.get("expires", 300))).add_auth(req)
        su = urlsplit(req.url)
        raw_path = su.path + "?" + su.query
        raw_path = raw_path.replace("X-Amz-Expires=300", f"X-Amz-Expires={case['expires_override']}") if "expires_override" in case else raw_path
        # Headers a browser adds to a presigned URL, outside the signature.
        headers.update({k: _fill(str(v)) for k, v in (case.get("after_signing") or {}).items()})
    cl = case.get("content_length", "auto")
    if cl == "none":
        cl = None
    data = rawhttp.build(method, raw_path, host, headers, body, content_length=cl)
    if "raw" in case:
        data = _fill(case["raw"]).replace("{host}", host).encode("utf-8", "surrogateescape").replace(b"\n", b"\r\n")
    return data


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_case(target, case):
    u = urlsplit(target.endpoint)
    data = _request(target, case)
    resp = rawhttp.send(u.hostname, u.port, data, timeout=20, half_close=bool(case.get("half_close")))
    exp = case["expect"]
    if exp.get("closed"):
        assert resp is None or resp.status in exp.get("status_or_closed", []), resp
        return
    assert resp is not None, f"{case['name']}: connection closed without an answer"
    statuses = exp["status"] if isinstance(exp["status"], list) else [exp["status"]]
    assert resp.status < 500, f"{case['name']}: server error {resp.status} {resp.body[:300]!r}"
    assert resp.status in statuses, f"{case['name']}: status {resp.status}, body {resp.body[:400]!r}"
    if "code" in exp:
        codes = exp["code"] if isinstance(exp["code"], list) else [exp["code"]]
        assert resp.code in codes, f"{case['name']}: code {resp.code}, body {resp.body[:400]!r}"


def test_healthy_after_corpus_and_load(target):
    """Runs after the corpus (pytest keeps file order): health, a concurrent
    load run, and no object the corpus did not mean to leave."""
    u = urlsplit(target.endpoint)
    r = rawhttp.send(u.hostname, u.port, b"GET /minio/health/ready HTTP/1.1\r\nHost: x\r\n\r\n")
    assert r is not None and r.status == 200
    s3 = target.client()

    def work(i: int) -> None:
        key = f"load/{i}"
        body = os.urandom(1000 + i)
        s3.put_object(Bucket=BUCKET, Key=key, Body=body)
        assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == body
        s3.delete_object(Bucket=BUCKET, Key=key)

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(work, range(200)))
    keys = set()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        keys.update(o["Key"] for o in page.get("Contents", []))
    allowed = set(SEEDED) | {_fill(c["creates"]) for c in CASES if "creates" in c}
    # Cases marked `__opaque__` store keys that look like paths; they must be
    # stored as the exact key sent, never resolved.
    allowed |= {"../etc/passwd", "a/../b", "./x", "%2e%2e/x", "ctl\x01x", "/double", "sp ace", "nul\x00key", "\u202ereverse", "..", "\\..\\win", "__opaque__"}
    assert keys <= allowed, f"unexpected objects left by the corpus: {sorted(keys - allowed)[:20]}"
    assert "../etc/passwd" in keys and not (Path(target.data_dir).parent / "etc").exists()
    for k, v in SEEDED.items():
        assert s3.get_object(Bucket=BUCKET, Key=k)["Body"].read() == v
    # No multipart upload left open by a refused request either.
    assert not s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads"), "uploads left open"
