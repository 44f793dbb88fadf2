"""Upload rules (size and content types per prefix, with content sniffing)
and bucket quotas, set with `almacen admin bucket ...` and enforced on
every upload path: PUT, presigned PUT, POST form, multipart, copy."""

import json
import uuid

import pytest
import requests
from botocore.exceptions import ClientError

from conftest import error_code, http_status

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 100
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100
PDF = b"%PDF-1.7\n" + b"x" * 100
HEIC = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 100

SEED_001 = {"rules": [{"prefix": "products/", "max_size": "2MiB",
                       "content_types": ["image/jpeg", "image/png", "image/gif", "image/webp"]}]}
SEED_004 = {"rules": [{"prefix": "customers/", "max_size": "10MiB",
                       "content_types": ["image/jpeg", "image/png", "image/gif", "image/webp", "image/heic", "image/heif"]}]}


def ok(proc):
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout) if proc.stdout.strip() else None


def set_rules(server, bucket, tmp_path, rules):
    f = tmp_path / f"rules-{uuid.uuid4().hex[:6]}.json"
    f.write_text(json.dumps(rules))
    return server.admin("bucket", "rules", "set", "srv", bucket, str(f))


def refused(fn, code, **kw):
    with pytest.raises(ClientError) as e:
        fn(**kw)
    assert error_code(e.value) == code, e.value.response
    assert http_status(e.value) == 400
    return e.value.response["Error"]["Message"]


def missing(s3, bucket, key):
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key=key)
    return http_status(e.value) == 404


def test_seed_001_rule_on_every_path(server, s3, bucket, tmp_path):
    got = ok(set_rules(server, bucket, tmp_path, SEED_001))
    assert got["rules"][0]["max_size"] == 2 * 1024 * 1024
    assert ok(server.admin("bucket", "rules", "get", "srv", bucket))["rules"] == got["rules"]

    s3.put_object(Bucket=bucket, Key="products/tenant_1/a.jpg", Body=JPEG, ContentType="image/jpeg")
    s3.put_object(Bucket=bucket, Key="products/tenant_1/b.png", Body=PNG, ContentType="image/png")
    # A PDF sent as a JPEG: the bytes give it away.
    msg = refused(s3.put_object, "UploadRuleViolation", Bucket=bucket, Key="products/x.jpg", Body=PDF, ContentType="image/jpeg")
    assert "products/" in msg and "application/pdf" in msg
    assert missing(s3, bucket, "products/x.jpg")
    # A type the rule does not allow.
    refused(s3.put_object, "UploadRuleViolation", Bucket=bucket, Key="products/x.pdf", Body=PDF, ContentType="application/pdf")
    # Too big.
    big = JPEG + b"\x00" * (2 * 1024 * 1024)
    msg = refused(s3.put_object, "EntityTooLarge", Bucket=bucket, Key="products/big.jpg", Body=big, ContentType="image/jpeg")
    assert "products/" in msg
    assert missing(s3, bucket, "products/big.jpg")
    # Outside the prefix, anything goes.
    s3.put_object(Bucket=bucket, Key="docs/manual.pdf", Body=PDF, ContentType="application/pdf")

    # Presigned PUT from a phone.
    url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "products/p.jpg", "ContentType": "image/jpeg"}, ExpiresIn=60)
    r = requests.put(url, data=PDF, headers={"Content-Type": "image/jpeg"}, timeout=30)
    assert r.status_code == 400 and "UploadRuleViolation" in r.text
    assert missing(s3, bucket, "products/p.jpg")
    r = requests.put(url, data=JPEG, headers={"Content-Type": "image/jpeg"}, timeout=30)
    assert r.status_code == 200

    # Browser POST form.
    post = s3.generate_presigned_post(bucket, "products/${filename}", Fields={"Content-Type": "image/jpeg"},
                                      Conditions=[{"Content-Type": "image/jpeg"}], ExpiresIn=60)
    r = requests.post(post["url"], data=post["fields"], files={"file": ("evil.jpg", PDF)}, timeout=30)
    assert r.status_code == 400 and "UploadRuleViolation" in r.text
    assert missing(s3, bucket, "products/evil.jpg")
    r = requests.post(post["url"], data=post["fields"], files={"file": ("good.jpg", JPEG)}, timeout=30)
    assert r.status_code == 204

    # Multipart: the declared type is checked at creation, the bytes at completion.
    refused(s3.create_multipart_upload, "UploadRuleViolation", Bucket=bucket, Key="products/m.txt", ContentType="text/plain")
    mp = s3.create_multipart_upload(Bucket=bucket, Key="products/m.jpg", ContentType="image/jpeg")
    part = s3.upload_part(Bucket=bucket, Key="products/m.jpg", UploadId=mp["UploadId"], PartNumber=1, Body=PDF)
    refused(s3.complete_multipart_upload, "UploadRuleViolation", Bucket=bucket, Key="products/m.jpg", UploadId=mp["UploadId"],
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
    assert missing(s3, bucket, "products/m.jpg")

    # Copy: a PDF copied in as a JPEG.
    refused(s3.copy_object, "UploadRuleViolation", Bucket=bucket, Key="products/copied.jpg",
            CopySource={"Bucket": bucket, "Key": "docs/manual.pdf"}, MetadataDirective="REPLACE", ContentType="image/jpeg")
    assert missing(s3, bucket, "products/copied.jpg")

    ok(server.admin("bucket", "rules", "clear", "srv", bucket))
    s3.put_object(Bucket=bucket, Key="products/x.pdf", Body=PDF, ContentType="application/pdf")


def test_seed_004_rule_accepts_heic(server, s3, bucket, tmp_path):
    ok(set_rules(server, bucket, tmp_path, SEED_004))
    s3.put_object(Bucket=bucket, Key="customers/c1/photo.heic", Body=HEIC, ContentType="image/heic")
    s3.put_object(Bucket=bucket, Key="customers/c1/photo2.heif", Body=HEIC, ContentType="image/heif")
    refused(s3.put_object, "UploadRuleViolation", Bucket=bucket, Key="customers/c1/v.mp4",
            Body=b"\x00\x00\x00\x20ftypisom" + b"\x00" * 50, ContentType="video/mp4")


def test_bad_rule_files(server, bucket, tmp_path):
    proc = set_rules(server, bucket, tmp_path, {"rules": [{"prefix": "a/"}]})
    assert proc.returncode != 0 and "limits nothing" in proc.stderr
    proc = set_rules(server, bucket, tmp_path, {"rules": [{"max_size": "2 parsecs"}]})
    assert proc.returncode != 0 and "unit" in proc.stderr
    proc = set_rules(server, bucket, tmp_path, {"rules": [{"content_types": ["jpeg"]}]})
    assert proc.returncode != 0 and "not a content type" in proc.stderr
    proc = server.admin("bucket", "rules", "get", "srv", "no-such-bucket-here")
    assert proc.returncode != 0 and "NoSuchBucket" in proc.stderr


def test_quota(server, s3, bucket):
    got = ok(server.admin("bucket", "quota", "set", "srv", bucket, "1000"))
    assert got["quota"] == 1000 and got["usage"]["bytes"] == 0
    s3.put_object(Bucket=bucket, Key="a", Body=b"x" * 600)
    refused(s3.put_object, "XMinioAdminBucketQuotaExceeded", Bucket=bucket, Key="b", Body=b"x" * 600)
    assert missing(s3, bucket, "b")
    # Replacing an object frees its bytes first.
    s3.put_object(Bucket=bucket, Key="a", Body=b"y" * 900)
    # Multipart completion and copies count too; nothing is stored when refused.
    mp = s3.create_multipart_upload(Bucket=bucket, Key="m")
    part = s3.upload_part(Bucket=bucket, Key="m", UploadId=mp["UploadId"], PartNumber=1, Body=b"z" * 200)
    refused(s3.complete_multipart_upload, "XMinioAdminBucketQuotaExceeded", Bucket=bucket, Key="m", UploadId=mp["UploadId"],
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
    refused(s3.copy_object, "XMinioAdminBucketQuotaExceeded", Bucket=bucket, Key="c", CopySource={"Bucket": bucket, "Key": "a"})
    usage = ok(server.admin("bucket", "quota", "get", "srv", bucket))["usage"]
    assert usage == {"bytes": 900, "objects": 1, "versions": 1}
    s3.delete_object(Bucket=bucket, Key="a")
    s3.put_object(Bucket=bucket, Key="b", Body=b"x" * 600)
    ok(server.admin("bucket", "quota", "clear", "srv", bucket))
    s3.put_object(Bucket=bucket, Key="c", Body=b"x" * 5000)
    s3.abort_multipart_upload(Bucket=bucket, Key="m", UploadId=mp["UploadId"])


def test_usage_counts_versions_and_survives_restart(server_factory):
    srv = server_factory()
    s3 = srv.client()
    s3.create_bucket(Bucket="usage")
    s3.put_bucket_versioning(Bucket="usage", VersioningConfiguration={"Status": "Enabled"})
    for i in range(3):
        s3.put_object(Bucket="usage", Key="k", Body=b"x" * 100)
    s3.delete_object(Bucket="usage", Key="k")
    s3.put_object(Bucket="usage", Key="other", Body=b"y" * 10)
    want = {"bytes": 310, "objects": 1, "versions": 5}
    assert ok(srv.admin("bucket", "quota", "get", "srv", "usage"))["usage"] == want
    srv.stop()
    srv.start()
    assert ok(srv.admin("bucket", "quota", "get", "srv", "usage"))["usage"] == want
