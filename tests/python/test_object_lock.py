"""Object lock through boto3: lock buckets, default retention, GOVERNANCE
and COMPLIANCE retention, legal holds, and the refusals that keep locked
versions (root included, for COMPLIANCE)."""

import datetime
import uuid

import pytest
from botocore.exceptions import ClientError

from conftest import error_code, http_status

FUTURE = datetime.datetime(2031, 1, 1, tzinfo=datetime.timezone.utc)


@pytest.fixture
def locked(s3):
    name = "lock-" + uuid.uuid4().hex[:12]
    s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    return name


def denied(fn, **kw):
    with pytest.raises(ClientError) as e:
        fn(**kw)
    assert error_code(e.value) == "AccessDenied", e.value.response
    assert http_status(e.value) == 403


def test_lock_bucket_is_versioned_and_configurable(s3, locked, bucket):
    assert s3.get_bucket_versioning(Bucket=locked)["Status"] == "Enabled"
    assert s3.get_object_lock_configuration(Bucket=locked)["ObjectLockConfiguration"]["ObjectLockEnabled"] == "Enabled"
    with pytest.raises(ClientError) as e:
        s3.put_bucket_versioning(Bucket=locked, VersioningConfiguration={"Status": "Suspended"})
    assert error_code(e.value) == "InvalidBucketState" and http_status(e.value) == 409
    conf = {"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}}}
    s3.put_object_lock_configuration(Bucket=locked, ObjectLockConfiguration=conf)
    assert s3.get_object_lock_configuration(Bucket=locked)["ObjectLockConfiguration"] == conf
    # A plain bucket: not until versioning is enabled.
    with pytest.raises(ClientError) as e:
        s3.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration=conf)
    assert error_code(e.value) == "InvalidBucketState"
    with pytest.raises(ClientError) as e:
        s3.get_object_lock_configuration(Bucket=bucket)
    assert error_code(e.value) == "ObjectLockConfigurationNotFoundError"
    bad = {"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 0}}}
    with pytest.raises(ClientError) as e:
        s3.put_object_lock_configuration(Bucket=locked, ObjectLockConfiguration=bad)
    assert error_code(e.value) == "InvalidRetentionPeriod" and http_status(e.value) == 400


def test_default_retention_applies(s3, locked):
    conf = {"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 2}}}
    s3.put_object_lock_configuration(Bucket=locked, ObjectLockConfiguration=conf)
    v = s3.put_object(Bucket=locked, Key="k", Body=b"x")["VersionId"]
    head = s3.head_object(Bucket=locked, Key="k")
    assert head["ObjectLockMode"] == "GOVERNANCE"
    assert head["ObjectLockRetainUntilDate"] > datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)
    denied(s3.delete_object, Bucket=locked, Key="k", VersionId=v)
    s3.delete_object(Bucket=locked, Key="k", VersionId=v, BypassGovernanceRetention=True)


def test_governance_and_compliance(s3, locked):
    g = s3.put_object(Bucket=locked, Key="g", Body=b"g", ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=FUTURE)["VersionId"]
    c = s3.put_object(Bucket=locked, Key="c", Body=b"c")["VersionId"]
    s3.put_object_retention(Bucket=locked, Key="c", Retention={"Mode": "COMPLIANCE", "RetainUntilDate": FUTURE})
    assert s3.get_object_retention(Bucket=locked, Key="c")["Retention"]["Mode"] == "COMPLIANCE"
    # Deleting without a version id only adds a delete marker: allowed.
    s3.delete_object(Bucket=locked, Key="g")
    # Removing the locked versions is refused, to root as well.
    denied(s3.delete_object, Bucket=locked, Key="g", VersionId=g)
    denied(s3.delete_object, Bucket=locked, Key="c", VersionId=c)
    denied(s3.delete_object, Bucket=locked, Key="c", VersionId=c, BypassGovernanceRetention=True)
    r = s3.delete_objects(Bucket=locked, Delete={"Objects": [{"Key": "c", "VersionId": c}]})
    assert r["Errors"][0]["Code"] == "AccessDenied"
    # COMPLIANCE cannot be shortened; GOVERNANCE only with the bypass.
    earlier = FUTURE - datetime.timedelta(days=30)
    denied(s3.put_object_retention, Bucket=locked, Key="c", VersionId=c,
           Retention={"Mode": "COMPLIANCE", "RetainUntilDate": earlier}, BypassGovernanceRetention=True)
    denied(s3.put_object_retention, Bucket=locked, Key="g", VersionId=g,
           Retention={"Mode": "GOVERNANCE", "RetainUntilDate": earlier})
    s3.put_object_retention(Bucket=locked, Key="g", VersionId=g,
                            Retention={"Mode": "GOVERNANCE", "RetainUntilDate": earlier}, BypassGovernanceRetention=True)
    # Extending is always allowed.
    s3.put_object_retention(Bucket=locked, Key="c", VersionId=c,
                            Retention={"Mode": "COMPLIANCE", "RetainUntilDate": FUTURE + datetime.timedelta(days=1)})
    s3.delete_object(Bucket=locked, Key="g", VersionId=g, BypassGovernanceRetention=True)
    assert s3.get_object(Bucket=locked, Key="c", VersionId=c)["Body"].read() == b"c"


def test_legal_hold(s3, locked):
    v = s3.put_object(Bucket=locked, Key="h", Body=b"h", ObjectLockLegalHoldStatus="ON")["VersionId"]
    assert s3.get_object_legal_hold(Bucket=locked, Key="h")["LegalHold"]["Status"] == "ON"
    denied(s3.delete_object, Bucket=locked, Key="h", VersionId=v, BypassGovernanceRetention=True)
    s3.put_object_legal_hold(Bucket=locked, Key="h", LegalHold={"Status": "OFF"})
    s3.delete_object(Bucket=locked, Key="h", VersionId=v)


def test_lock_settings_need_a_lock_bucket(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="k2", Body=b"x", ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=FUTURE)
    assert error_code(e.value) == "InvalidRequest"
    with pytest.raises(ClientError) as e:
        s3.put_object_retention(Bucket=bucket, Key="k", Retention={"Mode": "GOVERNANCE", "RetainUntilDate": FUTURE})
    assert error_code(e.value) == "InvalidRequest"
    with pytest.raises(ClientError) as e:
        s3.put_object_legal_hold(Bucket=bucket, Key="k", LegalHold={"Status": "ON"})
    assert error_code(e.value) == "InvalidRequest"


def test_governance_to_compliance_needs_the_bypass(s3, locked):
    until = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)
    v = s3.put_object(Bucket=locked, Key="m", Body=b"m", ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=until)["VersionId"]
    denied(s3.put_object_retention, Bucket=locked, Key="m", Retention={"Mode": "COMPLIANCE", "RetainUntilDate": until})
    s3.put_object_retention(Bucket=locked, Key="m", Retention={"Mode": "COMPLIANCE", "RetainUntilDate": until},
                            BypassGovernanceRetention=True)
    denied(s3.delete_object, Bucket=locked, Key="m", VersionId=v, BypassGovernanceRetention=True)
