"""SSE-S3 through boto3: encrypted round trips (single, ranged, multipart,
copies), bucket default encryption, nothing readable on disk, tampering
detected, and clear refusals without a KMS key."""

import base64
import os
import random

import pytest
from botocore.exceptions import ClientError

from conftest import error_code, http_status

KMS = "my-minio-key:" + base64.b64encode(bytes(range(32))).decode()
MARKER = b"SECRET-PLAINTEXT-MARKER-0123456789"


@pytest.fixture(scope="module")
def kms_server():
    from conftest import AlmacenServer

    srv = AlmacenServer(extra_env={"MINIO_KMS_SECRET_KEY": KMS, "ALMACEN_SSE_C_ALLOW_HTTP": "on"})
    srv.start()
    yield srv
    srv.cleanup()


@pytest.fixture
def kbucket(kms_server):
    s3 = kms_server.client()
    name = "sse-" + os.urandom(6).hex()
    s3.create_bucket(Bucket=name)
    return s3, name


def test_round_trip_and_ranges(kbucket):
    s3, b = kbucket
    data = random.Random(7).randbytes(300_000)
    r = s3.put_object(Bucket=b, Key="big", Body=data, ServerSideEncryption="AES256")
    assert r["ServerSideEncryption"] == "AES256"
    got = s3.get_object(Bucket=b, Key="big")
    assert got["ServerSideEncryption"] == "AES256" and got["Body"].read() == data
    assert s3.head_object(Bucket=b, Key="big")["ServerSideEncryption"] == "AES256"
    for start, end in [(0, 0), (65_530, 65_545), (131_000, 200_000), (299_990, 299_999)]:
        part = s3.get_object(Bucket=b, Key="big", Range=f"bytes={start}-{end}")["Body"].read()
        assert part == data[start:end + 1], (start, end)
    small = b"tiny encrypted object"
    s3.put_object(Bucket=b, Key="small", Body=small, ServerSideEncryption="AES256")
    assert s3.get_object(Bucket=b, Key="small", Range="bytes=5-12")["Body"].read() == small[5:13]


def test_multipart_and_copies(kbucket):
    s3, b = kbucket
    rng = random.Random(9)
    parts = [rng.randbytes(5 * 1024 * 1024), rng.randbytes(1_000_003)]
    mp = s3.create_multipart_upload(Bucket=b, Key="mp", ServerSideEncryption="AES256")
    assert mp["ServerSideEncryption"] == "AES256"
    done = []
    for i, p in enumerate(parts, 1):
        r = s3.upload_part(Bucket=b, Key="mp", UploadId=mp["UploadId"], PartNumber=i, Body=p)
        assert r["ServerSideEncryption"] == "AES256"
        done.append({"PartNumber": i, "ETag": r["ETag"]})
    c = s3.complete_multipart_upload(Bucket=b, Key="mp", UploadId=mp["UploadId"], MultipartUpload={"Parts": done})
    assert c["ServerSideEncryption"] == "AES256"
    whole = b"".join(parts)
    assert s3.get_object(Bucket=b, Key="mp")["Body"].read() == whole
    edge = 5 * 1024 * 1024
    assert s3.get_object(Bucket=b, Key="mp", Range=f"bytes={edge - 10}-{edge + 10}")["Body"].read() == whole[edge - 10:edge + 11]
    # Encrypted to plain and back.
    s3.copy_object(Bucket=b, Key="plain-copy", CopySource={"Bucket": b, "Key": "mp"})
    assert "ServerSideEncryption" not in s3.head_object(Bucket=b, Key="plain-copy")
    assert s3.get_object(Bucket=b, Key="plain-copy")["Body"].read() == whole
    r = s3.copy_object(Bucket=b, Key="enc-copy", CopySource={"Bucket": b, "Key": "plain-copy"}, ServerSideEncryption="AES256")
    assert r["ServerSideEncryption"] == "AES256"
    assert s3.get_object(Bucket=b, Key="enc-copy")["Body"].read() == whole


def test_bucket_default_encryption(kbucket):
    s3, b = kbucket
    with pytest.raises(ClientError) as e:
        s3.get_bucket_encryption(Bucket=b)
    assert error_code(e.value) == "ServerSideEncryptionConfigurationNotFoundError"
    conf = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}
    s3.put_bucket_encryption(Bucket=b, ServerSideEncryptionConfiguration=conf)
    got = s3.get_bucket_encryption(Bucket=b)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert got["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    s3.put_object(Bucket=b, Key="auto", Body=b"x" * 10)
    assert s3.head_object(Bucket=b, Key="auto")["ServerSideEncryption"] == "AES256"
    s3.delete_bucket_encryption(Bucket=b)
    s3.put_object(Bucket=b, Key="plain", Body=b"x")
    assert "ServerSideEncryption" not in s3.head_object(Bucket=b, Key="plain")


def test_nothing_readable_on_disk_and_tampering_is_caught(kms_server, kbucket):
    s3, b = kbucket
    s3.put_object(Bucket=b, Key="inline", Body=MARKER * 3, ServerSideEncryption="AES256")
    s3.put_object(Bucket=b, Key="file", Body=MARKER * 20_000, ServerSideEncryption="AES256")
    # User metadata and plaintext checksums reveal content too: sealed as well.
    meta_marker = "customer-face-photo-" + os.urandom(6).hex()
    r = s3.put_object(Bucket=b, Key="meta", Body=MARKER * 5, ServerSideEncryption="AES256",
                      Metadata={"subject": meta_marker}, ChecksumAlgorithm="SHA256")
    sha = r["ChecksumSHA256"]
    head = s3.head_object(Bucket=b, Key="meta", ChecksumMode="ENABLED")
    assert head["Metadata"] == {"subject": meta_marker} and head["ChecksumSHA256"] == sha
    hits = []
    for root, _, files in os.walk(kms_server.data_dir):
        for f in files:
            raw = open(os.path.join(root, f), "rb").read()
            for needle in (MARKER, meta_marker.encode(), sha.encode()):
                if needle in raw:
                    hits.append((f, needle))
    assert hits == []
    # Flip one byte of the large object's blob: the read fails, never serves it.
    blobs = []
    for root, _, files in os.walk(os.path.join(kms_server.data_dir, "blobs")):
        blobs += [os.path.join(root, f) for f in files]
    target = max(blobs, key=os.path.getmtime)
    with open(target, "r+b") as f:
        f.seek(1000)
        byte = f.read(1)
        f.seek(1000)
        f.write(bytes([byte[0] ^ 1]))
    with pytest.raises(Exception):
        s3.get_object(Bucket=b, Key="file")["Body"].read()


def test_refusals(server, s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="k", Body=b"x", ServerSideEncryption="AES256")
    assert error_code(e.value) == "NotImplemented" and "KMS is not configured" in e.value.response["Error"]["Message"]
    assert http_status(e.value) == 501
    # SSE-C needs TLS (S3's rule); this server has no ALMACEN_SSE_C_ALLOW_HTTP.
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="k", Body=b"x", SSECustomerAlgorithm="AES256",
                      SSECustomerKey="0" * 32)
    assert error_code(e.value) == "InvalidRequest" and "secure connection" in e.value.response["Error"]["Message"]
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="k")


KEY_A = bytes(range(32))
KEY_B = bytes(range(1, 33))


def ssec(key):
    return {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": key}


def test_sse_c_round_trip_and_wrong_keys(kbucket):
    s3, b = kbucket
    data = random.Random(3).randbytes(200_000)
    r = s3.put_object(Bucket=b, Key="c", Body=data, **ssec(KEY_A))
    assert r["SSECustomerAlgorithm"] == "AES256" and "ServerSideEncryption" not in r
    got = s3.get_object(Bucket=b, Key="c", **ssec(KEY_A))
    assert got["Body"].read() == data and got["SSECustomerKeyMD5"] == r["SSECustomerKeyMD5"]
    assert s3.get_object(Bucket=b, Key="c", Range="bytes=65530-65600", **ssec(KEY_A))["Body"].read() == data[65530:65601]
    assert s3.head_object(Bucket=b, Key="c", **ssec(KEY_A))["ContentLength"] == len(data)
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=b, Key="c")
    assert error_code(e.value) == "InvalidRequest" and http_status(e.value) == 400
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=b, Key="c", **ssec(KEY_B))
    assert http_status(e.value) == 403
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=b, Key="c")
    assert http_status(e.value) == 400
    s3.put_object(Bucket=b, Key="plain", Body=b"p")
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=b, Key="plain", **ssec(KEY_A))
    assert error_code(e.value) == "InvalidRequest"


def test_sse_c_multipart_and_copies(kbucket):
    s3, b = kbucket
    rng = random.Random(5)
    parts = [rng.randbytes(5 * 1024 * 1024), rng.randbytes(12345)]
    mp = s3.create_multipart_upload(Bucket=b, Key="m", **ssec(KEY_A))
    done = []
    for i, p in enumerate(parts, 1):
        r = s3.upload_part(Bucket=b, Key="m", UploadId=mp["UploadId"], PartNumber=i, Body=p, **ssec(KEY_A))
        done.append({"PartNumber": i, "ETag": r["ETag"]})
    with pytest.raises(ClientError):
        s3.upload_part(Bucket=b, Key="m", UploadId=mp["UploadId"], PartNumber=3, Body=b"x")
    s3.complete_multipart_upload(Bucket=b, Key="m", UploadId=mp["UploadId"], MultipartUpload={"Parts": done})
    whole = b"".join(parts)
    assert s3.get_object(Bucket=b, Key="m", **ssec(KEY_A))["Body"].read() == whole
    # SSE-C source to SSE-S3 destination, and back to SSE-C under another key.
    src = {"CopySourceSSECustomerAlgorithm": "AES256", "CopySourceSSECustomerKey": KEY_A}
    s3.copy_object(Bucket=b, Key="s3copy", CopySource={"Bucket": b, "Key": "m"}, ServerSideEncryption="AES256", **src)
    assert s3.get_object(Bucket=b, Key="s3copy")["Body"].read() == whole
    s3.copy_object(Bucket=b, Key="ccopy", CopySource={"Bucket": b, "Key": "s3copy"}, **ssec(KEY_B))
    assert s3.get_object(Bucket=b, Key="ccopy", **ssec(KEY_B))["Body"].read() == whole
    with pytest.raises(ClientError):
        s3.copy_object(Bucket=b, Key="nokey", CopySource={"Bucket": b, "Key": "m"})


def test_sse_kms_with_the_configured_key(kbucket):
    s3, b = kbucket
    r = s3.put_object(Bucket=b, Key="kms", Body=b"k" * 1000, ServerSideEncryption="aws:kms", SSEKMSKeyId="my-minio-key")
    assert r["ServerSideEncryption"] == "aws:kms" and r["SSEKMSKeyId"] == "my-minio-key"
    head = s3.head_object(Bucket=b, Key="kms")
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == "my-minio-key"
    assert s3.get_object(Bucket=b, Key="kms")["Body"].read() == b"k" * 1000
    # Without a key id, the configured key.
    assert s3.put_object(Bucket=b, Key="kms2", Body=b"x", ServerSideEncryption="aws:kms")["SSEKMSKeyId"] == "my-minio-key"
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=b, Key="other", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId="testkey-2")
    assert error_code(e.value) == "KMS.NotFoundException" and http_status(e.value) == 400
    with pytest.raises(ClientError):
        s3.head_object(Bucket=b, Key="other")
    conf = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "my-minio-key"}}]}
    s3.put_bucket_encryption(Bucket=b, ServerSideEncryptionConfiguration=conf)
    assert s3.head_object(Bucket=b, Key="kms2")["ServerSideEncryption"] == "aws:kms"
    s3.put_object(Bucket=b, Key="auto", Body=b"a")
    assert s3.head_object(Bucket=b, Key="auto")["ServerSideEncryption"] == "aws:kms"
    bad = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "nope"}}]}
    with pytest.raises(ClientError) as e:
        s3.put_bucket_encryption(Bucket=b, ServerSideEncryptionConfiguration=bad)
    assert error_code(e.value) == "KMS.NotFoundException"


def test_encryption_headers_where_they_do_not_belong(kbucket):
    s3, b = kbucket
    s3.put_object(Bucket=b, Key="obj", Body=b"data", ServerSideEncryption="AES256")

    def add_sse_header(params, **kwargs):
        params["headers"]["x-amz-server-side-encryption"] = "AES256"

    for op in ("GetObject", "HeadObject"):
        s3.meta.events.register(f"before-call.s3.{op}", add_sse_header)
    try:
        with pytest.raises(ClientError) as e:
            s3.get_object(Bucket=b, Key="obj")
        assert error_code(e.value) == "InvalidArgument" and http_status(e.value) == 400
        with pytest.raises(ClientError) as e:
            s3.head_object(Bucket=b, Key="obj")
        assert http_status(e.value) == 400
    finally:
        for op in ("GetObject", "HeadObject"):
            s3.meta.events.unregister(f"before-call.s3.{op}", add_sse_header)
    # SSE-C and SSE-S3 at once: which one? S3 refuses.
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=b, Key="both", Body=b"x", ServerSideEncryption="AES256",
                      SSECustomerAlgorithm="AES256", SSECustomerKey="k" * 32)
    assert error_code(e.value) == "InvalidArgument"
