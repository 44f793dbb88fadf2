"""Signature checks beyond plain SigV4 headers: Signature V2 for old
clients (header and query), and clock skew."""

import datetime
import urllib.error
import urllib.request

import boto3
import pytest
from botocore.client import Config
from botocore.exceptions import ClientError

from conftest import error_code, http_status


def v2_client(server, secret=None):
    return boto3.client(
        "s3",
        endpoint_url=server.endpoint,
        aws_access_key_id=server.access_key,
        aws_secret_access_key=secret or server.secret_key,
        region_name="us-east-1",
        config=Config(signature_version="s3", s3={"addressing_style": "path"}),
    )


def test_signature_v2_header_auth(server, bucket):
    s3 = v2_client(server)
    s3.put_object(Bucket=bucket, Key="v2/obj", Body=b"old client", ContentType="text/plain")
    got = s3.get_object(Bucket=bucket, Key="v2/obj")
    assert got["Body"].read() == b"old client"
    assert [o["Key"] for o in s3.list_objects(Bucket=bucket)["Contents"]] == ["v2/obj"]
    with pytest.raises(ClientError) as ei:
        v2_client(server, secret="not-the-secret").get_object(Bucket=bucket, Key="v2/obj")
    assert error_code(ei.value) == "SignatureDoesNotMatch"
    assert http_status(ei.value) == 403


def test_signature_v2_presigned_query(server, bucket):
    s3 = v2_client(server)
    s3.put_object(Bucket=bucket, Key="q", Body=b"query auth")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "q"}, ExpiresIn=300)
    assert "Signature=" in url and "X-Amz-Signature" not in url
    with urllib.request.urlopen(url, timeout=30) as r:
        assert r.read() == b"query auth"
    with pytest.raises(urllib.error.HTTPError) as ei:
        urllib.request.urlopen(url.replace("/q?", "/other?"), timeout=30)
    assert ei.value.code == 403


def test_clock_skew_beyond_15_minutes_is_refused(server, s3, bucket):
    from test_errors import signing_clock

    with signing_clock(datetime.timedelta(minutes=20)):
        with pytest.raises(ClientError) as ei:
            s3.list_objects_v2(Bucket=bucket)
    assert error_code(ei.value) == "RequestTimeTooSkewed"
    assert http_status(ei.value) == 403
    with signing_clock(datetime.timedelta(minutes=5)):
        s3.list_objects_v2(Bucket=bucket)
