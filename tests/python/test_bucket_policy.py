"""Bucket policies and anonymous access (seed 001: product images served to
plain browsers through a public-read policy, and nothing else)."""

import json
import urllib.error
import urllib.request

import pytest
from botocore.exceptions import ClientError

from conftest import error_code, http_status


def anon(server, method, path, data=None):
    req = urllib.request.Request(server.endpoint + path, data=data, method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def public_read(bucket):
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "PublicReadGetObject",
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": ["s3:GetObject"],
                    "Resource": [f"arn:aws:s3:::{bucket}/*"],
                }
            ],
        }
    )


def test_anonymous_before_and_after_public_read(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="products/tenant_1/1.jpg", Body=b"jpeg", ContentType="image/jpeg")
    status, body = anon(server, "GET", f"/{bucket}/products/tenant_1/1.jpg")
    assert status == 403 and b"AccessDenied" in body
    # As on AWS, anonymous callers learn that a bucket does not exist...
    status, body = anon(server, "GET", f"/{bucket}-nope/x")
    assert status == 404 and b"NoSuchBucket" in body
    # ...but not whether a key exists, unless they may list the bucket.
    assert anon(server, "GET", f"/{bucket}/missing")[0] == 403
    assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"] is False

    s3.put_bucket_policy(Bucket=bucket, Policy=public_read(bucket))
    assert json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"]) == json.loads(public_read(bucket))
    assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"] is True

    status, body = anon(server, "GET", f"/{bucket}/products/tenant_1/1.jpg")
    assert status == 200 and body == b"jpeg"
    status, _ = anon(server, "HEAD", f"/{bucket}/products/tenant_1/1.jpg")
    assert status == 200
    # Exactly GetObject: no listing, no writes, no deletes, no other bucket.
    assert anon(server, "GET", f"/{bucket}?list-type=2")[0] == 403
    assert anon(server, "PUT", f"/{bucket}/products/x.jpg", b"evil")[0] == 403
    assert anon(server, "DELETE", f"/{bucket}/products/tenant_1/1.jpg")[0] == 403
    assert anon(server, "GET", "/")[0] == 403
    assert anon(server, "GET", f"/{bucket}/missing.jpg")[0] == 404

    s3.delete_bucket_policy(Bucket=bucket)
    assert anon(server, "GET", f"/{bucket}/products/tenant_1/1.jpg")[0] == 403
    with pytest.raises(ClientError) as ei:
        s3.get_bucket_policy(Bucket=bucket)
    assert error_code(ei.value) == "NoSuchBucketPolicy"


def test_policy_conditions_and_deny(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="pub/a", Body=b"a")
    s3.put_object(Bucket=bucket, Key="pub/secret/b", Body=b"b")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": ["*"]}, "Action": ["s3:GetObject", "s3:ListBucket"],
             "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/pub/*"],
             "Condition": {"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}}},
            {"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/pub/secret/*"},
            {"Effect": "Deny", "Principal": "*", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{bucket}",
             "Condition": {"StringNotLike": {"s3:prefix": ["pub/*"]}}},
        ],
    }
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    assert anon(server, "GET", f"/{bucket}/pub/a") == (200, b"a")
    assert anon(server, "GET", f"/{bucket}/pub/secret/b")[0] == 403
    assert anon(server, "GET", f"/{bucket}?list-type=2&prefix=pub/")[0] == 200
    assert anon(server, "GET", f"/{bucket}?list-type=2")[0] == 403
    # An explicit Deny binds the root user too (AWS's rule; MinIO's with
    # ALMACEN_ROOT_IGNORES_BUCKET_POLICY=on).
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="pub/secret/b")
    assert error_code(e.value) == "AccessDenied"
    assert s3.get_object(Bucket=bucket, Key="pub/a")["Body"].read() == b"a"

    policy["Statement"][0]["Condition"] = {"IpAddress": {"aws:SourceIp": "192.0.2.0/24"}}
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    assert anon(server, "GET", f"/{bucket}/pub/a")[0] == 403


@pytest.mark.parametrize(
    "doc,needle",
    [
        ("{not json", "line 1"),
        ('{"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::B/*"}]}', "Principal"),
        ('{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:Fly", "Resource": "arn:aws:s3:::B/*"}]}', "Unknown action"),
        ('{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::elsewhere/*"}]}', "invalid resource"),
    ],
)
def test_malformed_policies_are_refused(s3, bucket, doc, needle):
    with pytest.raises(ClientError) as ei:
        s3.put_bucket_policy(Bucket=bucket, Policy=doc.replace("arn:aws:s3:::B", f"arn:aws:s3:::{bucket}"))
    assert error_code(ei.value) == "MalformedPolicy"
    assert http_status(ei.value) == 400
    assert needle in ei.value.response["Error"]["Message"]


def test_explicit_deny_binds_the_root_user_too(s3, bucket):
    """AWS applies an explicit Deny to every principal: a bucket policy that
    refuses unencrypted uploads refuses them from the root user as well,
    who can still read and remove the policy."""
    policy = {
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
            "Resource": f"arn:aws:s3:::{bucket}/*",
            "Condition": {"Null": {"s3:x-amz-server-side-encryption": "true"}},
        }],
    }
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="plain", Body=b"x")
    assert error_code(e.value) == "AccessDenied" and http_status(e.value) == 403
    # Reading is not denied, and the owner keeps control of the policy.
    s3.list_objects_v2(Bucket=bucket)
    assert json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"][0]["Effect"] == "Deny"
    s3.delete_bucket_policy(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="plain", Body=b"x")


def test_root_may_ignore_bucket_policies_as_on_minio(tmp_path):
    from conftest import AlmacenServer

    srv = AlmacenServer(extra_env={"ALMACEN_ROOT_IGNORES_BUCKET_POLICY": "on"})
    srv.start()
    try:
        s3 = srv.client()
        s3.create_bucket(Bucket="minio-style")
        s3.put_bucket_policy(Bucket="minio-style", Policy=json.dumps({"Statement": [{
            "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
            "Resource": "arn:aws:s3:::minio-style/*"}]}))
        s3.put_object(Bucket="minio-style", Key="k", Body=b"root is not bound")
    finally:
        srv.cleanup()
