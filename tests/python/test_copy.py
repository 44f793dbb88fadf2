"""CopyObject."""

import datetime
import os

import pytest
from botocore.exceptions import ClientError

from conftest import error_code, headers_of, http_status, md5_etag, unique_bucket_name

DAY = datetime.timedelta(days=1)
SRC_BODY = b"source object body " * 100


@pytest.fixture
def src(s3, bucket):
    s3.put_object(
        Bucket=bucket,
        Key="src/object.txt",
        Body=SRC_BODY,
        ContentType="text/plain",
        CacheControl="max-age=60",
        ContentDisposition="inline",
        ContentLanguage="de",
        Metadata={"origin": "source", "n": "1"},
    )
    head = s3.head_object(Bucket=bucket, Key="src/object.txt")
    return {"Bucket": bucket, "Key": "src/object.txt", "ETag": head["ETag"], "LastModified": head["LastModified"]}


def copy_source(src):
    return {"Bucket": src["Bucket"], "Key": src["Key"]}


def test_copy_same_bucket(s3, src):
    resp = s3.copy_object(Bucket=src["Bucket"], Key="dst/copy.txt", CopySource=copy_source(src))
    assert http_status(resp) == 200
    result = resp["CopyObjectResult"]
    assert result["ETag"] == md5_etag(SRC_BODY)
    assert isinstance(result["LastModified"], datetime.datetime)
    got = s3.get_object(Bucket=src["Bucket"], Key="dst/copy.txt")
    assert got["Body"].read() == SRC_BODY
    assert got["ETag"] == md5_etag(SRC_BODY)
    # default MetadataDirective is COPY
    assert got["Metadata"] == {"origin": "source", "n": "1"}
    assert got["ContentType"] == "text/plain"
    assert got["CacheControl"] == "max-age=60"
    assert got["ContentDisposition"] == "inline"
    assert got["ContentLanguage"] == "de"
    # source untouched
    assert s3.get_object(Bucket=src["Bucket"], Key=src["Key"])["Body"].read() == SRC_BODY


def test_copy_cross_bucket(s3, src, make_bucket):
    other = make_bucket("dst")
    resp = s3.copy_object(Bucket=other, Key="copied", CopySource=copy_source(src))
    assert resp["CopyObjectResult"]["ETag"] == md5_etag(SRC_BODY)
    got = s3.get_object(Bucket=other, Key="copied")
    assert got["Body"].read() == SRC_BODY
    assert got["Metadata"] == {"origin": "source", "n": "1"}


def test_copy_string_copy_source(s3, src):
    s3.copy_object(
        Bucket=src["Bucket"], Key="str-copy", CopySource=f"{src['Bucket']}/{src['Key']}"
    )
    assert s3.get_object(Bucket=src["Bucket"], Key="str-copy")["Body"].read() == SRC_BODY


def test_copy_odd_key_names(s3, bucket):
    key = "dir with space/ünïcode+plus%percent?q=1"
    s3.put_object(Bucket=bucket, Key=key, Body=b"odd")
    dst = "copy of/" + key
    s3.copy_object(Bucket=bucket, Key=dst, CopySource={"Bucket": bucket, "Key": key})
    assert s3.get_object(Bucket=bucket, Key=dst)["Body"].read() == b"odd"


def test_copy_overwrites_destination(s3, src):
    s3.put_object(Bucket=src["Bucket"], Key="existing", Body=b"old", Metadata={"old": "yes"})
    s3.copy_object(Bucket=src["Bucket"], Key="existing", CopySource=copy_source(src))
    got = s3.get_object(Bucket=src["Bucket"], Key="existing")
    assert got["Body"].read() == SRC_BODY
    assert got["Metadata"] == {"origin": "source", "n": "1"}


def test_metadata_directive_copy_ignores_new_metadata(s3, src):
    s3.copy_object(
        Bucket=src["Bucket"],
        Key="copy-dir",
        CopySource=copy_source(src),
        MetadataDirective="COPY",
        Metadata={"ignored": "yes"},
    )
    head = s3.head_object(Bucket=src["Bucket"], Key="copy-dir")
    assert head["Metadata"] == {"origin": "source", "n": "1"}
    assert head["ContentType"] == "text/plain"


def test_metadata_directive_replace(s3, src):
    s3.copy_object(
        Bucket=src["Bucket"],
        Key="replaced",
        CopySource=copy_source(src),
        MetadataDirective="REPLACE",
        Metadata={"fresh": "value"},
        ContentType="application/json",
    )
    head = s3.head_object(Bucket=src["Bucket"], Key="replaced")
    assert head["Metadata"] == {"fresh": "value"}
    assert head["ContentType"] == "application/json"
    # REPLACE drops the source's system metadata that was not re-specified.
    assert "CacheControl" not in head
    assert "ContentDisposition" not in head
    assert "ContentLanguage" not in head
    assert head["ETag"] == md5_etag(SRC_BODY)
    assert s3.get_object(Bucket=src["Bucket"], Key="replaced")["Body"].read() == SRC_BODY


def test_copy_onto_itself_without_replace_is_invalid(s3, src):
    with pytest.raises(ClientError) as ei:
        s3.copy_object(Bucket=src["Bucket"], Key=src["Key"], CopySource=copy_source(src))
    assert error_code(ei.value) == "InvalidRequest"
    assert http_status(ei.value) == 400
    with pytest.raises(ClientError) as ei:
        s3.copy_object(
            Bucket=src["Bucket"],
            Key=src["Key"],
            CopySource=copy_source(src),
            MetadataDirective="COPY",
        )
    assert error_code(ei.value) == "InvalidRequest"
    assert http_status(ei.value) == 400


def test_copy_onto_itself_with_replace(s3, src):
    resp = s3.copy_object(
        Bucket=src["Bucket"],
        Key=src["Key"],
        CopySource=copy_source(src),
        MetadataDirective="REPLACE",
        Metadata={"updated": "true"},
        ContentType="text/markdown",
    )
    assert http_status(resp) == 200
    got = s3.get_object(Bucket=src["Bucket"], Key=src["Key"])
    assert got["Body"].read() == SRC_BODY
    assert got["Metadata"] == {"updated": "true"}
    assert got["ContentType"] == "text/markdown"
    assert got["ETag"] == md5_etag(SRC_BODY)


def test_copy_missing_source(s3, bucket):
    with pytest.raises(ClientError) as ei:
        s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "nope"})
    assert error_code(ei.value) == "NoSuchKey"
    assert http_status(ei.value) == 404


def test_copy_missing_source_bucket(s3, bucket):
    with pytest.raises(ClientError) as ei:
        s3.copy_object(
            Bucket=bucket,
            Key="dst",
            CopySource={"Bucket": unique_bucket_name("missing"), "Key": "k"},
        )
    assert error_code(ei.value) == "NoSuchBucket"
    assert http_status(ei.value) == 404


def test_copy_to_missing_destination_bucket(s3, src):
    with pytest.raises(ClientError) as ei:
        s3.copy_object(Bucket=unique_bucket_name("missing"), Key="k", CopySource=copy_source(src))
    assert error_code(ei.value) == "NoSuchBucket"
    assert http_status(ei.value) == 404


def test_copy_empty_object(s3, bucket):
    s3.put_object(Bucket=bucket, Key="empty", Body=b"")
    resp = s3.copy_object(Bucket=bucket, Key="empty2", CopySource={"Bucket": bucket, "Key": "empty"})
    assert resp["CopyObjectResult"]["ETag"] == md5_etag(b"")
    got = s3.get_object(Bucket=bucket, Key="empty2")
    assert got["ContentLength"] == 0


def test_copy_multipart_source(s3, bucket):
    a, b = os.urandom(5 * 1024 * 1024), os.urandom(1000)
    uid = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    p1 = s3.upload_part(Bucket=bucket, Key="mp", UploadId=uid, PartNumber=1, Body=a)
    p2 = s3.upload_part(Bucket=bucket, Key="mp", UploadId=uid, PartNumber=2, Body=b)
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="mp",
        UploadId=uid,
        MultipartUpload={
            "Parts": [{"PartNumber": 1, "ETag": p1["ETag"]}, {"PartNumber": 2, "ETag": p2["ETag"]}]
        },
    )
    s3.copy_object(Bucket=bucket, Key="mp-copy", CopySource={"Bucket": bucket, "Key": "mp"})
    got = s3.get_object(Bucket=bucket, Key="mp-copy")
    assert got["ContentLength"] == len(a) + len(b)
    assert got["Body"].read() == a + b


# ---------------------------------------------------------------------------
# x-amz-copy-source-if-*
# ---------------------------------------------------------------------------


def expect_copy(s3, src, ok, **cond):
    if ok:
        resp = s3.copy_object(
            Bucket=src["Bucket"], Key="cond-dst", CopySource=copy_source(src), **cond
        )
        assert http_status(resp) == 200
        assert s3.get_object(Bucket=src["Bucket"], Key="cond-dst")["Body"].read() == SRC_BODY
        s3.delete_object(Bucket=src["Bucket"], Key="cond-dst")
        return
    with pytest.raises(ClientError) as ei:
        s3.copy_object(Bucket=src["Bucket"], Key="cond-dst", CopySource=copy_source(src), **cond)
    assert error_code(ei.value) == "PreconditionFailed"
    assert http_status(ei.value) == 412
    with pytest.raises(ClientError) as ei:
        s3.head_object(Bucket=src["Bucket"], Key="cond-dst")
    assert http_status(ei.value) == 404


def test_copy_source_if_match(s3, src):
    expect_copy(s3, src, True, CopySourceIfMatch=src["ETag"])
    expect_copy(s3, src, False, CopySourceIfMatch='"0123456789abcdef0123456789abcdef"')


def test_copy_source_if_none_match(s3, src):
    expect_copy(s3, src, True, CopySourceIfNoneMatch='"0123456789abcdef0123456789abcdef"')
    expect_copy(s3, src, False, CopySourceIfNoneMatch=src["ETag"])


def test_copy_source_if_modified_since(s3, src):
    expect_copy(s3, src, True, CopySourceIfModifiedSince=src["LastModified"] - DAY)
    expect_copy(s3, src, False, CopySourceIfModifiedSince=src["LastModified"] + DAY)


def test_copy_source_if_unmodified_since(s3, src):
    expect_copy(s3, src, True, CopySourceIfUnmodifiedSince=src["LastModified"] + DAY)
    expect_copy(s3, src, False, CopySourceIfUnmodifiedSince=src["LastModified"] - DAY)


def test_copy_source_if_match_true_and_unmodified_since_false(s3, src):
    # S3 docs: if-match true + if-unmodified-since false -> 200 OK, copy happens.
    expect_copy(
        s3,
        src,
        True,
        CopySourceIfMatch=src["ETag"],
        CopySourceIfUnmodifiedSince=src["LastModified"] - DAY,
    )


def test_copy_source_if_none_match_false_and_modified_since_true(s3, src):
    # S3 docs: if-none-match false + if-modified-since true -> 412.
    expect_copy(
        s3,
        src,
        False,
        CopySourceIfNoneMatch=src["ETag"],
        CopySourceIfModifiedSince=src["LastModified"] - DAY,
    )


def test_copy_response_headers(s3, src):
    resp = s3.copy_object(Bucket=src["Bucket"], Key="hdr", CopySource=copy_source(src))
    assert "x-amz-request-id" in headers_of(resp)
