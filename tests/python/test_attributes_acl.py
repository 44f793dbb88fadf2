"""GetObjectAttributes, ListObjectVersions while versioning is off, and
canned ACLs (grants no canned ACL can express are refused, never dropped)."""

import urllib.error
import urllib.request

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


def test_canned_acls(server, s3, bucket):
    def anon(method, path, data=None):
        req = urllib.request.Request(server.endpoint + path, data=data, method=method)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code

    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    acl = s3.get_object_acl(Bucket=bucket, Key="k")
    assert [g["Permission"] for g in acl["Grants"]] == ["FULL_CONTROL"]
    assert acl["Grants"][0]["Grantee"]["ID"] == acl["Owner"]["ID"]
    assert anon("GET", f"/{bucket}/k") == 403

    # Object public-read: that object, read only.
    s3.put_object_acl(Bucket=bucket, Key="k", ACL="public-read")
    grants = s3.get_object_acl(Bucket=bucket, Key="k")["Grants"]
    assert ("http://acs.amazonaws.com/groups/global/AllUsers", "READ") in {
        (g["Grantee"].get("URI"), g["Permission"]) for g in grants
    }
    assert anon("GET", f"/{bucket}/k") == 200
    assert anon("PUT", f"/{bucket}/k", b"evil") == 403
    assert anon("GET", f"/{bucket}?list-type=2") == 403
    s3.put_object(Bucket=bucket, Key="born-public", Body=b"y", ACL="public-read")
    assert anon("GET", f"/{bucket}/born-public") == 200

    # Bucket public-read: listing; public-read-write: writes too.
    s3.put_bucket_acl(Bucket=bucket, ACL="public-read")
    assert anon("GET", f"/{bucket}?list-type=2") == 200
    assert anon("GET", f"/{bucket}/missing") == 404  # may list, so may learn it is missing
    assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"] is True
    assert anon("PUT", f"/{bucket}/new", b"z") == 403
    s3.put_bucket_acl(Bucket=bucket, ACL="public-read-write")
    assert anon("PUT", f"/{bucket}/new", b"z") == 200
    assert anon("DELETE", f"/{bucket}/new") == 204
    s3.put_bucket_acl(Bucket=bucket, ACL="private")
    assert anon("GET", f"/{bucket}?list-type=2") == 403
    assert [g["Permission"] for g in s3.get_bucket_acl(Bucket=bucket)["Grants"]] == ["FULL_CONTROL"]

    # Grants that no canned ACL expresses are refused, not dropped.
    with pytest.raises(ClientError) as ei:
        s3.put_bucket_acl(Bucket=bucket, GrantRead='emailAddress="someone@example.com"')
    assert error_code(ei.value) == "NotImplemented"
    with pytest.raises(ClientError) as ei:
        s3.put_object_acl(Bucket=bucket, Key="k", ACL="not-a-canned-acl")
    assert http_status(ei.value) == 400
