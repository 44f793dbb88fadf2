"""Bucket-level operations: CreateBucket, HeadBucket, ListBuckets, DeleteBucket,
GetBucketLocation."""

import datetime
import uuid

import pytest
from botocore.exceptions import ClientError

from conftest import empty_and_delete_bucket, error_code, http_status, unique_bucket_name


def test_create_head_list_delete(s3):
    name = unique_bucket_name()
    resp = s3.create_bucket(Bucket=name)
    assert http_status(resp) == 200
    try:
        head = s3.head_bucket(Bucket=name)
        assert http_status(head) == 200

        listed = s3.list_buckets()
        by_name = {b["Name"]: b for b in listed["Buckets"]}
        assert name in by_name
        created = by_name[name]["CreationDate"]
        assert isinstance(created, datetime.datetime)
        now = datetime.datetime.now(datetime.timezone.utc)
        assert abs((now - created).total_seconds()) < 600
        assert "Owner" in listed
    finally:
        resp = s3.delete_bucket(Bucket=name)
    assert http_status(resp) == 204

    with pytest.raises(ClientError) as ei:
        s3.head_bucket(Bucket=name)
    assert http_status(ei.value) == 404
    assert name not in {b["Name"] for b in s3.list_buckets()["Buckets"]}


def test_list_buckets_sorted(s3, make_bucket):
    names = [make_bucket("zz"), make_bucket("aa"), make_bucket("mm")]
    listed = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    for n in names:
        assert n in listed
    assert listed == sorted(listed)


def test_recreate_own_bucket_in_us_east_1_is_a_no_op(s3, bucket):
    # AWS's legacy rule for us-east-1: 200, and nothing in the bucket changes.
    s3.put_object(Bucket=bucket, Key="kept", Body=b"x")
    s3.create_bucket(Bucket=bucket)
    assert s3.get_object(Bucket=bucket, Key="kept")["Body"].read() == b"x"


def test_create_existing_bucket_owned_by_you_outside_us_east_1(server_factory):
    srv = server_factory(extra_env={"MINIO_REGION": "eu-west-1"})
    s3 = srv.client()
    s3.create_bucket(Bucket="owned", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    with pytest.raises(ClientError) as ei:
        s3.create_bucket(Bucket="owned", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert error_code(ei.value) == "BucketAlreadyOwnedByYou"
    assert http_status(ei.value) == 409


@pytest.mark.parametrize(
    "name",
    [
        "ab",  # too short (< 3)
        "a" * 64,  # too long (> 63)
        "UpperCase-bucket",  # upper case not allowed
        "under_score",  # underscore not allowed
        "-leading-hyphen",  # must start with letter or digit
        "trailing-hyphen-",  # must end with letter or digit
        ".leading-dot",
        "trailing-dot.",
        "double..dot",  # adjacent periods
        "192.168.5.4",  # formatted as IP address
        "xn--punycode-prefix",  # reserved prefix
        "name-s3alias",  # reserved suffix
    ],
)
def test_invalid_bucket_names(s3, name):
    with pytest.raises(ClientError) as ei:
        s3.create_bucket(Bucket=name)
    assert error_code(ei.value) == "InvalidBucketName"
    assert http_status(ei.value) == 400


def test_valid_edge_bucket_names(s3):
    for name in [
        "abc",  # minimum length
        ("b" + uuid.uuid4().hex * 2)[:63],  # maximum length
        f"dots.{uuid.uuid4().hex[:12]}.x",
        f"9{uuid.uuid4().hex[:12]}",
        f"hy-phen--{uuid.uuid4().hex[:8]}",
    ]:
        s3.create_bucket(Bucket=name)
        try:
            assert http_status(s3.head_bucket(Bucket=name)) == 200
        finally:
            empty_and_delete_bucket(s3, name)


def test_no_such_bucket(s3):
    name = unique_bucket_name("missing")
    with pytest.raises(ClientError) as ei:
        s3.list_objects_v2(Bucket=name)
    assert error_code(ei.value) == "NoSuchBucket"
    assert http_status(ei.value) == 404
    assert ei.value.response["Error"].get("BucketName") in (None, name)

    with pytest.raises(ClientError) as ei:
        s3.delete_bucket(Bucket=name)
    assert error_code(ei.value) == "NoSuchBucket"
    assert http_status(ei.value) == 404

    with pytest.raises(ClientError) as ei:
        s3.put_object(Bucket=name, Key="k", Body=b"x")
    assert error_code(ei.value) == "NoSuchBucket"
    assert http_status(ei.value) == 404

    with pytest.raises(ClientError) as ei:
        s3.get_object(Bucket=name, Key="k")
    assert error_code(ei.value) == "NoSuchBucket"
    assert http_status(ei.value) == 404

    with pytest.raises(ClientError) as ei:
        s3.head_bucket(Bucket=name)
    assert http_status(ei.value) == 404

    with pytest.raises(ClientError) as ei:
        s3.get_bucket_location(Bucket=name)
    assert error_code(ei.value) == "NoSuchBucket"
    assert http_status(ei.value) == 404


def test_delete_bucket_not_empty(s3):
    name = unique_bucket_name()
    s3.create_bucket(Bucket=name)
    try:
        s3.put_object(Bucket=name, Key="obj", Body=b"data")
        with pytest.raises(ClientError) as ei:
            s3.delete_bucket(Bucket=name)
        assert error_code(ei.value) == "BucketNotEmpty"
        assert http_status(ei.value) == 409
        # still there and intact
        assert s3.get_object(Bucket=name, Key="obj")["Body"].read() == b"data"
        s3.delete_object(Bucket=name, Key="obj")
        assert http_status(s3.delete_bucket(Bucket=name)) == 204
    finally:
        empty_and_delete_bucket(s3, name)


def test_delete_bucket_with_pending_multipart_upload(s3):
    name = unique_bucket_name()
    s3.create_bucket(Bucket=name)
    try:
        up = s3.create_multipart_upload(Bucket=name, Key="pending")
        with pytest.raises(ClientError) as ei:
            s3.delete_bucket(Bucket=name)
        assert error_code(ei.value) == "BucketNotEmpty"
        assert http_status(ei.value) == 409
        s3.abort_multipart_upload(Bucket=name, Key="pending", UploadId=up["UploadId"])
        assert http_status(s3.delete_bucket(Bucket=name)) == 204
    finally:
        empty_and_delete_bucket(s3, name)


def test_get_bucket_location_default(s3, bucket):
    resp = s3.get_bucket_location(Bucket=bucket)
    # S3 reports null (empty LocationConstraint element) for us-east-1.
    assert resp.get("LocationConstraint") in (None, "")


def test_create_bucket_with_matching_location_constraint(s3):
    """The server runs in us-east-1.  AWS itself rejects an explicit
    ``us-east-1`` constraint with InvalidLocationConstraint, while most
    S3-compatible servers accept it.  Either is fine, but on success the
    bucket must exist and report a us-east-1 location."""
    name = unique_bucket_name()
    try:
        s3.create_bucket(
            Bucket=name, CreateBucketConfiguration={"LocationConstraint": "us-east-1"}
        )
    except ClientError as e:
        assert error_code(e) == "InvalidLocationConstraint"
        assert http_status(e) == 400
        return
    try:
        loc = s3.get_bucket_location(Bucket=name).get("LocationConstraint")
        assert loc in (None, "", "us-east-1")
    finally:
        empty_and_delete_bucket(s3, name)


def test_create_bucket_with_foreign_location_constraint(s3):
    name = unique_bucket_name()
    try:
        with pytest.raises(ClientError) as ei:
            s3.create_bucket(
                Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
            )
        assert http_status(ei.value) in (400, 409)
        assert error_code(ei.value) in (
            "IllegalLocationConstraintException",
            "InvalidLocationConstraint",
            "InvalidRegion",
            "AuthorizationHeaderMalformed",
        )
        with pytest.raises(ClientError) as ei:
            s3.head_bucket(Bucket=name)
        assert http_status(ei.value) == 404
    finally:
        empty_and_delete_bucket(s3, name)


def test_create_bucket_with_empty_configuration_body(s3):
    name = unique_bucket_name()
    try:
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={})
        assert http_status(s3.head_bucket(Bucket=name)) == 200
    finally:
        empty_and_delete_bucket(s3, name)
