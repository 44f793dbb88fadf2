"""Multipart uploads."""

import hashlib
import os

import pytest
from botocore.exceptions import ClientError

from conftest import error_code, http_status, md5_etag, multipart_etag

MiB = 1024 * 1024


def upload_parts(s3, bucket, key, upload_id, datas, start=1):
    parts = []
    for n, data in enumerate(datas, start=start):
        r = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=n, Body=data)
        assert r["ETag"] == md5_etag(data)
        parts.append({"PartNumber": n, "ETag": r["ETag"]})
    return parts


def test_basic_multipart(s3, bucket):
    datas = [os.urandom(5 * MiB), os.urandom(5 * MiB), os.urandom(12345)]
    up = s3.create_multipart_upload(
        Bucket=bucket, Key="mp", ContentType="application/x-test", Metadata={"k": "v"}
    )
    assert up["Bucket"] == bucket
    assert up["Key"] == "mp"
    upload_id = up["UploadId"]
    assert upload_id

    # Not visible before completion.
    with pytest.raises(ClientError) as ei:
        s3.head_object(Bucket=bucket, Key="mp")
    assert http_status(ei.value) == 404

    parts = upload_parts(s3, bucket, "mp", upload_id, datas)
    done = s3.complete_multipart_upload(
        Bucket=bucket, Key="mp", UploadId=upload_id, MultipartUpload={"Parts": parts}
    )
    assert http_status(done) == 200
    assert done["Bucket"] == bucket
    assert done["Key"] == "mp"
    assert done["ETag"] == multipart_etag(datas)

    head = s3.head_object(Bucket=bucket, Key="mp")
    assert head["ETag"] == multipart_etag(datas)
    assert head["ContentLength"] == sum(map(len, datas))
    assert head["ContentType"] == "application/x-test"
    assert head["Metadata"] == {"k": "v"}
    got = s3.get_object(Bucket=bucket, Key="mp")["Body"].read()
    assert got == b"".join(datas)

    # The upload is gone after completion.
    with pytest.raises(ClientError) as ei:
        s3.list_parts(Bucket=bucket, Key="mp", UploadId=upload_id)
    assert error_code(ei.value) == "NoSuchUpload"
    assert http_status(ei.value) == 404
    assert not s3.list_multipart_uploads(Bucket=bucket).get("Uploads")


def test_single_small_part(s3, bucket):
    # The last (here: only) part may be smaller than 5 MiB.
    data = b"tiny"
    up = s3.create_multipart_upload(Bucket=bucket, Key="one")
    parts = upload_parts(s3, bucket, "one", up["UploadId"], [data])
    done = s3.complete_multipart_upload(
        Bucket=bucket, Key="one", UploadId=up["UploadId"], MultipartUpload={"Parts": parts}
    )
    assert done["ETag"] == multipart_etag([data])
    assert s3.get_object(Bucket=bucket, Key="one")["Body"].read() == data


def test_complete_with_subset_and_gaps(s3, bucket):
    a, b, c = os.urandom(5 * MiB), os.urandom(5 * MiB), os.urandom(100)
    up = s3.create_multipart_upload(Bucket=bucket, Key="gaps")
    uid = up["UploadId"]
    p1 = s3.upload_part(Bucket=bucket, Key="gaps", UploadId=uid, PartNumber=1, Body=a)
    s3.upload_part(Bucket=bucket, Key="gaps", UploadId=uid, PartNumber=2, Body=b)
    p5 = s3.upload_part(Bucket=bucket, Key="gaps", UploadId=uid, PartNumber=5, Body=c)
    # Part numbers need not be consecutive; unused parts are discarded.
    done = s3.complete_multipart_upload(
        Bucket=bucket,
        Key="gaps",
        UploadId=uid,
        MultipartUpload={
            "Parts": [{"PartNumber": 1, "ETag": p1["ETag"]}, {"PartNumber": 5, "ETag": p5["ETag"]}]
        },
    )
    assert done["ETag"] == multipart_etag([a, c])
    assert s3.get_object(Bucket=bucket, Key="gaps")["Body"].read() == a + c


def test_list_parts(s3, bucket):
    up = s3.create_multipart_upload(Bucket=bucket, Key="lp")
    uid = up["UploadId"]
    datas = [os.urandom(1000 + i) for i in range(5)]
    parts = upload_parts(s3, bucket, "lp", uid, datas)

    resp = s3.list_parts(Bucket=bucket, Key="lp", UploadId=uid)
    assert resp["Bucket"] == bucket
    assert resp["Key"] == "lp"
    assert resp["UploadId"] == uid
    assert resp["IsTruncated"] is False
    assert [p["PartNumber"] for p in resp["Parts"]] == [1, 2, 3, 4, 5]
    assert [p["ETag"] for p in resp["Parts"]] == [p["ETag"] for p in parts]
    assert [p["Size"] for p in resp["Parts"]] == [len(d) for d in datas]
    assert all("LastModified" in p for p in resp["Parts"])

    page1 = s3.list_parts(Bucket=bucket, Key="lp", UploadId=uid, MaxParts=2)
    assert [p["PartNumber"] for p in page1["Parts"]] == [1, 2]
    assert page1["IsTruncated"] is True
    assert page1["MaxParts"] == 2
    assert page1["NextPartNumberMarker"] == 2
    page2 = s3.list_parts(
        Bucket=bucket, Key="lp", UploadId=uid, MaxParts=2, PartNumberMarker=page1["NextPartNumberMarker"]
    )
    assert [p["PartNumber"] for p in page2["Parts"]] == [3, 4]
    assert page2["PartNumberMarker"] == 2
    page3 = s3.list_parts(Bucket=bucket, Key="lp", UploadId=uid, MaxParts=2, PartNumberMarker=4)
    assert [p["PartNumber"] for p in page3["Parts"]] == [5]
    assert page3["IsTruncated"] is False

    s3.abort_multipart_upload(Bucket=bucket, Key="lp", UploadId=uid)


def test_list_multipart_uploads(s3, bucket):
    keys = ["docs/a", "docs/b", "docs/sub/c", "img/d", "top"]
    ids = {}
    for k in keys:
        ids[k] = s3.create_multipart_upload(Bucket=bucket, Key=k)["UploadId"]
    # two uploads for the same key
    second_top = s3.create_multipart_upload(Bucket=bucket, Key="top")["UploadId"]

    resp = s3.list_multipart_uploads(Bucket=bucket)
    assert resp["Bucket"] == bucket
    uploads = resp["Uploads"]
    assert [u["Key"] for u in uploads] == ["docs/a", "docs/b", "docs/sub/c", "img/d", "top", "top"]
    assert {u["UploadId"] for u in uploads} == set(ids.values()) | {second_top}
    assert all("Initiated" in u for u in uploads)

    resp = s3.list_multipart_uploads(Bucket=bucket, Prefix="docs/")
    assert [u["Key"] for u in resp["Uploads"]] == ["docs/a", "docs/b", "docs/sub/c"]
    assert resp["Prefix"] == "docs/"

    resp = s3.list_multipart_uploads(Bucket=bucket, Delimiter="/")
    assert [u["Key"] for u in resp.get("Uploads", [])] == ["top", "top"]
    assert [p["Prefix"] for p in resp["CommonPrefixes"]] == ["docs/", "img/"]

    resp = s3.list_multipart_uploads(Bucket=bucket, Prefix="docs/", Delimiter="/")
    assert [u["Key"] for u in resp["Uploads"]] == ["docs/a", "docs/b"]
    assert [p["Prefix"] for p in resp["CommonPrefixes"]] == ["docs/sub/"]

    page = s3.list_multipart_uploads(Bucket=bucket, MaxUploads=2)
    assert [u["Key"] for u in page["Uploads"]] == ["docs/a", "docs/b"]
    assert page["IsTruncated"] is True
    assert page["NextKeyMarker"] == "docs/b"
    page2 = s3.list_multipart_uploads(
        Bucket=bucket,
        MaxUploads=2,
        KeyMarker=page["NextKeyMarker"],
        UploadIdMarker=page["NextUploadIdMarker"],
    )
    assert [u["Key"] for u in page2["Uploads"]] == ["docs/sub/c", "img/d"]

    # Paginator walks all of them exactly once.
    seen = []
    for p in s3.get_paginator("list_multipart_uploads").paginate(
        Bucket=bucket, PaginationConfig={"PageSize": 2}
    ):
        seen += [(u["Key"], u["UploadId"]) for u in p.get("Uploads", [])]
    assert len(seen) == 6
    assert len(set(seen)) == 6


def test_abort(s3, bucket):
    up = s3.create_multipart_upload(Bucket=bucket, Key="ab")
    uid = up["UploadId"]
    upload_parts(s3, bucket, "ab", uid, [b"part-one"])
    resp = s3.abort_multipart_upload(Bucket=bucket, Key="ab", UploadId=uid)
    assert http_status(resp) == 204

    with pytest.raises(ClientError) as ei:
        s3.list_parts(Bucket=bucket, Key="ab", UploadId=uid)
    assert error_code(ei.value) == "NoSuchUpload"
    assert http_status(ei.value) == 404

    with pytest.raises(ClientError) as ei:
        s3.upload_part(Bucket=bucket, Key="ab", UploadId=uid, PartNumber=2, Body=b"x")
    assert error_code(ei.value) == "NoSuchUpload"
    assert http_status(ei.value) == 404

    with pytest.raises(ClientError) as ei:
        s3.complete_multipart_upload(
            Bucket=bucket,
            Key="ab",
            UploadId=uid,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": md5_etag(b"part-one")}]},
        )
    assert error_code(ei.value) == "NoSuchUpload"
    assert http_status(ei.value) == 404

    assert not s3.list_multipart_uploads(Bucket=bucket).get("Uploads")
    with pytest.raises(ClientError) as ei:
        s3.head_object(Bucket=bucket, Key="ab")
    assert http_status(ei.value) == 404


def test_no_such_upload(s3, bucket):
    bogus = "bm90LWEtcmVhbC11cGxvYWQtaWQ"
    for call in (
        lambda: s3.upload_part(Bucket=bucket, Key="k", UploadId=bogus, PartNumber=1, Body=b"x"),
        lambda: s3.list_parts(Bucket=bucket, Key="k", UploadId=bogus),
        lambda: s3.abort_multipart_upload(Bucket=bucket, Key="k", UploadId=bogus),
        lambda: s3.complete_multipart_upload(
            Bucket=bucket,
            Key="k",
            UploadId=bogus,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": md5_etag(b"x")}]},
        ),
    ):
        with pytest.raises(ClientError) as ei:
            call()
        assert error_code(ei.value) == "NoSuchUpload"
        assert http_status(ei.value) == 404


def test_upload_id_bound_to_key(s3, bucket):
    uid = s3.create_multipart_upload(Bucket=bucket, Key="right")["UploadId"]
    with pytest.raises(ClientError) as ei:
        s3.upload_part(Bucket=bucket, Key="wrong", UploadId=uid, PartNumber=1, Body=b"x")
    assert error_code(ei.value) == "NoSuchUpload"
    assert http_status(ei.value) == 404
    s3.abort_multipart_upload(Bucket=bucket, Key="right", UploadId=uid)


def test_invalid_part_wrong_etag(s3, bucket):
    uid = s3.create_multipart_upload(Bucket=bucket, Key="ip")["UploadId"]
    upload_parts(s3, bucket, "ip", uid, [b"data"])
    with pytest.raises(ClientError) as ei:
        s3.complete_multipart_upload(
            Bucket=bucket,
            Key="ip",
            UploadId=uid,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": md5_etag(b"other")}]},
        )
    assert error_code(ei.value) == "InvalidPart"
    assert http_status(ei.value) == 400
    # The upload survives a failed completion.
    assert len(s3.list_parts(Bucket=bucket, Key="ip", UploadId=uid)["Parts"]) == 1


def test_invalid_part_missing_part_number(s3, bucket):
    uid = s3.create_multipart_upload(Bucket=bucket, Key="ip2")["UploadId"]
    parts = upload_parts(s3, bucket, "ip2", uid, [b"data"])
    with pytest.raises(ClientError) as ei:
        s3.complete_multipart_upload(
            Bucket=bucket,
            Key="ip2",
            UploadId=uid,
            MultipartUpload={"Parts": parts + [{"PartNumber": 2, "ETag": md5_etag(b"data")}]},
        )
    assert error_code(ei.value) == "InvalidPart"
    assert http_status(ei.value) == 400


def test_complete_etag_without_quotes_is_accepted(s3, bucket):
    data = b"unquoted"
    uid = s3.create_multipart_upload(Bucket=bucket, Key="uq")["UploadId"]
    parts = upload_parts(s3, bucket, "uq", uid, [data])
    parts[0]["ETag"] = parts[0]["ETag"].strip('"')
    done = s3.complete_multipart_upload(
        Bucket=bucket, Key="uq", UploadId=uid, MultipartUpload={"Parts": parts}
    )
    assert done["ETag"] == multipart_etag([data])


def test_invalid_part_order(s3, bucket):
    a, b = os.urandom(5 * MiB), os.urandom(10)
    uid = s3.create_multipart_upload(Bucket=bucket, Key="order")["UploadId"]
    parts = upload_parts(s3, bucket, "order", uid, [a, b])
    with pytest.raises(ClientError) as ei:
        s3.complete_multipart_upload(
            Bucket=bucket,
            Key="order",
            UploadId=uid,
            MultipartUpload={"Parts": list(reversed(parts))},
        )
    assert error_code(ei.value) == "InvalidPartOrder"
    assert http_status(ei.value) == 400


def test_entity_too_small(s3, bucket):
    a, b = os.urandom(1 * MiB), os.urandom(1 * MiB)
    uid = s3.create_multipart_upload(Bucket=bucket, Key="small")["UploadId"]
    parts = upload_parts(s3, bucket, "small", uid, [a, b])
    with pytest.raises(ClientError) as ei:
        s3.complete_multipart_upload(
            Bucket=bucket, Key="small", UploadId=uid, MultipartUpload={"Parts": parts}
        )
    assert error_code(ei.value) == "EntityTooSmall"
    assert http_status(ei.value) == 400
    with pytest.raises(ClientError) as ei:
        s3.head_object(Bucket=bucket, Key="small")
    assert http_status(ei.value) == 404


def test_invalid_part_numbers(s3, bucket):
    uid = s3.create_multipart_upload(Bucket=bucket, Key="pn")["UploadId"]
    for bad in (0, 10001):
        with pytest.raises(ClientError) as ei:
            s3.upload_part(Bucket=bucket, Key="pn", UploadId=uid, PartNumber=bad, Body=b"x")
        assert error_code(ei.value) in ("InvalidArgument", "InvalidPartNumber")
        assert http_status(ei.value) == 400
    # 10000 is the maximum valid part number.
    r = s3.upload_part(Bucket=bucket, Key="pn", UploadId=uid, PartNumber=10000, Body=b"x")
    assert r["ETag"] == md5_etag(b"x")
    s3.abort_multipart_upload(Bucket=bucket, Key="pn", UploadId=uid)


def test_reupload_part_replaces(s3, bucket):
    uid = s3.create_multipart_upload(Bucket=bucket, Key="re")["UploadId"]
    first = b"A" * 1000
    second = b"B" * 2000
    s3.upload_part(Bucket=bucket, Key="re", UploadId=uid, PartNumber=1, Body=first)
    r2 = s3.upload_part(Bucket=bucket, Key="re", UploadId=uid, PartNumber=1, Body=second)
    listed = s3.list_parts(Bucket=bucket, Key="re", UploadId=uid)["Parts"]
    assert len(listed) == 1
    assert listed[0]["ETag"] == md5_etag(second)
    assert listed[0]["Size"] == 2000

    # Completing with the old ETag must fail, with the new one succeed.
    with pytest.raises(ClientError) as ei:
        s3.complete_multipart_upload(
            Bucket=bucket,
            Key="re",
            UploadId=uid,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": md5_etag(first)}]},
        )
    assert error_code(ei.value) == "InvalidPart"
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="re",
        UploadId=uid,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": r2["ETag"]}]},
    )
    assert s3.get_object(Bucket=bucket, Key="re")["Body"].read() == second


def test_complete_overwrites_existing_object(s3, bucket):
    s3.put_object(Bucket=bucket, Key="ow", Body=b"old", Metadata={"old": "1"})
    uid = s3.create_multipart_upload(Bucket=bucket, Key="ow")["UploadId"]
    parts = upload_parts(s3, bucket, "ow", uid, [b"new"])
    s3.complete_multipart_upload(Bucket=bucket, Key="ow", UploadId=uid, MultipartUpload={"Parts": parts})
    got = s3.get_object(Bucket=bucket, Key="ow")
    assert got["Body"].read() == b"new"
    assert got["Metadata"] == {}


def test_upload_part_copy(s3, bucket):
    src = os.urandom(10 * MiB + 17)  # parts: 5 MiB, 5 MiB + 17, small tail
    s3.put_object(Bucket=bucket, Key="src", Body=src)
    uid = s3.create_multipart_upload(Bucket=bucket, Key="dst")["UploadId"]

    p1 = s3.upload_part_copy(
        Bucket=bucket,
        Key="dst",
        UploadId=uid,
        PartNumber=1,
        CopySource={"Bucket": bucket, "Key": "src"},
        CopySourceRange=f"bytes=0-{5 * MiB - 1}",
    )
    assert p1["CopyPartResult"]["ETag"] == md5_etag(src[: 5 * MiB])
    assert "LastModified" in p1["CopyPartResult"]
    p2 = s3.upload_part_copy(
        Bucket=bucket,
        Key="dst",
        UploadId=uid,
        PartNumber=2,
        CopySource={"Bucket": bucket, "Key": "src"},
        CopySourceRange=f"bytes={5 * MiB}-{len(src) - 1}",
    )
    tail = b"tail-data"
    p3 = s3.upload_part(Bucket=bucket, Key="dst", UploadId=uid, PartNumber=3, Body=tail)
    parts = [
        {"PartNumber": 1, "ETag": p1["CopyPartResult"]["ETag"]},
        {"PartNumber": 2, "ETag": p2["CopyPartResult"]["ETag"]},
        {"PartNumber": 3, "ETag": p3["ETag"]},
    ]
    done = s3.complete_multipart_upload(
        Bucket=bucket, Key="dst", UploadId=uid, MultipartUpload={"Parts": parts}
    )
    expected_parts = [src[: 5 * MiB], src[5 * MiB :], tail]
    assert done["ETag"] == multipart_etag(expected_parts)
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == src + tail


def test_upload_part_copy_whole_object_and_bad_range(s3, bucket):
    src = b"0123456789" * 10
    s3.put_object(Bucket=bucket, Key="s", Body=src)
    uid = s3.create_multipart_upload(Bucket=bucket, Key="d")["UploadId"]
    r = s3.upload_part_copy(
        Bucket=bucket, Key="d", UploadId=uid, PartNumber=1, CopySource=f"{bucket}/s"
    )
    assert r["CopyPartResult"]["ETag"] == md5_etag(src)
    with pytest.raises(ClientError) as ei:
        s3.upload_part_copy(
            Bucket=bucket,
            Key="d",
            UploadId=uid,
            PartNumber=2,
            CopySource=f"{bucket}/s",
            CopySourceRange="bytes=50-500",
        )
    assert error_code(ei.value) in ("InvalidRange", "InvalidArgument")
    assert http_status(ei.value) in (400, 416)
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="d",
        UploadId=uid,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": r["CopyPartResult"]["ETag"]}]},
    )
    assert s3.get_object(Bucket=bucket, Key="d")["Body"].read() == src


def test_100mib_multipart_byte_exact(s3, bucket):
    part_size = 5 * MiB
    nparts = 20
    uid = s3.create_multipart_upload(Bucket=bucket, Key="big")["UploadId"]
    sha = hashlib.sha256()
    md5s = []
    parts = []
    boundary = b""
    for n in range(1, nparts + 1):
        data = os.urandom(part_size)
        sha.update(data)
        if n == 1:
            boundary += data[-10:]
        elif n == 2:
            boundary += data[:10]
        md5s.append(hashlib.md5(data).digest())
        r = s3.upload_part(Bucket=bucket, Key="big", UploadId=uid, PartNumber=n, Body=data)
        assert r["ETag"] == '"' + md5s[-1].hex() + '"'
        parts.append({"PartNumber": n, "ETag": r["ETag"]})
        del data
    done = s3.complete_multipart_upload(
        Bucket=bucket, Key="big", UploadId=uid, MultipartUpload={"Parts": parts}
    )
    assert done["ETag"] == '"' + hashlib.md5(b"".join(md5s)).hexdigest() + f'-{nparts}"'

    head = s3.head_object(Bucket=bucket, Key="big")
    assert head["ContentLength"] == part_size * nparts

    got = s3.get_object(Bucket=bucket, Key="big")
    assert got["ContentLength"] == part_size * nparts
    sha_got = hashlib.sha256()
    total = 0
    for chunk in got["Body"].iter_chunks(1024 * 1024):
        sha_got.update(chunk)
        total += len(chunk)
    assert total == part_size * nparts
    assert sha_got.hexdigest() == sha.hexdigest()

    # A range spanning a part boundary.
    rng = s3.get_object(Bucket=bucket, Key="big", Range=f"bytes={part_size - 10}-{part_size + 9}")
    assert rng["ContentLength"] == 20
    assert rng["Body"].read() == boundary
