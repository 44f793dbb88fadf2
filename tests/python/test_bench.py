"""`almacen bench` against the real server: each mode runs briefly (a count
of operations or about two seconds), its JSON report is read, and the objects
it claims to have written are checked with boto3. A run with a wrong secret
must count and report its failures, and exit non-zero. No timing is asserted."""

from __future__ import annotations

import json
import subprocess

import pytest

from conftest import empty_and_delete_bucket, find_binary, unique_bucket_name


def bench(server, mode: str, *args: str, secret: str | None = None):
    """Runs `almacen bench MODE ... --json`; returns (exit code, report, stderr)."""
    proc = subprocess.run(
        [find_binary(), "bench", mode, "--endpoint", server.endpoint,
         "--access-key", server.access_key,
         "--secret-key", secret or server.secret_key, "--json", *args],
        capture_output=True, text=True, timeout=120,
    )
    report = json.loads(proc.stdout) if proc.stdout.strip() else None
    return proc.returncode, report, proc.stderr


@pytest.fixture
def bench_bucket(s3):
    """A bucket name the benchmark creates itself; emptied and removed afterwards."""
    name = unique_bucket_name("bench")
    yield name
    empty_and_delete_bucket(s3, name)


def keys_under(s3, bucket: str, prefix: str) -> list[dict]:
    out = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        out.extend(page.get("Contents", []))
    return out


def assert_clean(rc, report, err, op: str):
    assert rc == 0, err
    assert report["errors"] == 0, report
    assert report["ops"][op]["ops"] > 0, report
    assert report["ops"][op]["errors"] == 0, report


def test_put_writes_every_object_it_counts(server, s3, bench_bucket):
    rc, report, err = bench(server, "put", "--bucket", bench_bucket, "--prefix", "p/",
                            "--size", "4KiB", "--concurrency", "8", "--count", "200")
    assert_clean(rc, report, err, "put")
    put = report["ops"]["put"]
    assert put["ops"] == 200
    assert put["bytes"] == 200 * 4096
    assert put["latency_ms"]["max"] >= put["latency_ms"]["p50"] > 0
    objects = keys_under(s3, bench_bucket, "p/")
    assert len(objects) == 200
    assert {o["Size"] for o in objects} == {4096}
    body = s3.get_object(Bucket=bench_bucket, Key=objects[0]["Key"])["Body"].read()
    assert len(body) == 4096 and len(set(body)) > 200  # incompressible, not zeros


def test_get_for_a_duration_with_warmup(server, s3, bench_bucket):
    rc, report, err = bench(server, "get", "--bucket", bench_bucket, "--size", "64KiB",
                            "--objects", "20", "--concurrency", "4",
                            "--warmup", "300ms", "--duration", "2s")
    assert_clean(rc, report, err, "get")
    get = report["ops"]["get"]
    assert get["bytes"] == get["ops"] * 65536
    assert get["mib_per_s"] > 0
    assert 1.5 < report["duration_s"] < 30
    assert len(keys_under(s3, bench_bucket, "bench/")) == 20


def test_list_pages_with_and_without_delimiter(server, s3, bench_bucket):
    rc, report, err = bench(server, "list", "--bucket", bench_bucket, "--size", "0",
                            "--objects", "2500", "--concurrency", "16", "--count", "6")
    assert_clean(rc, report, err, "list")
    listed = report["ops"]["list"]
    assert listed["ops"] == 6
    # Pages of 1000, 1000, 500 over and over, whatever the workers' interleaving.
    assert 6 * 500 <= listed["items"] <= 6 * 1000
    assert len(keys_under(s3, bench_bucket, "bench/")) == 2500

    rc, report, err = bench(server, "list", "--bucket", bench_bucket, "--size", "0",
                            "--objects", "2500", "--no-prepare", "--delimiter", "/",
                            "--concurrency", "2", "--count", "4")
    assert_clean(rc, report, err, "list")
    # Three folders of at most a thousand keys each: bench/00000/ .. bench/00002/.
    assert report["ops"]["list"]["items"] == 4 * 3


def test_multipart_uploads_complete(server, s3, bench_bucket):
    rc, report, err = bench(server, "multipart", "--bucket", bench_bucket, "--prefix", "mp/",
                            "--size", "12MiB", "--part-size", "5MiB",
                            "--concurrency", "2", "--count", "2")
    assert_clean(rc, report, err, "multipart")
    assert report["ops"]["multipart"]["ops"] == 2
    objects = keys_under(s3, bench_bucket, "mp/")
    assert len(objects) == 2
    for o in objects:
        assert o["Size"] == 12 << 20
        assert o["ETag"].strip('"').endswith("-3")


def test_mixed_and_delete(server, s3, bench_bucket):
    rc, report, err = bench(server, "mixed", "--bucket", bench_bucket, "--size", "8KiB",
                            "--objects", "30", "--concurrency", "4", "--duration", "2s",
                            "--mix", "get=50,put=30,delete=10,head=10")
    assert rc == 0, err
    assert report["errors"] == 0, report
    assert report["ops"]["get"]["ops"] > 0 and report["ops"]["put"]["ops"] > 0

    rc, report, err = bench(server, "delete", "--bucket", bench_bucket, "--size", "1KiB",
                            "--prefix", "del/", "--objects", "40", "--concurrency", "4")
    assert_clean(rc, report, err, "delete")
    assert report["ops"]["delete"]["ops"] == 40
    assert keys_under(s3, bench_bucket, "del/") == []


def test_wrong_secret_is_counted_and_reported(server, s3, bench_bucket):
    rc, report, err = bench(server, "put", "--bucket", bench_bucket, "--count", "20",
                            "--concurrency", "4", secret="not-the-secret")
    assert rc != 0
    assert "requests failed" in err
    assert report["ops"]["put"]["ops"] == 0
    assert report["ops"]["put"]["errors"] == 20
    assert report["ops"]["put"]["error_kinds"] == {"403 SignatureDoesNotMatch": 20}
    assert report["errors"] == 21  # and the bucket creation
    assert "403 SignatureDoesNotMatch" in err  # the table names the failures too


def test_machine_limits(tmp_path):
    proc = subprocess.run(
        [find_binary(), "bench", "machine", "--dir", str(tmp_path), "--machine-size", "16MiB", "--json"],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    limits = json.loads(proc.stdout)
    for field in ("fsync_write_mib_s", "create_fsync_per_s", "loopback_tcp_mib_s",
                  "md5_mib_s", "sha256_mib_s"):
        assert limits[field] > 0, limits
    assert list(tmp_path.iterdir()) == []  # the probe files are gone
