"""Lifecycle configuration (seed 000's rules) and the worker that applies
it, with a shortened lifecycle day (ALMACEN_LIFECYCLE_DAY_SECONDS)."""

import datetime
import json
import os
import subprocess
import sys
import time

import pytest
from botocore.exceptions import ClientError

from conftest import error_code, http_status

SEED_000 = {
    "Rules": [
        {"ID": "DeleteOldVideos", "Status": "Enabled", "Filter": {"Prefix": "videos/"}, "Expiration": {"Days": 30}},
        {"ID": "DeleteOldFrames", "Status": "Enabled", "Filter": {"Prefix": "frames/"}, "Expiration": {"Days": 7}},
    ]
}


def test_seed_000_rules_round_trip(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.get_bucket_lifecycle_configuration(Bucket=bucket)
    assert error_code(e.value) == "NoSuchLifecycleConfiguration"
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration=SEED_000)
    rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert [(r["ID"], r["Status"], r["Filter"], r["Expiration"]) for r in rules] == [
        (r["ID"], r["Status"], r["Filter"], r["Expiration"]) for r in SEED_000["Rules"]
    ]
    s3.delete_bucket_lifecycle(Bucket=bucket)
    with pytest.raises(ClientError) as e:
        s3.get_bucket_lifecycle_configuration(Bucket=bucket)
    assert error_code(e.value) == "NoSuchLifecycleConfiguration"


def aws_cli(server, *args):
    """Runs the real aws cli (v1, from pip) against the server."""
    env = dict(os.environ, AWS_ACCESS_KEY_ID=server.access_key, AWS_SECRET_ACCESS_KEY=server.secret_key,
               AWS_DEFAULT_REGION="us-east-1", AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull,
               AWS_EC2_METADATA_DISABLED="true")
    return subprocess.run([sys.executable, "-m", "awscli", "--endpoint-url", server.endpoint, *args],
                          capture_output=True, text=True, env=env, timeout=120)


def test_seed_000_rules_through_the_aws_cli(server, bucket, tmp_path):
    """Seed 000 sends its rules with `aws s3api put-bucket-lifecycle-configuration`."""
    f = tmp_path / "lifecycle.json"
    f.write_text(json.dumps(SEED_000))
    put = aws_cli(server, "s3api", "put-bucket-lifecycle-configuration", "--bucket", bucket,
                  "--lifecycle-configuration", f"file://{f}")
    assert put.returncode == 0, put.stderr
    got = aws_cli(server, "s3api", "get-bucket-lifecycle-configuration", "--bucket", bucket)
    assert got.returncode == 0, got.stderr
    assert json.loads(got.stdout)["Rules"] == SEED_000["Rules"]


def test_other_rule_shapes_round_trip(s3, bucket):
    config = {
        "Rules": [
            {"ID": "tmp", "Status": "Enabled",
             "Filter": {"And": {"Prefix": "tmp/", "Tags": [{"Key": "kind", "Value": "scratch"}], "ObjectSizeGreaterThan": 10}},
             "Expiration": {"Date": datetime.datetime(2030, 1, 1, tzinfo=datetime.timezone.utc)}},
            {"ID": "uploads", "Status": "Disabled", "Filter": {"Prefix": ""},
             "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 2},
             "NoncurrentVersionExpiration": {"NoncurrentDays": 30, "NewerNoncurrentVersions": 3}},
            {"ID": "archive", "Status": "Enabled", "Filter": {"Tag": {"Key": "archive", "Value": "yes"}},
             "Transitions": [{"Days": 90, "StorageClass": "GLACIER"}]},
        ]
    }
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration=config)
    got = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert got[0]["Filter"]["And"]["Tags"] == [{"Key": "kind", "Value": "scratch"}]
    assert got[0]["Expiration"]["Date"].year == 2030
    assert got[1]["Status"] == "Disabled"
    assert got[1]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 2}
    assert got[1]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 30, "NewerNoncurrentVersions": 3}
    assert got[2]["Transitions"] == [{"Days": 90, "StorageClass": "GLACIER"}]


@pytest.mark.parametrize(
    "rule,code",
    [
        ({"ID": "x", "Status": "enabled", "Filter": {"Prefix": ""}, "Expiration": {"Days": 1}}, "MalformedXML"),
        ({"ID": "x", "Status": "Enabled", "Filter": {"Prefix": ""}, "Expiration": {"Days": 0}}, "InvalidArgument"),
        ({"ID": "x" * 256, "Status": "Enabled", "Filter": {"Prefix": ""}, "Expiration": {"Days": 1}}, "InvalidArgument"),
        ({"ID": "x", "Status": "Enabled", "Filter": {"Prefix": ""},
          "Expiration": {"Date": datetime.datetime(2030, 1, 1, 12, tzinfo=datetime.timezone.utc)}}, "InvalidArgument"),
        ({"ID": "x", "Status": "Enabled", "Filter": {"Prefix": ""}}, "InvalidRequest"),
        ({"ID": "x", "Status": "Enabled", "Filter": {"Prefix": ""},
          "Transitions": [{"Date": datetime.datetime(2030, 1, 1, 12, tzinfo=datetime.timezone.utc), "StorageClass": "GLACIER"}]},
         "InvalidArgument"),
        ({"ID": "x", "Status": "Enabled", "Filter": {"Tag": {"Key": "a", "Value": "b"}},
          "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}}, "InvalidRequest"),
    ],
    ids=["bad-status", "zero-days", "long-id", "date-not-midnight", "no-action", "transition-date", "abort-with-tag"],
)
def test_invalid_rules(s3, bucket, rule, code):
    with pytest.raises(ClientError) as e:
        s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [rule]})
    assert error_code(e.value) == code
    assert http_status(e.value) == 400


def test_duplicate_ids_refused(s3, bucket):
    rule = {"ID": "same", "Status": "Enabled", "Filter": {"Prefix": "a/"}, "Expiration": {"Days": 1}}
    with pytest.raises(ClientError) as e:
        s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [rule, dict(rule, Filter={"Prefix": "b/"})]})
    assert error_code(e.value) == "InvalidArgument"


def test_expiration_header_on_put_get_head(s3, bucket):
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration=SEED_000)
    put = s3.put_object(Bucket=bucket, Key="videos/a.mp4", Body=b"v")
    assert 'rule-id="DeleteOldVideos"' in put["Expiration"]
    head = s3.head_object(Bucket=bucket, Key="videos/a.mp4")
    # 30 days after today, rounded up to midnight GMT.
    expected = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=31)).strftime("%d %b %Y")
    assert expected in head["Expiration"] and "00:00:00 GMT" in head["Expiration"], head["Expiration"]
    assert 'rule-id="DeleteOldVideos"' in s3.get_object(Bucket=bucket, Key="videos/a.mp4")["Expiration"]
    s3.put_object(Bucket=bucket, Key="docs/a.pdf", Body=b"d")
    assert "Expiration" not in s3.head_object(Bucket=bucket, Key="docs/a.pdf")


def wait_until(cond, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.2)
    return cond()


def exists(s3, bucket, key):
    try:
        s3.head_object(Bucket=bucket, Key=key)
        return True
    except ClientError:
        return False


def test_worker_expires_objects_with_a_short_day(server_factory):
    """One lifecycle day = 1 s: videos/ (2 days) go, frames/ (7 days) stay."""
    srv = server_factory(extra_env={"ALMACEN_LIFECYCLE_DAY_SECONDS": "1"})
    s3 = srv.client()
    s3.create_bucket(Bucket="inventory")
    rules = {
        "Rules": [
            {"ID": "DeleteOldVideos", "Status": "Enabled", "Filter": {"Prefix": "videos/"}, "Expiration": {"Days": 2}},
            {"ID": "DeleteOldFrames", "Status": "Enabled", "Filter": {"Prefix": "frames/"}, "Expiration": {"Days": 60}},
            {"ID": "Scratch", "Status": "Enabled",
             "Filter": {"And": {"Prefix": "tmp/", "Tags": [{"Key": "scratch", "Value": "yes"}]}}, "Expiration": {"Days": 1}},
            {"ID": "Uploads", "Status": "Enabled", "Filter": {"Prefix": ""}, "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}},
        ]
    }
    s3.put_bucket_lifecycle_configuration(Bucket="inventory", LifecycleConfiguration=rules)
    s3.put_object(Bucket="inventory", Key="videos/v1.mp4", Body=b"v" * 200_000)
    s3.put_object(Bucket="inventory", Key="frames/f1.jpg", Body=b"f")
    s3.put_object(Bucket="inventory", Key="tmp/a", Body=b"a", Tagging="scratch=yes")
    s3.put_object(Bucket="inventory", Key="tmp/b", Body=b"b", Tagging="scratch=no")
    s3.put_object(Bucket="inventory", Key="other/o.txt", Body=b"o")
    upload = s3.create_multipart_upload(Bucket="inventory", Key="big.bin")["UploadId"]
    assert wait_until(lambda: not exists(s3, "inventory", "videos/v1.mp4"))
    assert wait_until(lambda: not exists(s3, "inventory", "tmp/a"))
    assert wait_until(lambda: not s3.list_multipart_uploads(Bucket="inventory").get("Uploads"))
    with pytest.raises(ClientError):
        s3.list_parts(Bucket="inventory", Key="big.bin", UploadId=upload)
    for key in ("frames/f1.jpg", "tmp/b", "other/o.txt"):
        assert exists(s3, "inventory", key), key
    # The rules survive a restart.
    srv.stop()
    srv.start()
    assert [r["ID"] for r in srv.client().get_bucket_lifecycle_configuration(Bucket="inventory")["Rules"]] == [
        "DeleteOldVideos", "DeleteOldFrames", "Scratch", "Uploads"]


def test_worker_in_a_versioned_bucket(server_factory):
    """Noncurrent versions expire (keeping the newest one), lone delete
    markers go, and expiry of a current object leaves a delete marker."""
    srv = server_factory(extra_env={"ALMACEN_LIFECYCLE_DAY_SECONDS": "1"})
    s3 = srv.client()
    s3.create_bucket(Bucket="photos")
    s3.put_bucket_versioning(Bucket="photos", VersioningConfiguration={"Status": "Enabled"})
    ids = [s3.put_object(Bucket="photos", Key="customers/p.jpg", Body=f"v{i}".encode())["VersionId"] for i in range(4)]
    s3.put_object(Bucket="photos", Key="gone/g", Body=b"g")
    s3.delete_object(Bucket="photos", Key="gone/g")
    only = [v["VersionId"] for v in s3.list_object_versions(Bucket="photos", Prefix="gone/")["Versions"]]
    s3.delete_object(Bucket="photos", Key="gone/g", VersionId=only[0])
    s3.put_object(Bucket="photos", Key="exp/e", Body=b"e")
    s3.put_bucket_lifecycle_configuration(
        Bucket="photos",
        LifecycleConfiguration={
            "Rules": [
                {"ID": "old-versions", "Status": "Enabled", "Filter": {"Prefix": "customers/"},
                 "NoncurrentVersionExpiration": {"NoncurrentDays": 1, "NewerNoncurrentVersions": 1}},
                {"ID": "markers", "Status": "Enabled", "Filter": {"Prefix": "gone/"},
                 "Expiration": {"ExpiredObjectDeleteMarker": True}},
                {"ID": "expire", "Status": "Enabled", "Filter": {"Prefix": "exp/"}, "Expiration": {"Days": 1}},
            ]
        },
    )

    def versions(prefix):
        r = s3.list_object_versions(Bucket="photos", Prefix=prefix)
        return [v["VersionId"] for v in r.get("Versions", [])], [m["VersionId"] for m in r.get("DeleteMarkers", [])]

    assert wait_until(lambda: versions("customers/")[0] == [ids[3], ids[2]])
    assert wait_until(lambda: versions("gone/") == ([], []))
    assert wait_until(lambda: len(versions("exp/")[1]) == 1)
    assert len(versions("exp/")[0]) == 1  # the expired object is still a noncurrent version
    assert s3.get_object(Bucket="photos", Key="customers/p.jpg")["Body"].read() == b"v3"
