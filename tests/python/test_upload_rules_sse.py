"""Upload rules check the first bytes of an object; for an encrypted
multipart upload those bytes are sealed on disk, and the check must look
at the plaintext (SSE-S3), not the ciphertext."""

import base64
import json

import pytest
from botocore.exceptions import ClientError

from conftest import AlmacenServer, error_code
from test_upload_rules import JPEG, PDF

KMS = "rules-key:" + base64.b64encode(bytes(range(32))).decode()
MIB = 1024 * 1024


def multipart(s3, bucket, key, first, content_type):
    mp = s3.create_multipart_upload(Bucket=bucket, Key=key, ContentType=content_type,
                                    ServerSideEncryption="AES256")
    parts = []
    for n, body in enumerate([first + b"\x00" * (5 * MIB - len(first)), b"tail"], 1):
        r = s3.upload_part(Bucket=bucket, Key=key, UploadId=mp["UploadId"], PartNumber=n, Body=body)
        parts.append({"PartNumber": n, "ETag": r["ETag"]})
    return s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=mp["UploadId"],
                                        MultipartUpload={"Parts": parts})


def test_rules_sniff_the_plaintext_of_encrypted_multipart(tmp_path):
    srv = AlmacenServer(extra_env={"MINIO_KMS_SECRET_KEY": KMS, "ALMACEN_SCRUB_RATE": "off",
                                   "ALMACEN_SSE_C_ALLOW_HTTP": "on"})
    srv.start()
    try:
        s3 = srv.client()
        s3.create_bucket(Bucket="photos-enc")
        rules = tmp_path / "rules.json"
        rules.write_text(json.dumps({"rules": [{"prefix": "", "max_size": "20MiB",
                                                "content_types": ["image/jpeg"]}]}))
        assert srv.admin("bucket", "rules", "set", "srv", "photos-enc", str(rules)).returncode == 0
        multipart(s3, "photos-enc", "ok.jpg", JPEG, "image/jpeg")
        assert s3.head_object(Bucket="photos-enc", Key="ok.jpg")["ServerSideEncryption"] == "AES256"
        with pytest.raises(ClientError) as e:
            multipart(s3, "photos-enc", "fake.jpg", PDF, "image/jpeg")
        assert error_code(e.value) == "UploadRuleViolation"
        # SSE-C: only the client can read the bytes, so the declared type
        # and the size are what is checked.
        ssec = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": "k" * 32}
        mp = s3.create_multipart_upload(Bucket="photos-enc", Key="c.jpg", ContentType="image/jpeg", **ssec)
        r = s3.upload_part(Bucket="photos-enc", Key="c.jpg", UploadId=mp["UploadId"], PartNumber=1,
                           Body=JPEG, **ssec)
        s3.complete_multipart_upload(Bucket="photos-enc", Key="c.jpg", UploadId=mp["UploadId"],
                                     MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": r["ETag"]}]})
        with pytest.raises(ClientError) as e:
            s3.create_multipart_upload(Bucket="photos-enc", Key="c.pdf", ContentType="application/pdf", **ssec)
        assert error_code(e.value) == "UploadRuleViolation"
    finally:
        srv.cleanup()
