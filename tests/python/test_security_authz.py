"""Issue 19: authorization holes a tenant or a compromised writer walks
through (items 4, 5, 8, 9, 10, 12, 13). Each test names its item; each
failed on the code the issue was filed against."""

import json
import urllib.error
import urllib.parse
import urllib.request
import uuid

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import error_code, http_status
from security_helpers import listen_status, must_deny, policy, raw_signed, user_with_policy
from test_iam import new_user, ok, write_policy


def status_of(url, method="GET"):
    req = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


# ---------------------------------------------------------------------------
# item 4: explicit Deny on the version actions
# ---------------------------------------------------------------------------


@pytest.fixture
def versioned(server, s3, bucket, tmp_path):
    """A versioned bucket with two versions of `doc`, and a readwrite user
    whom the bucket policy denies s3:GetObjectVersion and
    s3:DeleteObjectVersion (versioning as protection against a writer)."""
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket=bucket, Key="doc", Body=b"version one")["VersionId"]
    s3.put_object(Bucket=bucket, Key="doc", Body=b"version two")
    user, secret = user_with_policy(server, tmp_path, None, builtin=("readwrite",))
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy(
        {"Effect": "Deny", "Principal": {"AWS": [user]},
         "Action": ["s3:GetObjectVersion", "s3:DeleteObjectVersion"],
         "Resource": f"arn:aws:s3:::{bucket}/*"},
    )))
    return bucket, v1, user, secret


def version_ids(s3, bucket, key="doc"):
    return [v["VersionId"] for v in s3.list_object_versions(Bucket=bucket).get("Versions", []) if v["Key"] == key]


def test_delete_objects_with_version_id_is_delete_object_version(server, s3, versioned):
    """issue 19 item 4a: DeleteObjects naming a <VersionId> is checked as
    s3:DeleteObjectVersion for that key, so the Deny leaves the version."""
    bucket, v1, user, secret = versioned
    c = server.client(access_key=user, secret_key=secret)
    r = c.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "doc", "VersionId": v1}]})
    errors = [(e["Key"], e["Code"]) for e in r.get("Errors", [])]
    assert errors == [("doc", "AccessDenied")], \
        f"expected AccessDenied for doc@{v1}, got Deleted={r.get('Deleted')} Errors={r.get('Errors')}"
    assert v1 in version_ids(s3, bucket)


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_percent_encoded_version_id_name_is_still_a_version_request(server, s3, versioned, method):
    """issue 19 item 4b: `?version%49d=<id>` is `versionId` once decoded
    (s3s acts on that version), so GET and DELETE need the version actions."""
    bucket, v1, user, secret = versioned
    vid = urllib.parse.quote(v1, safe="")
    plain = f"/{bucket}/doc?versionId={vid}"
    encoded = f"/{bucket}/doc?version%49d={vid}"
    # The plain spelling is denied (as before the fix).
    assert raw_signed(server, method, plain, access_key=user, secret_key=secret).status == 403
    r = raw_signed(server, method, plain, encoded, access_key=user, secret_key=secret)
    assert r.status == 403, f"{method} ?version%49d=: expected 403, got {r.status} {r.body[:80]!r}"
    assert v1 in version_ids(s3, bucket), "the denied version was deleted"


def test_copy_from_a_version_needs_get_object_version(server, s3, versioned):
    """issue 19 item 4c: CopyObject from `source?versionId=` reads a version:
    s3:GetObjectVersion is checked on the source."""
    bucket, v1, user, secret = versioned
    c = server.client(access_key=user, secret_key=secret)
    c.copy_object(Bucket=bucket, Key="latest-copy", CopySource={"Bucket": bucket, "Key": "doc"})
    must_deny("CopyObject from doc?versionId=", c.copy_object, Bucket=bucket, Key="old-copy",
              CopySource={"Bucket": bucket, "Key": "doc", "VersionId": v1})
    assert "old-copy" not in [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


# ---------------------------------------------------------------------------
# item 5: condition keys from percent-encoded parameter names
# ---------------------------------------------------------------------------


@pytest.fixture
def tenants(server, s3, bucket, tmp_path):
    s3.put_object(Bucket=bucket, Key="tenant-a/a.txt", Body=b"a")
    s3.put_object(Bucket=bucket, Key="tenant-b/secret.txt", Body=b"b")
    arn = f"arn:aws:s3:::{bucket}"
    user, secret = user_with_policy(server, tmp_path, policy(
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": arn},
        {"Effect": "Deny", "Action": "s3:ListBucket", "Resource": arn,
         "Condition": {"StringLike": {"s3:prefix": "tenant-b/*"}}},
        {"Effect": "Deny", "Action": "s3:ListBucket", "Resource": arn,
         "Condition": {"StringEquals": {"s3:delimiter": "|"}}},
        {"Effect": "Deny", "Action": "s3:ListBucket", "Resource": arn,
         "Condition": {"NumericGreaterThan": {"s3:max-keys": "100"}}},
    ))
    return bucket, user, secret


@pytest.mark.parametrize("list_type", ["", "list-type=2&"], ids=["ListObjects", "ListObjectsV2"])
def test_percent_encoded_prefix_name_sets_s3_prefix(server, tenants, list_type):
    """issue 19 item 5: `?pre%66ix=tenant-b/` is the prefix tenant-b/, and
    the Deny conditioned on s3:prefix applies."""
    bucket, user, secret = tenants
    signed = f"/{bucket}?{list_type}prefix=tenant-b%2F"
    sent = f"/{bucket}?{list_type}pre%66ix=tenant-b%2F"
    assert raw_signed(server, "GET", f"/{bucket}?{list_type}prefix=tenant-a%2F", access_key=user, secret_key=secret).status == 200
    assert raw_signed(server, "GET", signed, access_key=user, secret_key=secret).status == 403
    r = raw_signed(server, "GET", signed, sent, access_key=user, secret_key=secret)
    assert r.status == 403, f"expected 403, got {r.status}: {r.body[:300]!r}"
    assert b"tenant-b/secret.txt" not in r.body


@pytest.mark.parametrize("param,encoded,value", [
    ("delimiter", "delimit%65r", "%7C"),
    ("max-keys", "max%2Dkeys", "1000"),
])
def test_percent_encoded_delimiter_and_max_keys_names(server, tenants, param, encoded, value):
    """issue 19 item 5: s3:delimiter and s3:max-keys come from the decoded
    query too (`?delimit%65r=`, `?max%2Dkeys=`)."""
    bucket, user, secret = tenants
    signed = f"/{bucket}?list-type=2&{param}={value}"
    sent = f"/{bucket}?list-type=2&{encoded}={value}"
    assert raw_signed(server, "GET", signed, access_key=user, secret_key=secret).status == 403
    r = raw_signed(server, "GET", signed, sent, access_key=user, secret_key=secret)
    assert r.status == 403, f"?{encoded}=: expected 403, got {r.status}"


# ---------------------------------------------------------------------------
# item 8: a service account's own policy bounds resource-policy grants
# ---------------------------------------------------------------------------


def test_service_account_policy_bounds_bucket_policy_grants(server, s3, bucket, tmp_path):
    """issue 19 item 8: a key narrowed to pub/* does not read priv/* through
    the bucket policy's grant to its parent."""
    s3.put_object(Bucket=bucket, Key="pub/x", Body=b"public")
    s3.put_object(Bucket=bucket, Key="priv/x", Body=b"private")
    parent, _ = new_user(server)
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy(
        {"Effect": "Allow", "Principal": {"AWS": [parent]}, "Action": "s3:GetObject",
         "Resource": f"arn:aws:s3:::{bucket}/*"},
    )))
    narrow = policy({"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/pub/*"})
    key = ok(server.admin("accesskey", "create", "srv", parent, "--policy", write_policy(tmp_path, narrow)))
    c = server.client(access_key=key["access_key"], secret_key=key["secret_key"])
    assert c.get_object(Bucket=bucket, Key="pub/x")["Body"].read() == b"public"
    must_deny("the pub/*-only key reading priv/x", c.get_object, Bucket=bucket, Key="priv/x")


# ---------------------------------------------------------------------------
# item 9: ACL headers need the ACL actions
# ---------------------------------------------------------------------------


@pytest.fixture
def writer(server, s3, bucket, tmp_path):
    """A user allowed s3:PutObject and s3:GetObject (not s3:PutObjectAcl)."""
    s3.put_object(Bucket=bucket, Key="src", Body=b"source")
    user, secret = user_with_policy(server, tmp_path, policy(
        {"Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload"],
         "Resource": f"arn:aws:s3:::{bucket}/*"},
    ))
    return bucket, server.client(access_key=user, secret_key=secret)


@pytest.mark.parametrize("op", ["PutObject", "CopyObject", "CreateMultipartUpload"])
def test_acl_header_needs_put_object_acl(server, writer, op):
    """issue 19 item 9: `x-amz-acl: public-read` on an upload is setting an
    ACL: without s3:PutObjectAcl it is refused; the same request without
    the header goes through."""
    bucket, c = writer

    def run(key, **acl):
        if op == "PutObject":
            c.put_object(Bucket=bucket, Key=key, Body=b"x", **acl)
        elif op == "CopyObject":
            c.copy_object(Bucket=bucket, Key=key, CopySource={"Bucket": bucket, "Key": "src"}, **acl)
        else:
            up = c.create_multipart_upload(Bucket=bucket, Key=key, **acl)
            c.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=up["UploadId"])

    run("private")
    must_deny(f"{op} with x-amz-acl: public-read", run, "public", ACL="public-read")
    assert status_of(f"{server.endpoint}/{bucket}/public")[0] == 403


def test_create_bucket_acl_header_needs_put_bucket_acl(server, s3, tmp_path):
    """issue 19 item 9: CreateBucket with `x-amz-acl` needs s3:PutBucketAcl."""
    user, secret = user_with_policy(server, tmp_path, policy(
        {"Effect": "Allow", "Action": "s3:CreateBucket", "Resource": "arn:aws:s3:::*"},
    ))
    c = server.client(access_key=user, secret_key=secret)
    plain, public = "acl-" + uuid.uuid4().hex[:12], "acl-" + uuid.uuid4().hex[:12]
    try:
        c.create_bucket(Bucket=plain)
        must_deny("CreateBucket with x-amz-acl: public-read", c.create_bucket, Bucket=public, ACL="public-read")
    finally:
        for b in (plain, public):
            try:
                s3.delete_bucket(Bucket=b)
            except ClientError:
                pass


# ---------------------------------------------------------------------------
# item 10: ListenBucketNotification goes through the same authorization
# ---------------------------------------------------------------------------


def test_listen_honours_a_bucket_policy_deny(server, s3, bucket, tmp_path):
    """issue 19 item 10: an explicit Deny in the bucket policy refuses a
    listener whose identity policy allows s3:ListenBucketNotification."""
    user, secret = user_with_policy(server, tmp_path, policy(
        {"Effect": "Allow", "Action": "s3:ListenBucketNotification", "Resource": f"arn:aws:s3:::{bucket}"},
    ))
    assert listen_status(server, bucket, user, secret) == 200
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy(
        {"Effect": "Deny", "Principal": {"AWS": [user]}, "Action": "s3:ListenBucketNotification",
         "Resource": f"arn:aws:s3:::{bucket}"},
    )))
    got = listen_status(server, bucket, user, secret)
    assert got == 403, f"expected 403, got {got}"


def test_listen_binds_root_by_an_explicit_deny(server, s3, bucket):
    """issue 19 item 10: as for every other operation (Authz::check), an
    explicit Deny for Principal `*` binds the root user too."""
    assert listen_status(server, bucket) == 200
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy(
        {"Effect": "Deny", "Principal": "*", "Action": "s3:ListenBucketNotification",
         "Resource": f"arn:aws:s3:::{bucket}"},
    )))
    got = listen_status(server, bucket)
    assert got == 403, f"expected 403, got {got}"


# ---------------------------------------------------------------------------
# items 12 and 13: signature details checked on decoded values
# ---------------------------------------------------------------------------


def test_presign_cap_applies_to_a_percent_encoded_expires_name(s3, bucket):
    """issue 19 item 12: `X-Amz-%45xpires=4294967295` is X-Amz-Expires once
    decoded (the signature verifies over that name): over the 7-day cap."""
    s3.put_object(Bucket=bucket, Key="k", Body=b"secret")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"}, ExpiresIn=4294967295)
    assert "X-Amz-Expires=4294967295" in url
    assert status_of(url)[0] == 403  # the plain spelling is refused
    status, body = status_of(url.replace("X-Amz-Expires=", "X-Amz-%45xpires="))
    assert status in (400, 403), f"a 136-year presigned URL: expected 400/403, got {status} {body[:60]!r}"


def test_credential_scope_region_must_be_the_servers(server, bucket):
    """issue 19 item 13: a request signed for eu-west-1 is refused by a
    us-east-1 server with AuthorizationHeaderMalformed, as S3 does, naming
    the right region so that SDKs re-sign (boto3 then succeeds)."""
    import requests
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    url = f"{server.endpoint}/{bucket}?list-type=2"
    empty_sha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    req = AWSRequest(method="GET", url=url, headers={"x-amz-content-sha256": empty_sha256})
    SigV4Auth(Credentials(server.access_key, server.secret_key), "s3", "eu-west-1").add_auth(req)
    r = requests.get(url, headers=dict(req.headers), timeout=10)
    assert r.status_code == 400, f"signed for eu-west-1: expected 400, got {r.status_code} {r.text[:200]}"
    assert "<Code>AuthorizationHeaderMalformed</Code>" in r.text, r.text
    assert "<Region>us-east-1</Region>" in r.text and r.headers.get("x-amz-bucket-region") == "us-east-1"

    # The same for a presigned URL.
    req = AWSRequest(method="GET", url=url)
    from botocore.auth import S3SigV4QueryAuth
    S3SigV4QueryAuth(Credentials(server.access_key, server.secret_key), "s3", "eu-west-1", expires=60).add_auth(req)
    r = requests.get(req.url, timeout=10)
    assert r.status_code == 400 and "AuthorizationQueryParametersError" in r.text, r.text

    # An SDK told the wrong region follows the error's region and succeeds.
    wrong = boto3.client(
        "s3", endpoint_url=server.endpoint, region_name="eu-west-1",
        aws_access_key_id=server.access_key, aws_secret_access_key=server.secret_key,
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )
    wrong.list_objects_v2(Bucket=bucket)
