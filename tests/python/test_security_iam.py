"""Issue 19: identity and admin-API holes (items 3, 11, 15). Each test
names its item; each failed on the code the issue was filed against."""

import json
import tempfile
import uuid

import pytest
from botocore.exceptions import ClientError

from conftest import error_code, unique_bucket_name
from security_helpers import admin_api, listen_status, policy, user_with_policy
from test_iam import denied, fails, new_user, ok
from test_metrics import scrape, token

FROM_HERE = {"IpAddress": {"aws:SourceIp": "127.0.0.1/32"}}


# ---------------------------------------------------------------------------
# item 3: admin:CreateServiceAccount does not make root keys
# ---------------------------------------------------------------------------


@pytest.fixture
def key_maker(server, tmp_path):
    """A user whose only right is admin:CreateServiceAccount."""
    return user_with_policy(server, tmp_path, policy(
        {"Effect": "Allow", "Action": "admin:CreateServiceAccount", "Resource": "arn:aws:s3:::*"},
    ))


def test_create_service_account_cannot_parent_a_key_on_root(server, s3, bucket, key_maker):
    """issue 19 item 3: a key whose parent is the root access key is root;
    only root may create one. The caller may still create keys for itself,
    and those have only its own (here: no) S3 rights."""
    s3.put_object(Bucket=bucket, Key="private.txt", Body=b"root only")
    user, secret = key_maker
    proc = server.admin("accesskey", "create", "srv", server.access_key, access_key=user, secret_key=secret)
    if proc.returncode == 0:
        key = json.loads(proc.stdout)
        c = server.client(access_key=key["access_key"], secret_key=key["secret_key"])
        body = c.get_object(Bucket=bucket, Key="private.txt")["Body"].read()
        pytest.fail(f"created a root-parented key {key['access_key']} that reads the private bucket: {body!r}")
    fails(proc, "AccessDenied")
    own = ok(server.admin("accesskey", "create", "srv", access_key=user, secret_key=secret))
    assert ok(server.admin("accesskey", "info", "srv", own["access_key"]))["parent"] == user
    c = server.client(access_key=own["access_key"], secret_key=own["secret_key"])
    denied(c.get_object, Bucket=bucket, Key="private.txt")


def test_create_service_account_cannot_borrow_wider_rights(server, key_maker):
    """issue 19 item 3: nor may it create a key for a user whose rights are
    wider than its own (a consoleAdmin user's key is consoleAdmin)."""
    user, secret = key_maker
    admin, _ = new_user(server, ["consoleAdmin"])
    proc = server.admin("accesskey", "create", "srv", admin, access_key=user, secret_key=secret)
    if proc.returncode == 0:
        key = json.loads(proc.stdout)
        users = server.admin("user", "list", "srv", access_key=key["access_key"], secret_key=key["secret_key"])
        pytest.fail(f"created a key for consoleAdmin user {admin}; it lists users: rc={users.returncode}")
    fails(proc, "AccessDenied")


# ---------------------------------------------------------------------------
# item 11: condition keys on the admin API, metrics and listen
# ---------------------------------------------------------------------------


def test_source_ip_deny_applies_to_the_admin_api(server, tmp_path):
    """issue 19 item 11: a Deny conditioned on aws:SourceIp binds admin calls."""
    user, secret = user_with_policy(server, tmp_path, policy(
        {"Effect": "Deny", "Action": "admin:ListUsers", "Resource": "arn:aws:s3:::*", "Condition": FROM_HERE},
    ), builtin=("consoleAdmin",))
    ok(server.admin("group", "list", "srv", access_key=user, secret_key=secret))
    proc = server.admin("user", "list", "srv", access_key=user, secret_key=secret)
    assert proc.returncode != 0 and "AccessDenied" in proc.stderr, \
        f"admin ListUsers from 127.0.0.1 under a SourceIp Deny: expected AccessDenied, got rc={proc.returncode}"


def test_source_ip_deny_applies_to_metrics(server, tmp_path):
    """issue 19 item 11: a Deny conditioned on aws:SourceIp binds scrapes."""
    user, secret = user_with_policy(server, tmp_path, policy(
        {"Effect": "Deny", "Action": "admin:Prometheus", "Resource": "arn:aws:s3:::*", "Condition": FROM_HERE},
    ), builtin=("diagnostics",))
    r = scrape(server, token(server, user, secret))
    assert r.status_code == 403, f"expected 403, got {r.status_code}"


def test_source_ip_deny_applies_to_listen(server, bucket, tmp_path):
    """issue 19 item 11: a Deny conditioned on aws:SourceIp binds
    ListenBucketNotification."""
    arn = f"arn:aws:s3:::{bucket}"
    user, secret = user_with_policy(server, tmp_path, policy(
        {"Effect": "Allow", "Action": "s3:ListenBucketNotification", "Resource": arn},
        {"Effect": "Deny", "Action": "s3:ListenBucketNotification", "Resource": arn, "Condition": FROM_HERE},
    ))
    got = listen_status(server, bucket, user, secret)
    assert got == 403, f"expected 403, got {got}"


# ---------------------------------------------------------------------------
# item 15 (parts)
# ---------------------------------------------------------------------------


def test_service_account_lookup_is_no_existence_oracle(server):
    """issue 19 item 15: a caller without the right gets the same 403 for a
    key that exists and one that does not."""
    owner, _ = new_user(server)
    existing = ok(server.admin("accesskey", "create", "srv", owner))["access_key"]
    nosy, nosy_secret = new_user(server)
    answers = {}
    for ak in (existing, "NOSUCHKEY" + uuid.uuid4().hex[:8].upper()):
        r = admin_api(server, "GET", f"/service-accounts/{ak}", access_key=nosy, secret_key=nosy_secret)
        answers[ak] = (r.status_code, r.json().get("Code"))
    assert set(answers.values()) == {(403, "AccessDenied")}, answers


def test_create_user_does_not_reset_an_existing_users_secret(server):
    """issue 19 item 15: admin:CreateUser for an existing name answers a
    conflict and leaves its secret alone."""
    name, secret = new_user(server, ["readwrite"])
    r = admin_api(server, "PUT", f"/users/{name}", {"secret_key": "attacker-chosen-1"})
    assert r.status_code == 409, f"expected 409, got {r.status_code} {r.text}"
    server.client(access_key=name, secret_key=secret).list_buckets()
    with pytest.raises(ClientError) as e:
        server.client(access_key=name, secret_key="attacker-chosen-1").list_buckets()
    assert error_code(e.value) == "SignatureDoesNotMatch"


def test_secure_transport_is_true_under_tls(server_factory, tmp_path):
    """issue 19 item 15: aws:SecureTransport is "true" over HTTPS, so the
    usual "deny plain HTTP" bucket policy lets HTTPS requests through."""
    from test_tls import certgen

    certs = str(tmp_path / "certs")
    ca = certgen(certs)
    srv = server_factory(
        server_args=["server", tempfile.mkdtemp(prefix="almacen-tls-"), "--address", "127.0.0.1:0", "--certs-dir", certs],
        ca_file=ca,
    )
    s3 = srv.client()
    bucket = unique_bucket_name("sectls")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"over tls")
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy(
        {"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*",
         "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
    )))
    try:
        body = s3.get_object(Bucket=bucket, Key="k")["Body"].read()
    except ClientError as e:
        pytest.fail(f"GetObject over HTTPS refused by the plain-HTTP Deny: {e.response['Error']}")
    assert body == b"over tls"
