"""Presigned URLs (SigV4 query auth) and browser POST uploads, as the seed
apps use them: the backend signs, a phone or browser with no credentials
sends the bytes. Only what the S3 protocol layer already enforces is tested
here; users, policies and ${filename} belong to the access-control work."""

import time
import urllib.error
import urllib.request

import pytest

MIB = 1024 * 1024


def fetch(url, method="GET", data=None, headers=None):
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


def test_presigned_put_then_get(s3, bucket):
    put = s3.generate_presigned_url(
        "put_object", Params={"Bucket": bucket, "Key": "v/a.mp4", "ContentType": "video/mp4"}, ExpiresIn=3600
    )
    status, _, _ = fetch(put, "PUT", b"video-bytes", {"Content-Type": "video/mp4"})
    assert status == 200
    get = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "v/a.mp4"}, ExpiresIn=3600)
    status, headers, body = fetch(get)
    assert status == 200 and body == b"video-bytes"
    assert headers["content-type"] == "video/mp4"


def test_presigned_url_is_bound_to_what_it_signed(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    get = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"}, ExpiresIn=60)
    status, _, body = fetch(get.replace("/k?", "/other?"))
    assert status == 403 and b"SignatureDoesNotMatch" in body
    put = s3.generate_presigned_url(
        "put_object", Params={"Bucket": bucket, "Key": "img", "ContentType": "image/jpeg"}, ExpiresIn=60
    )
    status, _, body = fetch(put, "PUT", b"x", {"Content-Type": "text/html"})
    assert status == 403
    head, sig = get.split("X-Amz-Signature=")
    flipped = ("1" if sig[0] == "0" else "0") + sig[1:]
    status, _, body = fetch(head + "X-Amz-Signature=" + flipped)
    assert status == 403 and b"SignatureDoesNotMatch" in body


def test_presigned_expiry_limits(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    too_long = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"}, ExpiresIn=604801)
    status, _, body = fetch(too_long)
    assert status == 403
    assert b"604800" in body
    expired = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "k"}, ExpiresIn=1)
    time.sleep(2.1)
    status, _, body = fetch(expired, "PUT", b"late")
    assert status == 403 and b"Request has expired" in body
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"x"


def test_presigned_multipart_parts_from_the_phone(s3, bucket):
    """Seed 000: the backend creates the upload and completes it; the phone
    PUTs each part to a presigned UploadPart URL."""
    up = s3.create_multipart_upload(Bucket=bucket, Key="videos/s1.mp4", ContentType="video/mp4")
    parts = []
    chunks = [b"a" * (5 * MIB), b"b" * (5 * MIB), b"tail"]
    for n, chunk in enumerate(chunks, 1):
        url = s3.generate_presigned_url(
            "upload_part",
            Params={"Bucket": bucket, "Key": "videos/s1.mp4", "UploadId": up["UploadId"], "PartNumber": n},
            ExpiresIn=3600,
        )
        status, headers, _ = fetch(url, "PUT", chunk)
        assert status == 200
        parts.append({"PartNumber": n, "ETag": headers["etag"]})
    s3.complete_multipart_upload(
        Bucket=bucket, Key="videos/s1.mp4", UploadId=up["UploadId"], MultipartUpload={"Parts": parts}
    )
    got = s3.get_object(Bucket=bucket, Key="videos/s1.mp4")
    assert got["ContentType"] == "video/mp4"
    assert got["Body"].read() == b"".join(chunks)


def test_browser_post_with_policy(s3, bucket):
    requests = pytest.importorskip("requests")
    post = s3.generate_presigned_post(
        bucket,
        "products/tenant_1/photo.png",
        Fields={"Content-Type": "image/png"},
        Conditions=[["content-length-range", 1, 1024], ["starts-with", "$Content-Type", "image/"]],
        ExpiresIn=600,
    )
    r = requests.post(post["url"], data=post["fields"], files={"file": ("photo.png", b"png-bytes")}, timeout=30)
    assert r.status_code == 204
    assert s3.get_object(Bucket=bucket, Key="products/tenant_1/photo.png")["Body"].read() == b"png-bytes"
    # Over the content-length-range: refused, and nothing stored.
    post = s3.generate_presigned_post(
        bucket, "products/tenant_1/big.png", Conditions=[["content-length-range", 1, 1024]], ExpiresIn=600
    )
    r = requests.post(post["url"], data=post["fields"], files={"file": ("big.png", b"x" * 2048)}, timeout=30)
    assert r.status_code == 400 and b"EntityTooLarge" in r.content
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert "products/tenant_1/big.png" not in keys


def test_browser_post_key_from_filename(s3, bucket):
    requests = pytest.importorskip("requests")
    post = s3.generate_presigned_post(
        bucket,
        "products/tenant_1/${filename}",
        Conditions=[["starts-with", "$key", "products/tenant_1/"], ["content-length-range", 1, 1 << 20]],
        ExpiresIn=600,
    )
    body = bytes(range(256)) * 64  # binary bytes right after the form fields
    r = requests.post(post["url"], data=post["fields"], files={"file": ("shoe photo.jpg", body)}, timeout=30)
    assert r.status_code == 204, r.text
    got = s3.get_object(Bucket=bucket, Key="products/tenant_1/shoe photo.jpg")
    assert got["Body"].read() == body
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert "products/tenant_1/${filename}" not in keys
