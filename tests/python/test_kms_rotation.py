"""Master key rotation through boto3 and `almacen admin kms`: after a key
change the old key still opens everything, `kms rotate` re-seals object keys
and IAM secrets under the new key without touching object data, objects
stay readable throughout, and afterwards the old key can go."""

import base64
import glob
import hashlib
import json
import os
import random
import threading

from conftest import AlmacenServer

K1 = "key-2025:" + base64.b64encode(bytes(range(32))).decode()
K2 = "key-2026:" + base64.b64encode(bytes(range(100, 132))).decode()
K3 = "tenant-key:" + base64.b64encode(bytes(range(200, 232))).decode()
MIB = 1024 * 1024


def blob_digests(srv):
    return {
        p: hashlib.sha256(open(p, "rb").read()).hexdigest()
        for p in glob.glob(os.path.join(srv.data_dir, "blobs", "*", "*"))
    }


def test_rotate_master_key(tmp_path):
    rng = random.Random(11)
    objects = {
        "small": rng.randbytes(2000),
        "file": rng.randbytes(700_000),
    }
    srv = AlmacenServer(data_dir=str(tmp_path / "data"),
                        extra_env={"MINIO_KMS_SECRET_KEY": K1, "ALMACEN_SCRUB_RATE": "off"})
    srv.start()
    try:
        s3 = srv.client()
        s3.create_bucket(Bucket="enc")
        for k, v in objects.items():
            s3.put_object(Bucket="enc", Key=k, Body=v, ServerSideEncryption="AES256",
                          Metadata={"owner": f"customer-{k}"})
        parts = [rng.randbytes(5 * MIB), rng.randbytes(100_000)]
        mp = s3.create_multipart_upload(Bucket="enc", Key="multi", ServerSideEncryption="AES256")
        etags = [s3.upload_part(Bucket="enc", Key="multi", UploadId=mp["UploadId"], PartNumber=i,
                                Body=p)["ETag"] for i, p in enumerate(parts, 1)]
        s3.complete_multipart_upload(
            Bucket="enc", Key="multi", UploadId=mp["UploadId"],
            MultipartUpload={"Parts": [{"PartNumber": i, "ETag": e} for i, e in enumerate(etags, 1)]})
        objects["multi"] = b"".join(parts)
        # A versioned bucket whose default encryption names the old key.
        s3.create_bucket(Bucket="ver")
        s3.put_bucket_versioning(Bucket="ver", VersioningConfiguration={"Status": "Enabled"})
        s3.put_bucket_encryption(Bucket="ver", ServerSideEncryptionConfiguration={"Rules": [
            {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms",
                                                    "KMSMasterKeyID": "key-2025"}}]})
        v1 = s3.put_object(Bucket="ver", Key="doc", Body=b"first version")["VersionId"]
        s3.put_object(Bucket="ver", Key="doc", Body=b"second version")
        s3.put_object(Bucket="enc", Key="plain", Body=b"never encrypted")
        assert srv.admin("user", "add", "srv", "appuser", "appsecret123").returncode == 0
        assert srv.admin("policy", "attach", "srv", "readwrite", "--user", "appuser").returncode == 0
        srv.stop()

        # New key current, old key still accepted.
        srv.extra_env.update({"MINIO_KMS_SECRET_KEY": K2, "ALMACEN_KMS_PREVIOUS_KEYS": K1,
                              "ALMACEN_KMS_KEYS": K3})
        srv.start()
        s3 = srv.client()
        status = json.loads(srv.admin("kms", "status", "srv").stdout)
        assert status == {"current_key": "key-2026", "other_keys": ["tenant-key"],
                          "previous_keys": ["key-2025"]}
        for k, v in objects.items():
            assert s3.get_object(Bucket="enc", Key=k)["Body"].read() == v
        app = srv.client(access_key="appuser", secret_key="appsecret123")
        assert app.get_object(Bucket="enc", Key="small")["Body"].read() == objects["small"]
        # The bucket default still names the old key: writes work, sealed under the new one.
        s3.put_object(Bucket="ver", Key="new", Body=b"written after the key change")
        # SSE-KMS with another configured key id: sealed under that key, left alone by rotation.
        s3.put_object(Bucket="enc", Key="tenant", Body=b"tenant data", ServerSideEncryption="aws:kms",
                      SSEKMSKeyId="tenant-key")
        assert s3.head_object(Bucket="enc", Key="tenant")["SSEKMSKeyId"] == "tenant-key"

        before = blob_digests(srv)
        failures = []
        stop = threading.Event()

        def reader():
            c = srv.client()
            while not stop.is_set():
                for k, v in objects.items():
                    try:
                        if c.get_object(Bucket="enc", Key=k)["Body"].read() != v:
                            failures.append(k)
                    except Exception as e:  # noqa: BLE001 - any failure is the finding
                        failures.append(f"{k}: {e}")

        t = threading.Thread(target=reader)
        t.start()
        try:
            r = srv.admin("kms", "rotate", "srv")
        finally:
            stop.set()
            t.join(timeout=60)
        assert r.returncode == 0, r.stderr + r.stdout
        report = json.loads(r.stdout)
        # small, file, multi, and two versions of doc.
        assert report["resealed"] == 5 and report["remaining"] == 0, report
        assert report["current"] == 2  # "new" (key-2026) and "tenant" (tenant-key)
        assert report["iam_secrets_resealed"] == 1
        assert failures == []
        # Object data was not rewritten: every blob file is byte for byte the same.
        assert blob_digests(srv) == before
        again = json.loads(srv.admin("kms", "rotate", "srv").stdout)
        assert again["resealed"] == 0 and again["current"] == 7
        srv.stop()

        # The old key is gone: everything still opens.
        del srv.extra_env["ALMACEN_KMS_PREVIOUS_KEYS"]
        srv.start()
        s3 = srv.client()
        for k, v in objects.items():
            assert s3.get_object(Bucket="enc", Key=k)["Body"].read() == v
        assert s3.get_object(Bucket="ver", Key="doc", VersionId=v1)["Body"].read() == b"first version"
        assert s3.get_object(Bucket="ver", Key="doc")["Body"].read() == b"second version"
        assert s3.get_object(Bucket="enc", Key="plain")["Body"].read() == b"never encrypted"
        app = srv.client(access_key="appuser", secret_key="appsecret123")
        assert app.get_object(Bucket="enc", Key="file")["Body"].read() == objects["file"]
        # Sealed metadata moved to the new key with the object keys.
        assert s3.head_object(Bucket="enc", Key="small")["Metadata"] == {"owner": "customer-small"}
        tenant = s3.get_object(Bucket="enc", Key="tenant")
        assert tenant["SSEKMSKeyId"] == "tenant-key" and tenant["Body"].read() == b"tenant data"
    finally:
        srv.cleanup()
