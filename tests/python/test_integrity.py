"""Integrity through boto3 and the admin CLI: a flipped bit on disk is never
served (plain files, inline objects in the metadata store, encrypted files),
`almacen admin scan` reports corrupt, missing and orphaned data, and the
metrics count checksum failures."""

import base64
import glob
import json
import os
import random
import sqlite3
import time
import urllib.request

import pytest
from botocore.exceptions import ClientError

from conftest import AlmacenServer, embedded_only, error_code, http_status

KMS = "k1:" + base64.b64encode(bytes(range(32))).decode()
CHUNK = 64 * 1024


@pytest.fixture
def fresh():
    srv = AlmacenServer(
        extra_env={
            "MINIO_KMS_SECRET_KEY": KMS,
            "MINIO_PROMETHEUS_AUTH_TYPE": "public",
            "ALMACEN_SCRUB_RATE": "off",
        }
    )
    srv.start()
    s3 = srv.client()
    s3.create_bucket(Bucket="data")
    yield srv, s3
    srv.cleanup()


def blob_files(srv):
    return sorted(glob.glob(os.path.join(srv.data_dir, "blobs", "*", "*")), key=os.path.getmtime)


def flip(path, offset):
    with open(path, "r+b") as f:
        f.seek(offset)
        b = f.read(1)
        f.seek(offset)
        f.write(bytes([b[0] ^ 0x20]))


def scan(srv, *args):
    r = srv.admin("scan", "srv", *args)
    return r.returncode, json.loads(r.stdout)


def metric(srv, name):
    text = urllib.request.urlopen(srv.endpoint + "/metrics", timeout=10).read().decode()
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "_total "):
            return float(line.split()[-1])
    raise AssertionError(f"{name} not in metrics")


def test_flipped_bit_in_a_plain_file_is_never_served(fresh):
    srv, s3 = fresh
    data = random.Random(1).randbytes(5 * CHUNK + 123)
    s3.put_object(Bucket="data", Key="photo.jpg", Body=data)
    [path] = blob_files(srv)
    assert s3.get_object(Bucket="data", Key="photo.jpg")["Body"].read() == data
    rc, report = scan(srv)
    assert rc == 0 and report["corrupt"] == [] and report["objects"] == 1
    assert report["bytes"] == len(data)

    # Corruption in chunk 3: the first chunks still read, a range inside
    # chunk 3 fails with an error before any byte is sent, a whole read
    # stops before the bad chunk.
    flip(path, 3 * CHUNK + 10)
    ok = s3.get_object(Bucket="data", Key="photo.jpg", Range=f"bytes=0-{CHUNK}")["Body"].read()
    assert ok == data[: CHUNK + 1]
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="data", Key="photo.jpg", Range=f"bytes={3 * CHUNK}-{3 * CHUNK + 99}")
    assert error_code(e.value) == "InternalError" and http_status(e.value) == 500
    assert "integrity" in e.value.response["Error"]["Message"]
    with pytest.raises(Exception):
        body = s3.get_object(Bucket="data", Key="photo.jpg")["Body"].read()
        # Should the client not notice the short body, the bytes are still not the bad ones.
        assert body == data
    assert metric(srv, "almacen_integrity_checksum_failures") >= 2

    rc, report = scan(srv)
    assert rc == 2
    [bad] = report["corrupt"]
    assert bad["bucket"] == "data" and bad["key"] == "photo.jpg" and "chunk 3" in bad["detail"]
    rc, recorded = scan(srv, "--recorded")
    assert rc == 2 and [c["key"] for c in recorded["corrupt"]] == ["photo.jpg"]

    # A new upload replaces the object; the next scan finds it sound and
    # forgets the record.
    s3.put_object(Bucket="data", Key="photo.jpg", Body=data)
    assert s3.get_object(Bucket="data", Key="photo.jpg")["Body"].read() == data
    rc, report = scan(srv)
    assert rc == 0 and report["corrupt"] == []
    rc, recorded = scan(srv, "--recorded")
    assert rc == 0 and recorded["corrupt"] == []


@embedded_only("flips a byte of an inline object inside meta.db")
def test_inline_objects_are_checked_too(fresh):
    """Small objects live in the metadata store; a flipped byte there is
    caught by the object's CRC-64/NVME."""
    srv, s3 = fresh
    marker = b"INLINE-MARKER-" + os.urandom(8).hex().encode()
    body = marker * 50
    s3.put_object(Bucket="data", Key="small.txt", Body=body)
    srv.stop()
    # Move the write-ahead log into the database file (WAL frames carry
    # their own checksums; database pages do not).
    db = sqlite3.connect(os.path.join(srv.data_dir, "meta.db"))
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    hits = 0
    for name in ("meta.db",):
        path = os.path.join(srv.data_dir, name)
        raw = bytearray(open(path, "rb").read())
        # The row may straddle pages, so flip a byte of every copy of the marker.
        at = raw.find(marker)
        while at >= 0:
            raw[at + 3] ^= 0x01
            hits += 1
            at = raw.find(marker, at + 1)
        open(path, "wb").write(raw)
    assert hits >= 1
    srv.start()
    s3 = srv.client()
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="data", Key="small.txt")
    assert error_code(e.value) == "InternalError"
    rc, report = scan(srv)
    assert rc == 2 and [c["key"] for c in report["corrupt"]] == ["small.txt"]


def test_encrypted_missing_and_orphaned_files(fresh):
    srv, s3 = fresh
    data = random.Random(2).randbytes(3 * CHUNK)
    s3.put_object(Bucket="data", Key="enc", Body=data, ServerSideEncryption="AES256")
    [enc_path] = blob_files(srv)
    s3.put_object(Bucket="data", Key="gone", Body=data)
    gone_path = [p for p in blob_files(srv) if p != enc_path][0]
    flip(enc_path, 2 * CHUNK)
    with pytest.raises(Exception):
        s3.get_object(Bucket="data", Key="enc")["Body"].read()
    os.remove(gone_path)
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="data", Key="gone")
    assert error_code(e.value) == "InternalError"
    # A file no metadata names, old enough not to be an upload in flight.
    orphan = os.path.join(srv.data_dir, "blobs", "ff", "ff" + "0" * 30)
    os.makedirs(os.path.dirname(orphan), exist_ok=True)
    open(orphan, "wb").write(b"left behind")
    old = time.time() - 3600
    os.utime(orphan, (old, old))
    rc, report = scan(srv)
    assert rc == 2
    details = {c["key"]: c["detail"] for c in report["corrupt"]}
    assert set(details) == {"enc", "gone"}
    assert "authentication" in details["enc"] and "missing" in details["gone"]
    assert report["orphans"] == [os.path.basename(orphan)]
    assert metric(srv, "almacen_integrity_scanned_objects") >= 0


def test_scan_needs_admin_rights(fresh):
    srv, _ = fresh
    assert srv.admin("user", "add", "srv", "reader", "readerpass123").returncode == 0
    assert srv.admin("policy", "attach", "srv", "readonly", "--user", "reader").returncode == 0
    r = srv.admin("scan", "srv", access_key="reader", secret_key="readerpass123")
    assert r.returncode != 0 and "AccessDenied" in (r.stderr + r.stdout)
