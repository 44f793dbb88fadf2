"""Issue 19 item 6: whoever reads the server's logs learns no secret, even
at RUST_LOG=debug (which docs once recommended): not the signature the
server computed on a mismatch (with it anyone could forge the request),
not Authorization headers, presigned signatures or SSE-C keys."""

import base64
import hashlib
import os
import re
import time

import pytest
import requests
from botocore.exceptions import ClientError

from conftest import unique_bucket_name


def _everything_secret_in_one_session(srv):
    s3 = srv.client()
    bucket = unique_bucket_name("logs")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"data")
    secrets = []
    # A wrong secret: the server computes the right signature and refuses.
    bad = srv.client(secret_key="not-the-secret-1")
    sent = {}

    def grab(request, **_):
        sent["auth"] = request.headers.get("Authorization", b"")

    bad.meta.events.register("before-send.s3", grab)
    with pytest.raises(ClientError):
        bad.get_object(Bucket=bucket, Key="k")
    auth = sent["auth"].decode() if isinstance(sent["auth"], bytes) else sent["auth"]
    secrets.append(auth.rsplit("Signature=", 1)[1])
    # A presigned URL, used.
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"}, ExpiresIn=60)
    assert requests.get(url, timeout=10).status_code == 200
    secrets.append(re.search(r"X-Amz-Signature=([0-9a-f]+)", url).group(1))
    # A customer key.
    key = os.urandom(32)
    s3.put_object(Bucket=bucket, Key="c", Body=b"secret", SSECustomerAlgorithm="AES256", SSECustomerKey=key)
    s3.get_object(Bucket=bucket, Key="c", SSECustomerAlgorithm="AES256", SSECustomerKey=key)
    secrets.append(base64.b64encode(key).decode())
    return secrets


def test_debug_logs_carry_no_signatures_or_keys(server_factory):
    srv = server_factory(extra_env={"RUST_LOG": "debug", "ALMACEN_SSE_C_ALLOW_HTTP": "on"})
    secrets = _everything_secret_in_one_session(srv)
    time.sleep(0.3)  # the last lines reach the log file
    logs = srv.logs(tail=10_000_000)
    for s in secrets:
        assert s not in logs, f"a secret ({s[:12]}...) is in the server's log"
    # No 64-hex-digit value at all: that is what a SigV4 signature looks like,
    # the one the server computed included.
    hexes = re.findall(r"\b[0-9a-f]{64}\b", logs)
    assert not hexes, f"signature-like values in the log: {hexes[:3]}"
    assert "Authorization" not in logs and "authorization:" not in logs.lower()
