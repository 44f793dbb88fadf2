"""GetObjectAttributes, ListObjectVersions while versioning is off, and the
private-only ACL calls (owner FULL_CONTROL; other grants are refused until
access control lands, never silently dropped)."""

import pytest
from botocore.exceptions import ClientError

from conftest import error_code, http_status

MIB = 1024 * 1024


def test_object_attributes_single_and_multipart(s3, bucket):
    s3.put_object(Bucket=bucket, Key="one", Body=b"hello", ChecksumAlgorithm="SHA256")
    a = s3.get_object_attributes(
        Bucket=bucket, Key="one", ObjectAttributes=["ETag", "Checksum", "ObjectSize", "StorageClass"]
    )
    assert a["ObjectSize"] == 5
    assert a["ETag"] == "5d41402abc4b2a76b9719d911017c592"
    assert a["StorageClass"] == "STANDARD"
    assert a["Checksum"]["ChecksumSHA256"] == "LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ="

    up = s3.create_multipart_upload(Bucket=bucket, Key="mp", ChecksumAlgorithm="SHA256")
    parts = []
    for n, size in ((1, 5 * MIB), (2, 5 * MIB), (3, 10)):
        r = s3.upload_part(
            Bucket=bucket, Key="mp", UploadId=up["UploadId"], PartNumber=n, Body=b"x" * size, ChecksumAlgorithm="SHA256"
        )
        parts.append({"PartNumber": n, "ETag": r["ETag"], "ChecksumSHA256": r["ChecksumSHA256"]})
    s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=up["UploadId"], MultipartUpload={"Parts": parts})
    a = s3.get_object_attributes(Bucket=bucket, Key="mp", ObjectAttributes=["ObjectParts", "Checksum"], MaxParts=2)
    op = a["ObjectParts"]
    assert op["TotalPartsCount"] == 3
    assert op["IsTruncated"] is True
    assert [p["PartNumber"] for p in op["Parts"]] == [1, 2]
    assert op["Parts"][0]["ChecksumSHA256"] == parts[0]["ChecksumSHA256"]
    assert a["Checksum"]["ChecksumSHA256"].endswith("-3")


def test_list_object_versions_shows_null_versions(s3, bucket):
    for k in ("a", "b/c"):
        s3.put_object(Bucket=bucket, Key=k, Body=b"x")
    v = s3.list_object_versions(Bucket=bucket)
    assert [(x["Key"], x["VersionId"], x["IsLatest"]) for x in v["Versions"]] == [("a", "null", True), ("b/c", "null", True)]
    v = s3.list_object_versions(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in v["CommonPrefixes"]] == ["b/"]


def test_acls_are_private_only(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    acl = s3.get_object_acl(Bucket=bucket, Key="k")
    assert [g["Permission"] for g in acl["Grants"]] == ["FULL_CONTROL"]
    assert acl["Grants"][0]["Grantee"]["ID"] == acl["Owner"]["ID"]
    assert s3.get_bucket_acl(Bucket=bucket)["Grants"][0]["Permission"] == "FULL_CONTROL"
    s3.put_object_acl(Bucket=bucket, Key="k", ACL="private")
    s3.put_bucket_acl(Bucket=bucket, ACL="private")
    with pytest.raises(ClientError) as ei:
        s3.put_object_acl(Bucket=bucket, Key="k", ACL="public-read")
    assert error_code(ei.value) == "NotImplemented"
    assert http_status(ei.value) == 501
