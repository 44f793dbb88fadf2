"""Authentication failures, error body format, x-amz-request-id, presigned URLs."""

import base64
import contextlib
import datetime
import hashlib
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from unittest import mock

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from conftest import error_code, headers_of, http_status, unique_bucket_name


# ---------------------------------------------------------------------------
# raw HTTP helpers
# ---------------------------------------------------------------------------


def raw_request(server, method, path, body=b"", headers=None, sign=True, secret=None):
    """Send a (optionally SigV4-signed) request with urllib.

    Returns (status, headers-dict with lower-case names, body bytes)."""
    url = server.endpoint + path
    headers = dict(headers or {})
    if sign:
        req = AWSRequest(method=method, url=url, data=body, headers=headers)
        creds = Credentials(server.access_key, secret or server.secret_key)
        S3SigV4Auth(creds, "s3", server.region).add_auth(req)
        headers = dict(req.headers.items())
    r = urllib.request.Request(url, data=body if body else None, method=method, headers=headers)
    try:
        with urllib.request.urlopen(r, timeout=30) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


@contextlib.contextmanager
def signing_clock(offset: datetime.timedelta):
    """Shift the clock botocore's SigV4 signers (pure-Python and CRT) use."""
    fake = datetime.datetime.now(datetime.timezone.utc) + offset

    def fake_now(remove_tzinfo=True):
        return fake.replace(tzinfo=None) if remove_tzinfo else fake

    with contextlib.ExitStack() as stack:
        stack.enter_context(mock.patch("botocore.auth.get_current_datetime", fake_now))
        stack.enter_context(mock.patch("botocore.signers.get_current_datetime", fake_now))
        try:
            import botocore.crt.auth  # noqa: F401  (only with awscrt installed)
        except ImportError:
            pass
        else:
            stack.enter_context(mock.patch("botocore.crt.auth.get_current_datetime", fake_now))
        yield


def parse_error(body: bytes) -> dict:
    root = ET.fromstring(body)
    # S3 error documents have no namespace: <Error><Code>..</Code>...</Error>
    assert root.tag == "Error", body
    return {child.tag: (child.text or "") for child in root}


def assert_s3_error(status, headers, body, code, expected_status):
    assert status == expected_status, (status, body)
    assert "x-amz-request-id" in headers
    assert headers.get("content-type", "").startswith(("application/xml", "text/xml"))
    err = parse_error(body)
    assert err["Code"] == code, err
    assert err.get("Message"), err
    assert err.get("RequestId"), err
    assert err["RequestId"] == headers["x-amz-request-id"]
    return err


# ---------------------------------------------------------------------------
# credentials
# ---------------------------------------------------------------------------


def test_unknown_access_key(server, bucket):
    c = server.client(access_key="NOSUCHACCESSKEY", secret_key="whatever-secret")
    for call in (
        lambda: c.list_buckets(),
        lambda: c.list_objects_v2(Bucket=bucket),
        lambda: c.put_object(Bucket=bucket, Key="k", Body=b"x"),
    ):
        with pytest.raises(ClientError) as ei:
            call()
        assert error_code(ei.value) == "InvalidAccessKeyId"
        assert http_status(ei.value) == 403


def test_wrong_secret(server, s3, bucket):
    c = server.client(secret_key="definitely-not-the-secret")
    for call in (
        lambda: c.list_buckets(),
        lambda: c.list_objects_v2(Bucket=bucket),
        lambda: c.put_object(Bucket=bucket, Key="k", Body=b"x"),
        lambda: c.get_object(Bucket=bucket, Key="k"),
    ):
        with pytest.raises(ClientError) as ei:
            call()
        assert error_code(ei.value) == "SignatureDoesNotMatch"
        assert http_status(ei.value) == 403
    with pytest.raises(ClientError) as ei:
        s3.head_object(Bucket=bucket, Key="k")
    assert http_status(ei.value) == 404  # the rejected put stored nothing


def test_wrong_secret_streaming_trailer(server, s3, bucket):
    c = server.client(secret_key="definitely-not-the-secret", checksum_transport="trailer")
    with pytest.raises(ClientError) as ei:
        c.put_object(Bucket=bucket, Key="k", Body=b"x" * 1000)
    assert error_code(ei.value) == "SignatureDoesNotMatch"
    assert http_status(ei.value) == 403


def test_tampered_payload_hash_rejected(server, s3, bucket):
    """The body does not match the signed x-amz-content-sha256."""
    body = b"real body"
    url_path = f"/{bucket}/tampered"
    req = AWSRequest(method="PUT", url=server.endpoint + url_path, data=body)
    S3SigV4Auth(Credentials(server.access_key, server.secret_key), "s3", server.region).add_auth(req)
    headers = dict(req.headers.items())
    r = urllib.request.Request(
        server.endpoint + url_path, data=b"evil body", method="PUT", headers=headers
    )
    try:
        with urllib.request.urlopen(r, timeout=30) as resp:
            status, rbody, rh = resp.status, resp.read(), resp.headers
    except urllib.error.HTTPError as e:
        status, rbody, rh = e.code, e.read(), e.headers
    assert status in (400, 403), rbody
    err = parse_error(rbody)
    assert err["Code"] in ("XAmzContentSHA256Mismatch", "SignatureDoesNotMatch", "BadDigest")
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="tampered")


def test_request_time_too_skewed(server, bucket):
    c = server.client()
    with signing_clock(datetime.timedelta(hours=-1)):
        with pytest.raises(ClientError) as ei:
            c.list_objects_v2(Bucket=bucket)
    assert error_code(ei.value) == "RequestTimeTooSkewed"
    assert http_status(ei.value) == 403


# ---------------------------------------------------------------------------
# anonymous access
# ---------------------------------------------------------------------------


def test_anonymous_get_private_object(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="private", Body=b"secret data")
    status, headers, body = raw_request(server, "GET", f"/{bucket}/private", sign=False)
    assert_s3_error(status, headers, body, "AccessDenied", 403)
    assert b"secret data" not in body


def test_anonymous_put_denied(server, s3, bucket):
    status, headers, body = raw_request(
        server, "PUT", f"/{bucket}/anon", body=b"x", sign=False
    )
    assert_s3_error(status, headers, body, "AccessDenied", 403)
    with pytest.raises(ClientError) as ei:
        s3.head_object(Bucket=bucket, Key="anon")
    assert http_status(ei.value) == 404


def test_anonymous_list_buckets_denied(server):
    status, headers, body = raw_request(server, "GET", "/", sign=False)
    assert_s3_error(status, headers, body, "AccessDenied", 403)


def test_anonymous_list_objects_denied(server, bucket):
    status, headers, body = raw_request(server, "GET", f"/{bucket}?list-type=2", sign=False)
    assert_s3_error(status, headers, body, "AccessDenied", 403)


def test_health_endpoint_needs_no_auth(server):
    with urllib.request.urlopen(server.endpoint + "/minio/health/live", timeout=10) as resp:
        assert resp.status == 200


# ---------------------------------------------------------------------------
# error document format (raw)
# ---------------------------------------------------------------------------


BAD_XML = b"<Delete><Object>"
BAD_XML_MD5 = base64.b64encode(hashlib.md5(BAD_XML).digest()).decode()


def test_error_bodies_are_s3_xml(server, s3, bucket):
    missing_bucket = unique_bucket_name("missing")
    s3.put_object(Bucket=bucket, Key="tiny", Body=b"abc")
    cases = [
        ("GET", f"/{bucket}/no-such-key", b"", {}, "NoSuchKey", 404),
        ("GET", f"/{missing_bucket}/k", b"", {}, "NoSuchBucket", 404),
        ("GET", f"/{missing_bucket}?list-type=2", b"", {}, "NoSuchBucket", 404),
        ("DELETE", f"/{missing_bucket}", b"", {}, "NoSuchBucket", 404),
        ("PUT", "/Invalid_Bucket_Name", b"", {}, "InvalidBucketName", 400),
        ("GET", f"/{bucket}/tiny", b"", {"Range": "bytes=100-200"}, "InvalidRange", 416),
        ("POST", f"/{bucket}?delete", BAD_XML, {"Content-MD5": BAD_XML_MD5}, "MalformedXML", 400),
    ]
    for method, path, body, hdrs, code, status_expected in cases:
        status, headers, rbody = raw_request(server, method, path, body=body, headers=hdrs)
        err = assert_s3_error(status, headers, rbody, code, status_expected)
        if code == "NoSuchKey":
            assert err.get("Key") in (None, "no-such-key")


def test_signature_error_body(server, bucket):
    status, headers, body = raw_request(
        server, "GET", f"/{bucket}?list-type=2", secret="wrong-secret-key"
    )
    assert_s3_error(status, headers, body, "SignatureDoesNotMatch", 403)


def test_head_error_has_no_body_but_request_id(server, bucket):
    status, headers, body = raw_request(server, "HEAD", f"/{bucket}/missing")
    assert status == 404
    assert body == b""
    assert "x-amz-request-id" in headers


def test_request_ids_on_success_responses(s3, bucket):
    ids = set()
    responses = [
        s3.put_object(Bucket=bucket, Key="rid", Body=b"x"),
        s3.get_object(Bucket=bucket, Key="rid"),
        s3.head_object(Bucket=bucket, Key="rid"),
        s3.list_objects_v2(Bucket=bucket),
        s3.list_objects(Bucket=bucket),
        s3.list_buckets(),
        s3.head_bucket(Bucket=bucket),
        s3.get_bucket_location(Bucket=bucket),
        s3.delete_object(Bucket=bucket, Key="rid"),
    ]
    for resp in responses:
        rid = headers_of(resp).get("x-amz-request-id")
        assert rid, resp["ResponseMetadata"]
        assert resp["ResponseMetadata"].get("RequestId") == rid
        ids.add(rid)
    assert len(ids) == len(responses), "request ids must be unique per request"


def test_request_ids_on_error_responses(s3, bucket):
    calls = [
        lambda: s3.get_object(Bucket=bucket, Key="missing"),
        lambda: s3.head_object(Bucket=bucket, Key="missing"),
        lambda: s3.list_objects_v2(Bucket=unique_bucket_name("missing")),
        lambda: s3.delete_bucket(Bucket=unique_bucket_name("missing")),
    ]
    for call in calls:
        with pytest.raises(ClientError) as ei:
            call()
        assert headers_of(ei.value).get("x-amz-request-id")


# ---------------------------------------------------------------------------
# presigned URLs
# ---------------------------------------------------------------------------


def test_presigned_get(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="pre sign/d.txt", Body=b"presigned content")
    url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "pre sign/d.txt"}, ExpiresIn=300
    )
    with urllib.request.urlopen(url, timeout=30) as resp:
        assert resp.status == 200
        assert resp.read() == b"presigned content"


def test_presigned_put(server, s3, bucket):
    url = s3.generate_presigned_url(
        "put_object", Params={"Bucket": bucket, "Key": "uploaded"}, ExpiresIn=300
    )
    req = urllib.request.Request(url, data=b"via presigned put", method="PUT")
    with urllib.request.urlopen(req, timeout=30) as resp:
        assert resp.status == 200
        assert resp.headers["ETag"] == '"' + hashlib.md5(b"via presigned put").hexdigest() + '"'
    assert s3.get_object(Bucket=bucket, Key="uploaded")["Body"].read() == b"via presigned put"


def test_presigned_tampered(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="a", Body=b"A")
    s3.put_object(Bucket=bucket, Key="b", Body=b"B")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "a"}, ExpiresIn=300)
    tampered = url.replace(f"/{bucket}/a?", f"/{bucket}/b?")
    assert tampered != url
    try:
        urllib.request.urlopen(tampered, timeout=30)
        pytest.fail("tampered presigned URL was accepted")
    except urllib.error.HTTPError as e:
        assert e.code == 403
        assert parse_error(e.read())["Code"] == "SignatureDoesNotMatch"


def test_presigned_expired(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="exp", Body=b"E")
    with signing_clock(datetime.timedelta(hours=-2)):
        url = s3.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": "exp"}, ExpiresIn=60
        )
    try:
        urllib.request.urlopen(url, timeout=30)
        pytest.fail("expired presigned URL was accepted")
    except urllib.error.HTTPError as e:
        assert e.code == 403
        assert parse_error(e.read())["Code"] == "AccessDenied"
