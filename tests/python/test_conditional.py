"""Conditional requests: If-Match, If-None-Match, If-Modified-Since,
If-Unmodified-Since on GET/HEAD (RFC 9110 section 13.2.2 precedence) and
conditional writes (PutObject / CompleteMultipartUpload)."""

import datetime

import pytest
from botocore.exceptions import ClientError

from conftest import error_code, http_status, md5_etag, multipart_etag

DAY = datetime.timedelta(days=1)
BODY = b"conditional body"


@pytest.fixture
def obj(s3, bucket):
    s3.put_object(Bucket=bucket, Key="c", Body=BODY)
    head = s3.head_object(Bucket=bucket, Key="c")
    return bucket, head["ETag"], head["LastModified"]


def call(s3, method, bucket, **kwargs):
    if method == "get":
        return s3.get_object(Bucket=bucket, Key="c", **kwargs)
    return s3.head_object(Bucket=bucket, Key="c", **kwargs)


def expect_status(s3, method, bucket, status, **kwargs):
    if status == 200:
        resp = call(s3, method, bucket, **kwargs)
        assert http_status(resp) == 200
        if method == "get":
            assert resp["Body"].read() == BODY
        return resp
    with pytest.raises(ClientError) as ei:
        call(s3, method, bucket, **kwargs)
    assert http_status(ei.value) == status
    if status == 412:
        # GET carries an XML error body; HEAD has none, botocore uses the status.
        assert error_code(ei.value) in (("PreconditionFailed",) if method == "get" else ("PreconditionFailed", "412"))
    if status == 304:
        assert error_code(ei.value) in ("304", "NotModified")
        # 304 must still carry the validators.
        hdrs = ei.value.response["ResponseMetadata"]["HTTPHeaders"]
        assert hdrs.get("etag") == call(s3, "head", bucket)["ETag"]
    return ei.value


METHODS = ["get", "head"]


@pytest.mark.parametrize("method", METHODS)
def test_if_match(s3, obj, method):
    bucket, etag, _ = obj
    expect_status(s3, method, bucket, 200, IfMatch=etag)
    expect_status(s3, method, bucket, 200, IfMatch="*")
    expect_status(s3, method, bucket, 412, IfMatch='"0123456789abcdef0123456789abcdef"')


@pytest.mark.parametrize("method", METHODS)
def test_if_none_match(s3, obj, method):
    bucket, etag, _ = obj
    expect_status(s3, method, bucket, 304, IfNoneMatch=etag)
    expect_status(s3, method, bucket, 304, IfNoneMatch="*")
    expect_status(s3, method, bucket, 200, IfNoneMatch='"0123456789abcdef0123456789abcdef"')


@pytest.mark.parametrize("method", METHODS)
def test_if_modified_since(s3, obj, method):
    bucket, _, last_modified = obj
    expect_status(s3, method, bucket, 200, IfModifiedSince=last_modified - DAY)
    expect_status(s3, method, bucket, 304, IfModifiedSince=last_modified + DAY)
    # Not modified *since* the exact Last-Modified instant.
    expect_status(s3, method, bucket, 304, IfModifiedSince=last_modified)


@pytest.mark.parametrize("method", METHODS)
def test_if_unmodified_since(s3, obj, method):
    bucket, _, last_modified = obj
    expect_status(s3, method, bucket, 200, IfUnmodifiedSince=last_modified + DAY)
    expect_status(s3, method, bucket, 200, IfUnmodifiedSince=last_modified)
    expect_status(s3, method, bucket, 412, IfUnmodifiedSince=last_modified - DAY)


@pytest.mark.parametrize("method", METHODS)
def test_if_match_true_overrides_if_unmodified_since_false(s3, obj, method):
    # RFC 9110 / S3 docs: If-Unmodified-Since is ignored when If-Match is present.
    bucket, etag, last_modified = obj
    expect_status(s3, method, bucket, 200, IfMatch=etag, IfUnmodifiedSince=last_modified - DAY)


@pytest.mark.parametrize("method", METHODS)
def test_if_match_false_with_if_unmodified_since_true(s3, obj, method):
    bucket, _, last_modified = obj
    expect_status(
        s3, method, bucket, 412, IfMatch='"nope"', IfUnmodifiedSince=last_modified + DAY
    )


@pytest.mark.parametrize("method", METHODS)
def test_if_none_match_false_overrides_if_modified_since_true(s3, obj, method):
    # S3 docs: If-None-Match false and If-Modified-Since true -> 304.
    bucket, etag, last_modified = obj
    expect_status(s3, method, bucket, 304, IfNoneMatch=etag, IfModifiedSince=last_modified - DAY)


@pytest.mark.parametrize("method", METHODS)
def test_if_none_match_true_ignores_if_modified_since(s3, obj, method):
    # RFC 9110 13.2.2 step 4: If-Modified-Since is only evaluated when
    # If-None-Match is absent.
    bucket, _, last_modified = obj
    expect_status(
        s3, method, bucket, 200, IfNoneMatch='"other"', IfModifiedSince=last_modified + DAY
    )


@pytest.mark.parametrize("method", METHODS)
def test_if_match_false_beats_if_none_match(s3, obj, method):
    # Precondition failure (412) is evaluated before 304.
    bucket, etag, _ = obj
    expect_status(s3, method, bucket, 412, IfMatch='"nope"', IfNoneMatch=etag)


def test_conditional_with_range(s3, obj):
    bucket, etag, _ = obj
    got = s3.get_object(Bucket=bucket, Key="c", IfMatch=etag, Range="bytes=0-3")
    assert http_status(got) == 206
    assert got["Body"].read() == BODY[:4]
    with pytest.raises(ClientError) as ei:
        s3.get_object(Bucket=bucket, Key="c", IfMatch='"nope"', Range="bytes=0-3")
    assert http_status(ei.value) == 412


def test_conditional_on_missing_key_is_404(s3, bucket):
    with pytest.raises(ClientError) as ei:
        s3.get_object(Bucket=bucket, Key="missing", IfNoneMatch='"x"')
    assert http_status(ei.value) == 404
    assert error_code(ei.value) == "NoSuchKey"


# ---------------------------------------------------------------------------
# conditional writes
# ---------------------------------------------------------------------------


def test_put_if_none_match_star(s3, bucket):
    r = s3.put_object(Bucket=bucket, Key="once", Body=b"first", IfNoneMatch="*")
    assert http_status(r) == 200
    with pytest.raises(ClientError) as ei:
        s3.put_object(Bucket=bucket, Key="once", Body=b"second", IfNoneMatch="*")
    assert error_code(ei.value) == "PreconditionFailed"
    assert http_status(ei.value) == 412
    assert s3.get_object(Bucket=bucket, Key="once")["Body"].read() == b"first"


def test_put_if_none_match_star_after_delete(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"1")
    s3.delete_object(Bucket=bucket, Key="k")
    s3.put_object(Bucket=bucket, Key="k", Body=b"2", IfNoneMatch="*")
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"2"


def test_put_if_match(s3, bucket):
    first = s3.put_object(Bucket=bucket, Key="cas", Body=b"v1")
    assert first["ETag"] == md5_etag(b"v1")
    with pytest.raises(ClientError) as ei:
        s3.put_object(Bucket=bucket, Key="cas", Body=b"v2", IfMatch=md5_etag(b"not-v1"))
    assert error_code(ei.value) == "PreconditionFailed"
    assert http_status(ei.value) == 412
    assert s3.get_object(Bucket=bucket, Key="cas")["Body"].read() == b"v1"

    second = s3.put_object(Bucket=bucket, Key="cas", Body=b"v2", IfMatch=first["ETag"])
    assert http_status(second) == 200
    assert s3.get_object(Bucket=bucket, Key="cas")["Body"].read() == b"v2"

    # The old ETag no longer matches.
    with pytest.raises(ClientError) as ei:
        s3.put_object(Bucket=bucket, Key="cas", Body=b"v3", IfMatch=first["ETag"])
    assert http_status(ei.value) == 412


def test_put_if_match_missing_key(s3, bucket):
    # S3 user guide (conditional writes): If-Match on a key without a current
    # object fails with 404 NoSuchKey.
    with pytest.raises(ClientError) as ei:
        s3.put_object(Bucket=bucket, Key="absent", Body=b"x", IfMatch=md5_etag(b"x"))
    assert error_code(ei.value) == "NoSuchKey"
    assert http_status(ei.value) == 404
    with pytest.raises(ClientError) as ei:
        s3.head_object(Bucket=bucket, Key="absent")
    assert http_status(ei.value) == 404


def _one_part_upload(s3, bucket, key, data):
    uid = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    r = s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=1, Body=data)
    return uid, [{"PartNumber": 1, "ETag": r["ETag"]}]


def test_complete_multipart_if_none_match(s3, bucket):
    # Key does not exist yet: succeeds.
    uid, parts = _one_part_upload(s3, bucket, "mpc", b"first")
    done = s3.complete_multipart_upload(
        Bucket=bucket, Key="mpc", UploadId=uid, MultipartUpload={"Parts": parts}, IfNoneMatch="*"
    )
    assert done["ETag"] == multipart_etag([b"first"])

    # Key exists now: 412 and the object is unchanged.
    uid2, parts2 = _one_part_upload(s3, bucket, "mpc", b"second")
    with pytest.raises(ClientError) as ei:
        s3.complete_multipart_upload(
            Bucket=bucket,
            Key="mpc",
            UploadId=uid2,
            MultipartUpload={"Parts": parts2},
            IfNoneMatch="*",
        )
    assert error_code(ei.value) == "PreconditionFailed"
    assert http_status(ei.value) == 412
    assert s3.get_object(Bucket=bucket, Key="mpc")["Body"].read() == b"first"
    s3.abort_multipart_upload(Bucket=bucket, Key="mpc", UploadId=uid2)


def test_complete_multipart_if_match(s3, bucket):
    s3.put_object(Bucket=bucket, Key="mpm", Body=b"base")
    uid, parts = _one_part_upload(s3, bucket, "mpm", b"next")
    with pytest.raises(ClientError) as ei:
        s3.complete_multipart_upload(
            Bucket=bucket,
            Key="mpm",
            UploadId=uid,
            MultipartUpload={"Parts": parts},
            IfMatch=md5_etag(b"not-base"),
        )
    assert http_status(ei.value) == 412
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="mpm",
        UploadId=uid,
        MultipartUpload={"Parts": parts},
        IfMatch=md5_etag(b"base"),
    )
    assert s3.get_object(Bucket=bucket, Key="mpm")["Body"].read() == b"next"


def test_put_with_if_match_and_if_none_match_needs_both(s3, bucket):
    etag = s3.put_object(Bucket=bucket, Key="both", Body=b"v1")["ETag"]
    # Both hold: the current ETag matches and is not the other one.
    s3.put_object(Bucket=bucket, Key="both", Body=b"v2", IfMatch=etag, IfNoneMatch='"0000"')
    current = s3.head_object(Bucket=bucket, Key="both")["ETag"]
    # One fails: nothing is written.
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="both", Body=b"v3", IfMatch=current, IfNoneMatch=current)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    assert s3.get_object(Bucket=bucket, Key="both")["Body"].read() == b"v2"
