"""Durability across a clean restart (SIGTERM, start again on the same data dir)."""

import hashlib
import os
import signal

from conftest import md5_etag, multipart_etag, unique_bucket_name

MiB = 1024 * 1024


def test_restart_preserves_objects(server_factory):
    first = server_factory()
    data_dir = first.data_dir
    c = first.client()
    bucket = unique_bucket_name("restart")
    c.create_bucket(Bucket=bucket)

    objects = {
        "plain.txt": b"hello after restart",
        "empty": b"",
        "dir/ünïcode key": os.urandom(100_000),
        "big.bin": os.urandom(3 * MiB + 5),
    }
    for k, v in objects.items():
        c.put_object(Bucket=bucket, Key=k, Body=v, Metadata={"k": "v"}, ContentType="x/y")

    parts = [os.urandom(5 * MiB), os.urandom(12_345)]
    uid = c.create_multipart_upload(Bucket=bucket, Key="multi")["UploadId"]
    done_parts = []
    for n, p in enumerate(parts, start=1):
        r = c.upload_part(Bucket=bucket, Key="multi", UploadId=uid, PartNumber=n, Body=p)
        done_parts.append({"PartNumber": n, "ETag": r["ETag"]})
    c.complete_multipart_upload(
        Bucket=bucket, Key="multi", UploadId=uid, MultipartUpload={"Parts": done_parts}
    )
    objects["multi"] = b"".join(parts)

    # An upload left pending across the restart.
    pending = c.create_multipart_upload(Bucket=bucket, Key="pending")["UploadId"]
    pending_part = os.urandom(1000)
    c.upload_part(Bucket=bucket, Key="pending", UploadId=pending, PartNumber=1, Body=pending_part)

    # A deleted object must stay deleted.
    c.put_object(Bucket=bucket, Key="deleted", Body=b"gone")
    c.delete_object(Bucket=bucket, Key="deleted")

    before = {o["Key"]: o for o in c.list_objects_v2(Bucket=bucket)["Contents"]}

    rc = first.stop(signal.SIGTERM)
    assert rc is not None, "server did not exit within the timeout after SIGTERM"

    second = server_factory(data_dir=data_dir)
    c2 = second.client()
    assert bucket in [b["Name"] for b in c2.list_buckets()["Buckets"]]

    after = {o["Key"]: o for o in c2.list_objects_v2(Bucket=bucket)["Contents"]}
    assert sorted(after) == sorted(objects)
    for k in objects:
        assert after[k]["ETag"] == before[k]["ETag"]
        assert after[k]["Size"] == before[k]["Size"]
        assert after[k]["LastModified"] == before[k]["LastModified"]

    for k, v in objects.items():
        got = c2.get_object(Bucket=bucket, Key=k)
        body = got["Body"].read()
        assert hashlib.sha256(body).hexdigest() == hashlib.sha256(v).hexdigest(), k
        if k == "multi":
            assert got["ETag"] == multipart_etag(parts)
        else:
            assert got["ETag"] == md5_etag(v)
            assert got["Metadata"] == {"k": "v"}
            assert got["ContentType"] == "x/y"

    uploads = c2.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    assert [(u["Key"], u["UploadId"]) for u in uploads] == [("pending", pending)]
    listed = c2.list_parts(Bucket=bucket, Key="pending", UploadId=pending)["Parts"]
    assert [(p["PartNumber"], p["ETag"]) for p in listed] == [(1, md5_etag(pending_part))]
    r = c2.complete_multipart_upload(
        Bucket=bucket,
        Key="pending",
        UploadId=pending,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": md5_etag(pending_part)}]},
    )
    assert r["ETag"] == multipart_etag([pending_part])
    assert c2.get_object(Bucket=bucket, Key="pending")["Body"].read() == pending_part


def test_restart_twice_and_write_after_restart(server_factory):
    srv = server_factory()
    c = srv.client()
    bucket = unique_bucket_name("restart2")
    c.create_bucket(Bucket=bucket)
    c.put_object(Bucket=bucket, Key="gen0", Body=b"0")
    data_dir = srv.data_dir
    srv.stop()

    srv1 = server_factory(data_dir=data_dir)
    c1 = srv1.client()
    c1.put_object(Bucket=bucket, Key="gen1", Body=b"1")
    c1.delete_object(Bucket=bucket, Key="gen0")
    srv1.stop()

    srv2 = server_factory(data_dir=data_dir)
    c2 = srv2.client()
    keys = [o["Key"] for o in c2.list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == ["gen1"]
    assert c2.get_object(Bucket=bucket, Key="gen1")["Body"].read() == b"1"
