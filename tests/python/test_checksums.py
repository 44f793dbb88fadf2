"""Flexible checksums (CRC32, CRC32C, SHA1, SHA256, CRC64NVME), Content-MD5.

Every upload test runs twice:

* ``header``  - what botocore does over plain HTTP: checksum in an
  ``x-amz-checksum-*`` header, payload SHA256-signed;
* ``trailer`` - what botocore does over HTTPS: ``Content-Encoding:
  aws-chunked``, ``x-amz-content-sha256: STREAMING-UNSIGNED-PAYLOAD-TRAILER``
  and the checksum in the chunked trailer.
"""

import base64
import hashlib
import os
import re
import zlib

import pytest
from awscrt import checksums as crt
from botocore.exceptions import ClientError

from conftest import error_code, http_status, md5_etag, multipart_etag

MiB = 1024 * 1024

ALGORITHMS = ["CRC32", "CRC32C", "SHA1", "SHA256", "CRC64NVME"]


def raw_checksum(alg: str, data: bytes) -> bytes:
    if alg == "CRC32":
        return zlib.crc32(data).to_bytes(4, "big")
    if alg == "CRC32C":
        return crt.crc32c(data).to_bytes(4, "big")
    if alg == "CRC64NVME":
        return crt.crc64nvme(data).to_bytes(8, "big")
    if alg == "SHA1":
        return hashlib.sha1(data).digest()
    if alg == "SHA256":
        return hashlib.sha256(data).digest()
    raise ValueError(alg)


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def checksum(alg: str, data: bytes) -> str:
    return b64(raw_checksum(alg, data))


def composite(alg: str, parts: list[bytes]) -> str:
    joined = b"".join(raw_checksum(alg, p) for p in parts)
    return f"{checksum(alg, joined)}-{len(parts)}"


@pytest.fixture(params=["header", "trailer"])
def transport(request):
    return request.param


@pytest.fixture
def cs3(server, transport):
    """Client using the parametrized checksum transport."""
    return server.client(checksum_transport=transport)


DATA = os.urandom(2 * MiB + 12345)  # > 1 MiB so aws-chunked uses several chunks


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_put_with_checksum_algorithm(cs3, s3, bucket, alg):
    key = f"cs-{alg}"
    expected = checksum(alg, DATA)
    put = cs3.put_object(Bucket=bucket, Key=key, Body=DATA, ChecksumAlgorithm=alg)
    assert put["ETag"] == md5_etag(DATA)
    assert put[f"Checksum{alg}"] == expected

    head = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    assert head[f"Checksum{alg}"] == expected
    assert head.get("ChecksumType", "FULL_OBJECT") == "FULL_OBJECT"
    assert head["ContentLength"] == len(DATA)

    got = s3.get_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    assert got[f"Checksum{alg}"] == expected
    # botocore validates the body against the returned checksum while reading.
    assert got["Body"].read() == DATA

    # Without ChecksumMode the checksum is not returned.
    plain = s3.head_object(Bucket=bucket, Key=key)
    assert f"Checksum{alg}" not in plain


def test_default_crc32_is_stored(cs3, s3, bucket):
    # botocore >= 1.36 sends a CRC32 by default (when_supported).
    cs3.put_object(Bucket=bucket, Key="default", Body=DATA)
    head = s3.head_object(Bucket=bucket, Key="default", ChecksumMode="ENABLED")
    assert head["ChecksumCRC32"] == checksum("CRC32", DATA)


def test_trailer_with_content_encoding(server, s3, bucket):
    c = server.client(checksum_transport="trailer")
    c.put_object(Bucket=bucket, Key="gz", Body=b"not really gzip", ContentEncoding="gzip")
    head = s3.head_object(Bucket=bucket, Key="gz")
    # aws-chunked is a transfer detail and must not be stored.
    assert head["ContentEncoding"] == "gzip"
    assert head["ContentLength"] == len(b"not really gzip")
    assert s3.get_object(Bucket=bucket, Key="gz")["Body"].read() == b"not really gzip"


def test_trailer_empty_body(server, s3, bucket):
    c = server.client(checksum_transport="trailer")
    put = c.put_object(Bucket=bucket, Key="empty", Body=b"", ChecksumAlgorithm="SHA256")
    assert put["ChecksumSHA256"] == checksum("SHA256", b"")
    got = s3.get_object(Bucket=bucket, Key="empty")
    assert got["ContentLength"] == 0
    assert got["Body"].read() == b""


def _assert_checksum_rejected(exc):
    assert error_code(exc) in ("BadDigest", "XAmzContentChecksumMismatch"), exc.response
    assert http_status(exc) == 400


@pytest.mark.parametrize("alg", ["CRC32", "CRC32C", "SHA256", "CRC64NVME"])
def test_wrong_checksum_header_rejected(s3, bucket, alg):
    wrong = checksum(alg, b"something else entirely")
    kwargs = {f"Checksum{alg}": wrong}
    if alg != "CRC32":
        kwargs["ChecksumAlgorithm"] = alg
    with pytest.raises(ClientError) as ei:
        s3.put_object(Bucket=bucket, Key="bad", Body=b"actual body", **kwargs)
    _assert_checksum_rejected(ei.value)
    with pytest.raises(ClientError) as ei:
        s3.head_object(Bucket=bucket, Key="bad")
    assert http_status(ei.value) == 404


def test_wrong_checksum_does_not_clobber_existing(s3, bucket):
    s3.put_object(Bucket=bucket, Key="keep", Body=b"original")
    with pytest.raises(ClientError) as ei:
        s3.put_object(
            Bucket=bucket, Key="keep", Body=b"replacement", ChecksumCRC32=checksum("CRC32", b"x")
        )
    _assert_checksum_rejected(ei.value)
    assert s3.get_object(Bucket=bucket, Key="keep")["Body"].read() == b"original"


def _corrupt_trailer(request, **kwargs):
    body = request.body.read()
    new, n = re.subn(rb"(x-amz-checksum-[a-z0-9]+:)[A-Za-z0-9+/=]+", rb"\1AAAAAA==", body)
    assert n == 1
    request.body = new


def test_wrong_checksum_trailer_rejected(server, s3, bucket):
    c = server.client(checksum_transport="trailer")
    c.meta.events.register("before-send.s3.PutObject", _corrupt_trailer)
    with pytest.raises(ClientError) as ei:
        c.put_object(Bucket=bucket, Key="bad-trailer", Body=DATA, ChecksumAlgorithm="CRC32")
    _assert_checksum_rejected(ei.value)
    with pytest.raises(ClientError) as ei:
        s3.head_object(Bucket=bucket, Key="bad-trailer")
    assert http_status(ei.value) == 404


def test_wrong_content_md5(s3, bucket):
    wrong = b64(hashlib.md5(b"other").digest())
    with pytest.raises(ClientError) as ei:
        s3.put_object(Bucket=bucket, Key="md5", Body=b"payload", ContentMD5=wrong)
    assert error_code(ei.value) == "BadDigest"
    assert http_status(ei.value) == 400
    with pytest.raises(ClientError) as ei:
        s3.head_object(Bucket=bucket, Key="md5")
    assert http_status(ei.value) == 404


def test_malformed_content_md5(s3, bucket):
    with pytest.raises(ClientError) as ei:
        s3.put_object(Bucket=bucket, Key="md5", Body=b"payload", ContentMD5="not-an-md5")
    assert error_code(ei.value) == "InvalidDigest"
    assert http_status(ei.value) == 400


def test_correct_content_md5(s3, bucket):
    good = b64(hashlib.md5(b"payload").digest())
    put = s3.put_object(Bucket=bucket, Key="md5ok", Body=b"payload", ContentMD5=good)
    assert put["ETag"] == md5_etag(b"payload")


def test_upload_part_wrong_checksum(s3, bucket):
    uid = s3.create_multipart_upload(Bucket=bucket, Key="mpbad", ChecksumAlgorithm="SHA256")[
        "UploadId"
    ]
    with pytest.raises(ClientError) as ei:
        s3.upload_part(
            Bucket=bucket,
            Key="mpbad",
            UploadId=uid,
            PartNumber=1,
            Body=b"part body",
            ChecksumAlgorithm="SHA256",
            ChecksumSHA256=checksum("SHA256", b"different"),
        )
    _assert_checksum_rejected(ei.value)
    assert not s3.list_parts(Bucket=bucket, Key="mpbad", UploadId=uid).get("Parts")
    s3.abort_multipart_upload(Bucket=bucket, Key="mpbad", UploadId=uid)


@pytest.mark.parametrize("alg", ["CRC32", "CRC32C", "SHA1", "SHA256"])
def test_multipart_composite_checksum(cs3, s3, bucket, alg):
    key = f"mp-{alg}"
    datas = [os.urandom(5 * MiB), os.urandom(4321)]
    up = cs3.create_multipart_upload(Bucket=bucket, Key=key, ChecksumAlgorithm=alg)
    assert up.get("ChecksumAlgorithm") == alg
    uid = up["UploadId"]
    parts = []
    for n, data in enumerate(datas, start=1):
        r = cs3.upload_part(
            Bucket=bucket, Key=key, UploadId=uid, PartNumber=n, Body=data, ChecksumAlgorithm=alg
        )
        assert r[f"Checksum{alg}"] == checksum(alg, data)
        parts.append({"PartNumber": n, "ETag": r["ETag"], f"Checksum{alg}": r[f"Checksum{alg}"]})

    listed = s3.list_parts(Bucket=bucket, Key=key, UploadId=uid)
    assert [p.get(f"Checksum{alg}") for p in listed["Parts"]] == [
        checksum(alg, d) for d in datas
    ]

    done = s3.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=uid, MultipartUpload={"Parts": parts}
    )
    expected = composite(alg, datas)
    assert done["ETag"] == multipart_etag(datas)
    assert done[f"Checksum{alg}"] == expected
    assert done.get("ChecksumType", "COMPOSITE") == "COMPOSITE"

    head = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    assert head[f"Checksum{alg}"] == expected
    assert head.get("ChecksumType", "COMPOSITE") == "COMPOSITE"

    got = s3.get_object(Bucket=bucket, Key=key)
    assert got["Body"].read() == b"".join(datas)


def test_part_number_request_returns_part_checksum(s3, bucket):
    """HEAD/GET with partNumber and checksum mode return that part's checksum
    for a composite multipart object (S3 user guide, "Checking object
    integrity": part-level checksums)."""
    datas = [os.urandom(5 * MiB), os.urandom(100)]
    uid = s3.create_multipart_upload(Bucket=bucket, Key="pc", ChecksumAlgorithm="SHA256")["UploadId"]
    parts = []
    for n, data in enumerate(datas, start=1):
        r = s3.upload_part(
            Bucket=bucket, Key="pc", UploadId=uid, PartNumber=n, Body=data, ChecksumAlgorithm="SHA256"
        )
        parts.append({"PartNumber": n, "ETag": r["ETag"], "ChecksumSHA256": r["ChecksumSHA256"]})
    s3.complete_multipart_upload(Bucket=bucket, Key="pc", UploadId=uid, MultipartUpload={"Parts": parts})
    for n, data in enumerate(datas, start=1):
        head = s3.head_object(Bucket=bucket, Key="pc", PartNumber=n, ChecksumMode="ENABLED")
        assert head.get("ChecksumSHA256") == checksum("SHA256", data)
        got = s3.get_object(Bucket=bucket, Key="pc", PartNumber=n, ChecksumMode="ENABLED")
        assert got.get("ChecksumSHA256") == checksum("SHA256", data)
        assert got["Body"].read() == data


def test_multipart_composite_wrong_part_checksum_in_complete(s3, bucket):
    uid = s3.create_multipart_upload(Bucket=bucket, Key="mpc", ChecksumAlgorithm="SHA256")[
        "UploadId"
    ]
    r = s3.upload_part(
        Bucket=bucket, Key="mpc", UploadId=uid, PartNumber=1, Body=b"abc", ChecksumAlgorithm="SHA256"
    )
    with pytest.raises(ClientError) as ei:
        s3.complete_multipart_upload(
            Bucket=bucket,
            Key="mpc",
            UploadId=uid,
            MultipartUpload={
                "Parts": [
                    {
                        "PartNumber": 1,
                        "ETag": r["ETag"],
                        "ChecksumSHA256": checksum("SHA256", b"xyz"),
                    }
                ]
            },
        )
    assert error_code(ei.value) in ("InvalidPart", "BadDigest")
    assert http_status(ei.value) == 400
    s3.abort_multipart_upload(Bucket=bucket, Key="mpc", UploadId=uid)


@pytest.mark.parametrize("alg", ["CRC64NVME", "CRC32"])
def test_multipart_full_object_checksum(cs3, s3, bucket, alg):
    key = f"mpfull-{alg}"
    datas = [os.urandom(5 * MiB), os.urandom(777)]
    kwargs = {"ChecksumAlgorithm": alg}
    if alg != "CRC64NVME":
        kwargs["ChecksumType"] = "FULL_OBJECT"  # CRC64NVME is always full-object
    up = cs3.create_multipart_upload(Bucket=bucket, Key=key, **kwargs)
    uid = up["UploadId"]
    parts = []
    for n, data in enumerate(datas, start=1):
        r = cs3.upload_part(
            Bucket=bucket, Key=key, UploadId=uid, PartNumber=n, Body=data, ChecksumAlgorithm=alg
        )
        assert r[f"Checksum{alg}"] == checksum(alg, data)
        parts.append({"PartNumber": n, "ETag": r["ETag"], f"Checksum{alg}": r[f"Checksum{alg}"]})
    done = s3.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=uid, MultipartUpload={"Parts": parts}
    )
    whole = b"".join(datas)
    assert done[f"Checksum{alg}"] == checksum(alg, whole)
    assert done.get("ChecksumType", "FULL_OBJECT") == "FULL_OBJECT"
    head = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    assert head[f"Checksum{alg}"] == checksum(alg, whole)
    got = s3.get_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    assert got["Body"].read() == whole
