"""`almacen mirror SRC DST` between two real servers: bucket settings,
objects with their metadata and tags, every version in order, delete
markers, large objects in parts, dry run, resuming, and the final count."""

from __future__ import annotations

import json
import os
import subprocess
import urllib.parse

import pytest
from botocore.exceptions import ClientError

from conftest import find_binary

POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"AWS": ["*"]}, "Action": ["s3:GetObject"],
                   "Resource": ["arn:aws:s3:::uploads/*"]}],
}
LIFECYCLE = {"Rules": [
    {"ID": "DeleteOldVideos", "Status": "Enabled", "Filter": {"Prefix": "videos/"}, "Expiration": {"Days": 30}},
    {"ID": "DeleteOldFrames", "Status": "Enabled", "Filter": {"Prefix": "frames/"}, "Expiration": {"Days": 7}},
]}
CORS = {"CORSRules": [{"AllowedOrigins": ["http://localhost:5173"], "AllowedMethods": ["GET", "PUT"],
                       "AllowedHeaders": ["*"], "ExposeHeaders": ["ETag"]}]}


def url_of(srv) -> str:
    host = srv.endpoint.split("://", 1)[1]
    q = lambda s: urllib.parse.quote(s, safe="")  # noqa: E731
    return f"http://{q(srv.access_key)}:{q(srv.secret_key)}@{host}"


def mirror(src, dst, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, ALMACEN_CONFIG_DIR=src.log_dir)
    return subprocess.run(
        [find_binary(), "mirror", url_of(src), url_of(dst), *args],
        capture_output=True, text=True, env=env, timeout=600,
    )


def versions(s3, bucket: str, key: str) -> list[tuple[str, bytes | None]]:
    """A key's history oldest first: ("v", bytes) or ("marker", None)."""
    page = s3.list_object_versions(Bucket=bucket, Prefix=key)
    entries = [("v", v) for v in page.get("Versions", []) if v["Key"] == key]
    entries += [("marker", m) for m in page.get("DeleteMarkers", []) if m["Key"] == key]
    entries.sort(key=lambda e: e[1]["LastModified"])
    out = []
    for kind, e in entries:
        if kind == "v":
            body = s3.get_object(Bucket=bucket, Key=key, VersionId=e["VersionId"])["Body"].read()
            out.append(("v", body))
        else:
            out.append(("marker", None))
    return out


@pytest.fixture
def pair(server_factory):
    src = server_factory(access_key="minioadmin", secret_key="minioadmin")
    dst = server_factory(access_key="dstadmin", secret_key="dstsecret123")
    return src, dst


def seed_source(s3):
    s3.create_bucket(Bucket="uploads")
    s3.put_bucket_policy(Bucket="uploads", Policy=json.dumps(POLICY))
    s3.put_bucket_cors(Bucket="uploads", CORSConfiguration=CORS)
    s3.put_bucket_tagging(Bucket="uploads", Tagging={"TagSet": [{"Key": "app", "Value": "catalog"}]})
    s3.put_object(Bucket="uploads", Key="products/tenant_1/1_martillo.jpg", Body=b"\xff\xd8jpeg",
                  ContentType="image/jpeg", CacheControl="max-age=60", Metadata={"tenant": "1"},
                  Tagging="kind=product&owner=t%201")
    big = os.urandom(20 * 1024 * 1024 + 7)
    s3.put_object(Bucket="uploads", Key="videos/big.mp4", Body=big, ContentType="video/mp4")

    s3.create_bucket(Bucket="customer-photos")
    s3.put_bucket_versioning(Bucket="customer-photos", VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_lifecycle_configuration(Bucket="customer-photos", LifecycleConfiguration=LIFECYCLE)
    for body in (b"face v1", b"face v2", b"face v3"):
        s3.put_object(Bucket="customer-photos", Key="customers/c1/face.jpg", Body=body, ContentType="image/jpeg")
    s3.put_object(Bucket="customer-photos", Key="customers/c1/palm.jpg", Body=b"palm", ContentType="image/jpeg")
    s3.delete_object(Bucket="customer-photos", Key="customers/c1/palm.jpg")
    return big


def test_mirror_copies_settings_objects_and_versions(pair):
    src, dst = pair
    s, d = src.client(), dst.client()
    big = seed_source(s)

    # Dry run: says what it would do, writes nothing.
    r = mirror(src, dst, "--dry-run")
    assert r.returncode == 0, r.stderr
    assert "would create the bucket" in r.stderr and "would set policy" in r.stderr
    assert "would copy customers/c1/face.jpg" in r.stderr
    assert d.list_buckets()["Buckets"] == []

    r = mirror(src, dst)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "uploads" in r.stdout and "customer-photos" in r.stdout

    # Settings.
    assert json.loads(d.get_bucket_policy(Bucket="uploads")["Policy"]) == POLICY
    assert d.get_bucket_cors(Bucket="uploads")["CORSRules"][0]["AllowedOrigins"] == ["http://localhost:5173"]
    assert d.get_bucket_tagging(Bucket="uploads")["TagSet"] == [{"Key": "app", "Value": "catalog"}]
    assert d.get_bucket_versioning(Bucket="customer-photos")["Status"] == "Enabled"
    rules = d.get_bucket_lifecycle_configuration(Bucket="customer-photos")["Rules"]
    assert [(r["ID"], r["Expiration"]["Days"]) for r in rules] == [("DeleteOldVideos", 30), ("DeleteOldFrames", 7)]

    # Objects with their headers, metadata and tags.
    got = d.get_object(Bucket="uploads", Key="products/tenant_1/1_martillo.jpg")
    assert got["Body"].read() == b"\xff\xd8jpeg"
    assert (got["ContentType"], got["CacheControl"], got["Metadata"]) == ("image/jpeg", "max-age=60", {"tenant": "1"})
    tags = d.get_object_tagging(Bucket="uploads", Key="products/tenant_1/1_martillo.jpg")["TagSet"]
    assert sorted((t["Key"], t["Value"]) for t in tags) == [("kind", "product"), ("owner", "t 1")]
    assert d.get_object(Bucket="uploads", Key="videos/big.mp4")["Body"].read() == big

    # Every version in order, and the delete marker on top.
    assert versions(d, "customer-photos", "customers/c1/face.jpg") == [("v", b"face v1"), ("v", b"face v2"), ("v", b"face v3")]
    assert versions(d, "customer-photos", "customers/c1/palm.jpg") == [("v", b"palm"), ("marker", None)]
    with pytest.raises(ClientError):
        d.head_object(Bucket="customer-photos", Key="customers/c1/palm.jpg")

    # A second run copies nothing: everything is there.
    r = mirror(src, dst)
    assert r.returncode == 0, r.stderr
    lines = {l.split()[0]: l.split() for l in r.stdout.splitlines()[1:] if l and not l.startswith(" ")}
    assert lines["uploads"][1] == "0" and lines["customer-photos"][1] == "0", r.stdout


def test_mirror_resumes_where_it_stopped(pair):
    src, dst = pair
    s, d = src.client(), dst.client()
    seed_source(s)
    assert mirror(src, dst, "--bucket", "customer-photos").returncode == 0
    # New writes on the source after the first pass (the apps still ran).
    s.put_object(Bucket="customer-photos", Key="customers/c1/face.jpg", Body=b"face v4")
    s.put_object(Bucket="customer-photos", Key="customers/c2/face.jpg", Body=b"c2")
    r = mirror(src, dst, "--bucket", "customer-photos")
    assert r.returncode == 0, r.stderr
    assert [b for _, b in versions(d, "customer-photos", "customers/c1/face.jpg")] == [b"face v1", b"face v2", b"face v3", b"face v4"]
    assert d.get_object(Bucket="customer-photos", Key="customers/c2/face.jpg")["Body"].read() == b"c2"
    # Only customer-photos was asked for.
    assert [b["Name"] for b in d.list_buckets()["Buckets"]] == ["customer-photos"]


def test_mirror_reports_an_unreachable_source(pair, tmp_path):
    src, dst = pair
    src.stop()
    r = mirror(src, dst)
    assert r.returncode != 0
    assert "cannot list buckets" in r.stderr
