"""Versioning through boto3: versions, the null version, delete markers,
reads and deletes by version id, and ListObjectVersions with prefixes,
delimiters and markers (seeds keep versions of customer photos)."""

import pytest
from botocore.exceptions import ClientError

from conftest import error_code, http_status, headers_of


def enable(s3, bucket, status="Enabled"):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": status})


def versions_of(s3, bucket, **kw):
    r = s3.list_object_versions(Bucket=bucket, **kw)
    return (
        [(v["Key"], v["VersionId"], v["IsLatest"]) for v in r.get("Versions", [])],
        [(m["Key"], m["VersionId"], m["IsLatest"]) for m in r.get("DeleteMarkers", [])],
        r,
    )


def test_status_round_trip(s3, bucket):
    assert "Status" not in s3.get_bucket_versioning(Bucket=bucket)
    enable(s3, bucket)
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    enable(s3, bucket, "Suspended")
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Suspended"
    with pytest.raises(ClientError) as e:
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Off"})
    assert error_code(e.value) == "MalformedXML"


def test_versions_reads_and_restore(s3, bucket):
    enable(s3, bucket)
    ids = [s3.put_object(Bucket=bucket, Key="photo.jpg", Body=f"v{i}".encode())["VersionId"] for i in range(3)]
    assert len(set(ids)) == 3 and "null" not in ids
    assert s3.get_object(Bucket=bucket, Key="photo.jpg")["Body"].read() == b"v2"
    old = s3.get_object(Bucket=bucket, Key="photo.jpg", VersionId=ids[0])
    assert old["Body"].read() == b"v0" and old["VersionId"] == ids[0]
    assert s3.head_object(Bucket=bucket, Key="photo.jpg", VersionId=ids[1])["ContentLength"] == 2
    versions, markers, _ = versions_of(s3, bucket)
    assert versions == [("photo.jpg", ids[2], True), ("photo.jpg", ids[1], False), ("photo.jpg", ids[0], False)]
    assert markers == []
    # Restore an old version by copying it over the key: a new version.
    r = s3.copy_object(Bucket=bucket, Key="photo.jpg", CopySource={"Bucket": bucket, "Key": "photo.jpg", "VersionId": ids[0]})
    assert r["CopySourceVersionId"] == ids[0] and r["VersionId"] not in ids
    assert s3.get_object(Bucket=bucket, Key="photo.jpg")["Body"].read() == b"v0"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="photo.jpg", VersionId="0" * 32)
    assert error_code(e.value) == "NoSuchVersion"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="photo.jpg", VersionId="not-a-version")
    assert error_code(e.value) == "InvalidArgument"


def test_delete_markers(s3, bucket):
    enable(s3, bucket)
    v1 = s3.put_object(Bucket=bucket, Key="doc.pdf", Body=b"pdf")["VersionId"]
    d = s3.delete_object(Bucket=bucket, Key="doc.pdf")
    assert d["DeleteMarker"] is True
    marker = d["VersionId"]
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="doc.pdf")
    assert error_code(e.value) == "NoSuchKey"
    assert headers_of(e.value)["x-amz-delete-marker"] == "true"
    assert headers_of(e.value)["x-amz-version-id"] == marker
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="doc.pdf", VersionId=marker)
    assert http_status(e.value) == 405
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0
    versions, markers, _ = versions_of(s3, bucket)
    assert versions == [("doc.pdf", v1, False)] and markers == [("doc.pdf", marker, True)]
    # Removing the marker brings the object back.
    r = s3.delete_object(Bucket=bucket, Key="doc.pdf", VersionId=marker)
    assert r["DeleteMarker"] is True and r["VersionId"] == marker
    assert s3.get_object(Bucket=bucket, Key="doc.pdf")["Body"].read() == b"pdf"
    # Removing the last version removes the key for good.
    s3.delete_object(Bucket=bucket, Key="doc.pdf", VersionId=v1)
    assert versions_of(s3, bucket)[:2] == ([], [])


def test_suspended_writes_the_null_version(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"before")  # the null version
    enable(s3, bucket)
    v = s3.put_object(Bucket=bucket, Key="k", Body=b"versioned")["VersionId"]
    enable(s3, bucket, "Suspended")
    s3.put_object(Bucket=bucket, Key="k", Body=b"s1")
    s3.put_object(Bucket=bucket, Key="k", Body=b"s2")  # replaces the null version
    versions, _, _ = versions_of(s3, bucket)
    assert versions == [("k", "null", True), ("k", v, False)]
    assert s3.get_object(Bucket=bucket, Key="k", VersionId="null")["Body"].read() == b"s2"
    assert s3.get_object(Bucket=bucket, Key="k", VersionId=v)["Body"].read() == b"versioned"
    # A delete while suspended leaves a null delete marker in place of the null version.
    s3.delete_object(Bucket=bucket, Key="k")
    versions, markers, _ = versions_of(s3, bucket)
    assert versions == [("k", v, False)] and markers == [("k", "null", True)]


def test_listing_with_prefix_delimiter_and_markers(s3, bucket):
    enable(s3, bucket)
    expected = []
    for key in ["a/1", "a/2", "b", "c/x/1"]:
        ids = [s3.put_object(Bucket=bucket, Key=key, Body=b"x")["VersionId"] for _ in range(2)]
        expected += [(key, ids[1]), (key, ids[0])]
    # Paged two at a time, the versions come back in order, each once.
    got, kw = [], {}
    for _ in range(20):
        r = s3.list_object_versions(Bucket=bucket, MaxKeys=3, **kw)
        got += [(v["Key"], v["VersionId"]) for v in r.get("Versions", [])]
        if not r["IsTruncated"]:
            break
        kw = {"KeyMarker": r["NextKeyMarker"], "VersionIdMarker": r["NextVersionIdMarker"]}
    assert got == expected
    r = s3.list_object_versions(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["a/", "c/"]
    assert [v["Key"] for v in r["Versions"]] == ["b", "b"]
    r = s3.list_object_versions(Bucket=bucket, Prefix="a/", KeyMarker="a/1")
    assert [v["Key"] for v in r["Versions"]] == ["a/2", "a/2"]


def test_delete_objects_with_versions(s3, bucket):
    enable(s3, bucket)
    v1 = s3.put_object(Bucket=bucket, Key="x", Body=b"1")["VersionId"]
    s3.put_object(Bucket=bucket, Key="x", Body=b"2")
    s3.put_object(Bucket=bucket, Key="y", Body=b"y")
    r = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "x", "VersionId": v1}, {"Key": "y"}]})
    by_key = {d["Key"]: d for d in r["Deleted"]}
    assert by_key["x"]["VersionId"] == v1
    assert by_key["y"]["DeleteMarker"] is True and by_key["y"]["DeleteMarkerVersionId"]
    versions, markers, _ = versions_of(s3, bucket)
    assert [v[0] for v in versions] == ["x", "y"] and [m[0] for m in markers] == ["y"]


def test_multipart_and_bucket_delete(s3, bucket):
    enable(s3, bucket)
    mp = s3.create_multipart_upload(Bucket=bucket, Key="big")
    p = s3.upload_part(Bucket=bucket, Key="big", UploadId=mp["UploadId"], PartNumber=1, Body=b"z" * 10)
    r = s3.complete_multipart_upload(Bucket=bucket, Key="big", UploadId=mp["UploadId"],
                                     MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": p["ETag"]}]})
    vid = r["VersionId"]
    s3.delete_object(Bucket=bucket, Key="big")
    with pytest.raises(ClientError) as e:
        s3.delete_bucket(Bucket=bucket)
    assert error_code(e.value) == "BucketNotEmpty"
    versions, markers, _ = versions_of(s3, bucket)
    for key, v, _ in versions + markers:
        s3.delete_object(Bucket=bucket, Key=key, VersionId=v)
    assert vid in [v for _, v, _ in versions]
    s3.delete_bucket(Bucket=bucket)
    s3.create_bucket(Bucket=bucket)  # for the fixture's cleanup
