"""Small helpers shared by the test_security_*.py modules (issue 19):
users with a policy of their own, raw signed requests whose bytes on the
wire differ from what was signed, admin API calls and listen calls."""

from __future__ import annotations

import hashlib
import json
import uuid
from urllib.parse import urlsplit

import requests

import rawhttp
from test_iam import ok

ADMIN_PREFIX = "/minio/almacen/admin/v1"


def user_with_policy(server, tmp_path, doc: dict | None, builtin: tuple[str, ...] = ()) -> tuple[str, str]:
    """A new user holding the identity policy `doc` (plus the built-in
    policies named in `builtin`); returns (access key, secret)."""
    names = list(builtin)
    if doc is not None:
        pname = "p-" + uuid.uuid4().hex[:10]
        path = tmp_path / f"{pname}.json"
        path.write_text(json.dumps(doc))
        ok(server.admin("policy", "create", "srv", pname, str(path)))
        names.insert(0, pname)
    name = "u" + uuid.uuid4().hex[:10]
    secret = "s" + uuid.uuid4().hex[:15]
    ok(server.admin("user", "add", "srv", name, secret))
    for p in names:
        ok(server.admin("policy", "attach", "srv", p, "--user", name))
    return name, secret


def policy(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def must_deny(what: str, fn, *args, **kwargs) -> None:
    """`fn(...)` must fail with 403 AccessDenied; the message says what
    happened instead."""
    from botocore.exceptions import ClientError

    try:
        fn(*args, **kwargs)
    except ClientError as e:
        got = (e.response["ResponseMetadata"]["HTTPStatusCode"], e.response["Error"]["Code"])
        assert got == (403, "AccessDenied"), f"{what}: expected 403 AccessDenied, got {got}"
        return
    raise AssertionError(f"{what}: expected 403 AccessDenied, got success (2xx)")


def raw_signed(server, method: str, signed_path: str, sent_path: str | None = None,
               access_key: str | None = None, secret_key: str | None = None,
               body: bytes = b"", headers: dict | None = None, region: str = "us-east-1") -> rawhttp.Response:
    """Signs `method signed_path` with SigV4 and sends `method sent_path`
    (default: the same path) byte for byte with those headers.

    s3s percent-decodes query parameter *names* before it builds the
    canonical query, so `?version%49d=X` sent verifies against a signature
    over `?versionId=X`."""
    host = urlsplit(server.endpoint).netloc
    signed = rawhttp.sign_headers(
        method, server.endpoint, signed_path, dict(headers or {}), body,
        access_key or server.access_key, secret_key or server.secret_key, region=region,
    )
    data = rawhttp.build(method, sent_path or signed_path, host, signed, body)
    h, _, p = host.rpartition(":")
    resp = rawhttp.send(h, int(p), data)
    assert resp is not None, "the server closed the connection without answering"
    return resp


def admin_api(server, method: str, path: str, body=None, access_key=None, secret_key=None) -> requests.Response:
    """One admin API call (`/minio/almacen/admin/v1/<path>`), SigV4-signed
    with service `s3` like any S3 request, the body's SHA-256 in
    `x-amz-content-sha256` (the admin API refuses unsigned bodies)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    data = b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    url = server.endpoint + ADMIN_PREFIX + path
    req = AWSRequest(method=method, url=url, data=data)
    req.headers["X-Amz-Content-SHA256"] = hashlib.sha256(data).hexdigest()
    creds = Credentials(access_key or server.access_key, secret_key or server.secret_key)
    SigV4Auth(creds, "s3", server.region).add_auth(req)
    return requests.request(method, url, data=data, headers=dict(req.headers), timeout=30,
                            verify=server.ca_file or True)


def listen_status(server, bucket: str, access_key=None, secret_key=None) -> int:
    """The status of a ListenBucketNotification call on `bucket` (the
    stream, when granted, is closed at once)."""
    from test_listen import open_listen

    resp = open_listen(server, f"/{bucket}?events=s3%3AObjectCreated%3A%2A", access_key, secret_key)
    try:
        return resp.status_code
    finally:
        resp.close()
