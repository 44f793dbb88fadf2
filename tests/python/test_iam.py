"""Users, groups, policies and access keys, managed with the real
``almacen admin`` CLI and exercised with boto3 under the new identities.

Covers issue 3's policy matrix: each built-in policy and seed 001's
tenant-prefix policy, every listed action allowed or denied as AWS would
(``MinIO``'s contents for the built-in policies)."""

import json
import os
import time
import uuid

import pytest
from botocore.exceptions import ClientError

from conftest import error_code, http_status


def ok(proc):
    assert proc.returncode == 0, f"rc={proc.returncode}\nstdout={proc.stdout}\nstderr={proc.stderr}"
    return json.loads(proc.stdout) if proc.stdout.strip() else None


def fails(proc, *needles):
    assert proc.returncode != 0, proc.stdout
    for n in needles:
        assert n in proc.stderr, proc.stderr
    return proc.stderr


def new_user(server, policies=(), secret=None):
    name = "u" + uuid.uuid4().hex[:10]
    secret = secret or "s" + uuid.uuid4().hex[:15]
    ok(server.admin("user", "add", "srv", name, secret))
    for p in policies:
        ok(server.admin("policy", "attach", "srv", p, "--user", name))
    return name, secret


def write_policy(tmp_path, doc) -> str:
    path = tmp_path / f"p-{uuid.uuid4().hex[:6]}.json"
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return str(path)


def denied(fn, *args, **kwargs):
    with pytest.raises(ClientError) as e:
        fn(*args, **kwargs)
    assert error_code(e.value) == "AccessDenied", e.value.response
    assert http_status(e.value) == 403


def allowed(fn, *args, **kwargs):
    return fn(*args, **kwargs)


# ---------------------------------------------------------------------------
# the admin CLI itself
# ---------------------------------------------------------------------------


def test_users_groups_and_policies_through_the_cli(server, tmp_path):
    name, secret = new_user(server)
    users = ok(server.admin("user", "list", "srv"))
    assert any(u["name"] == name and u["status"] == "enabled" for u in users)

    group = "g" + uuid.uuid4().hex[:8]
    ok(server.admin("group", "add", "srv", group, name))
    ok(server.admin("policy", "attach", "srv", "readonly", "--group", group))
    info = ok(server.admin("group", "info", "srv", group))
    assert info["members"] == [name] and info["policies"] == ["readonly"]
    assert ok(server.admin("user", "info", "srv", name))["groups"] == [group]
    # A group with members cannot be removed; an empty one can.
    fails(server.admin("group", "remove", "srv", group), "GroupNotEmpty")
    ok(server.admin("group", "remove", "srv", group, name))
    ok(server.admin("group", "remove", "srv", group))
    fails(server.admin("group", "info", "srv", group), "NoSuchGroup")

    pname = "p" + uuid.uuid4().hex[:8]
    doc = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::x/*"}],
    }
    ok(server.admin("policy", "create", "srv", pname, write_policy(tmp_path, doc)))
    assert pname in [p["name"] for p in ok(server.admin("policy", "list", "srv"))]
    assert json.loads(ok(server.admin("policy", "info", "srv", pname))["document"]) == doc
    ok(server.admin("policy", "attach", "srv", pname, "--user", name))
    fails(server.admin("policy", "remove", "srv", pname), "PolicyInUse", name)
    ok(server.admin("policy", "detach", "srv", pname, "--user", name))
    ok(server.admin("policy", "remove", "srv", pname))
    fails(server.admin("policy", "remove", "srv", "readwrite"), "BuiltInPolicy")

    ok(server.admin("user", "remove", "srv", name))
    assert all(u["name"] != name for u in ok(server.admin("user", "list", "srv")))


def test_clear_errors(server, tmp_path):
    fails(server.admin("user", "info", "srv", "nobody-here"), "NoSuchUser", "nobody-here")
    fails(server.admin("policy", "attach", "srv", "readonly", "--user", "nobody-here"), "NoSuchUser")
    fails(server.admin("policy", "attach", "srv", "no-such-policy", "--user", new_user(server)[0]), "NoSuchPolicy")
    err = fails(
        server.admin("policy", "create", "srv", "broken", write_policy(tmp_path, '{\n  "Statement": [\n')),
        "MalformedPolicy",
    )
    assert "line 3" in err, err
    fails(
        server.admin(
            "policy", "create", "srv", "typo",
            write_policy(tmp_path, {"Statement": [{"Effect": "Allow", "Action": "s3:GetObjekt", "Resource": "*"}]}),
        ),
        "Unknown action s3:GetObjekt",
    )
    fails(server.admin("user", "add", "srv", "bad/name", "12345678"), "InvalidArgument")
    fails(server.admin("user", "add", "srv", "shortpw", "1234"), "InvalidArgument")
    fails(server.admin("user", "add", "srv", server.access_key, "12345678"), "AlreadyExists")
    # Wrong root secret: the server refuses the signature.
    fails(server.admin("user", "list", "srv", secret_key="wrong-secret"), "SignatureDoesNotMatch")


def test_admin_api_needs_admin_rights(server):
    rw, rw_secret = new_user(server, ["readwrite"])
    fails(server.admin("user", "list", "srv", access_key=rw, secret_key=rw_secret), "AccessDenied")
    fails(server.admin("user", "add", "srv", "sneaky", "12345678", access_key=rw, secret_key=rw_secret), "AccessDenied")
    admin, admin_secret = new_user(server, ["consoleAdmin"])
    users = ok(server.admin("user", "list", "srv", access_key=admin, secret_key=admin_secret))
    assert rw in [u["name"] for u in users]
    # Any user may manage its own access keys.
    creds = ok(server.admin("accesskey", "create", "srv", access_key=rw, secret_key=rw_secret))
    mine = ok(server.admin("accesskey", "list", "srv", access_key=rw, secret_key=rw_secret))
    assert [k["access_key"] for k in mine] == [creds["access_key"]]
    # ... but not other users' keys.
    fails(server.admin("accesskey", "list", "srv", admin, access_key=rw, secret_key=rw_secret), "AccessDenied")


# ---------------------------------------------------------------------------
# the policy matrix
# ---------------------------------------------------------------------------

# action -> (readonly, readwrite, writeonly, consoleAdmin, diagnostics)
MATRIX = {
    # readonly sees the buckets it may locate (MinIO's filtered listing).
    "ListBuckets(all)": (True, True, False, True, False),
    "CreateBucket": (False, True, False, True, False),
    "ListObjects": (False, True, False, True, False),
    "GetObject": (True, True, False, True, False),
    "HeadObject": (True, True, False, True, False),
    "PutObject": (False, True, True, True, False),
    "DeleteObject": (False, True, False, True, False),
    "GetBucketLocation": (True, True, False, True, False),
    "PutBucketPolicy": (False, True, False, True, False),
    "AdminListUsers": (False, False, False, True, False),
}
POLICIES = ("readonly", "readwrite", "writeonly", "consoleAdmin", "diagnostics")


@pytest.mark.parametrize("policy", POLICIES)
def test_builtin_policy_matrix(server, s3, bucket, policy):
    s3.put_object(Bucket=bucket, Key="existing.txt", Body=b"hello")
    name, secret = new_user(server, [policy])
    c = server.client(access_key=name, secret_key=secret)
    col = POLICIES.index(policy)
    new_bucket = "mx-" + uuid.uuid4().hex[:12]

    def try_(action):
        if action == "ListBuckets(all)":
            names = [b["Name"] for b in c.list_buckets()["Buckets"]]
            return bucket in names
        if action == "CreateBucket":
            c.create_bucket(Bucket=new_bucket)
            s3.delete_bucket(Bucket=new_bucket)
        elif action == "ListObjects":
            c.list_objects_v2(Bucket=bucket)
        elif action == "GetObject":
            assert c.get_object(Bucket=bucket, Key="existing.txt")["Body"].read() == b"hello"
        elif action == "HeadObject":
            c.head_object(Bucket=bucket, Key="existing.txt")
        elif action == "PutObject":
            c.put_object(Bucket=bucket, Key="new.txt", Body=b"x")
        elif action == "DeleteObject":
            c.delete_object(Bucket=bucket, Key="existing.txt")
            s3.put_object(Bucket=bucket, Key="existing.txt", Body=b"hello")
        elif action == "GetBucketLocation":
            c.get_bucket_location(Bucket=bucket)
        elif action == "PutBucketPolicy":
            c.put_bucket_policy(
                Bucket=bucket,
                Policy=json.dumps({"Statement": [{"Effect": "Deny", "Principal": {"AWS": ["nobody"]}, "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}]}),
            )
            s3.delete_bucket_policy(Bucket=bucket)
        elif action == "AdminListUsers":
            proc = server.admin("user", "list", "srv", access_key=name, secret_key=secret)
            if proc.returncode != 0:
                assert "AccessDenied" in proc.stderr, proc.stderr
                return False
        return True

    for action, expected in MATRIX.items():
        want = expected[col]
        try:
            got = try_(action)
        except ClientError as e:
            # HEAD errors carry no body: the status says it.
            assert http_status(e) == 403, (action, e.response)
            got = False
        assert got == want, f"{policy}: {action} expected {'allowed' if want else 'denied'}"


TENANT_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
            "Resource": ["arn:aws:s3:::{bucket}/products/tenant_1/*"],
        },
        {
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": ["arn:aws:s3:::{bucket}"],
            "Condition": {"StringLike": {"s3:prefix": ["products/tenant_1/*"]}},
        },
    ],
}


def test_tenant_prefix_isolation(server, s3, bucket, tmp_path):
    """Seed 001: a tenant-1 user cannot read, list or write tenant 2's prefix."""
    s3.put_object(Bucket=bucket, Key="products/tenant_2/secret.jpg", Body=b"t2")
    doc = json.dumps(TENANT_POLICY).replace("{bucket}", bucket)
    pname = "tenant1-" + uuid.uuid4().hex[:6]
    ok(server.admin("policy", "create", "srv", pname, write_policy(tmp_path, doc)))
    name, secret = new_user(server, [pname])
    c = server.client(access_key=name, secret_key=secret)

    # Own prefix: write, read, list, delete.
    c.put_object(Bucket=bucket, Key="products/tenant_1/123_image.jpg", Body=b"t1", ContentType="image/jpeg")
    assert c.get_object(Bucket=bucket, Key="products/tenant_1/123_image.jpg")["Body"].read() == b"t1"
    listed = c.list_objects_v2(Bucket=bucket, Prefix="products/tenant_1/")
    assert [o["Key"] for o in listed["Contents"]] == ["products/tenant_1/123_image.jpg"]
    # Multipart inside the prefix is PutObject too.
    mp = c.create_multipart_upload(Bucket=bucket, Key="products/tenant_1/big.bin")
    c.abort_multipart_upload(Bucket=bucket, Key="products/tenant_1/big.bin", UploadId=mp["UploadId"])

    # The other tenant: nothing.
    denied(c.get_object, Bucket=bucket, Key="products/tenant_2/secret.jpg")
    denied(c.put_object, Bucket=bucket, Key="products/tenant_2/evil.jpg", Body=b"x")
    denied(c.delete_object, Bucket=bucket, Key="products/tenant_2/secret.jpg")
    denied(c.list_objects_v2, Bucket=bucket, Prefix="products/tenant_2/")
    denied(c.list_objects_v2, Bucket=bucket)
    denied(c.copy_object, Bucket=bucket, Key="products/tenant_1/copy.jpg",
           CopySource={"Bucket": bucket, "Key": "products/tenant_2/secret.jpg"})
    # DeleteObjects is checked key by key.
    r = c.delete_objects(
        Bucket=bucket,
        Delete={"Objects": [{"Key": "products/tenant_1/123_image.jpg"}, {"Key": "products/tenant_2/secret.jpg"}]},
    )
    assert [d["Key"] for d in r.get("Deleted", [])] == ["products/tenant_1/123_image.jpg"]
    assert [(e["Key"], e["Code"]) for e in r["Errors"]] == [("products/tenant_2/secret.jpg", "AccessDenied")]
    assert s3.get_object(Bucket=bucket, Key="products/tenant_2/secret.jpg")["Body"].read() == b"t2"
    # The bucket is not listed for it (no ListAllMyBuckets, no unconditional ListBucket).
    assert bucket not in [b["Name"] for b in c.list_buckets()["Buckets"]]


def test_explicit_deny_wins_and_bucket_policy_grants_users(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="a.txt", Body=b"a")
    s3.put_object(Bucket=bucket, Key="private/b.txt", Body=b"b")
    rw, rw_secret = new_user(server, ["readwrite"])
    plain, plain_secret = new_user(server)
    s3.put_bucket_policy(
        Bucket=bucket,
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Deny", "Principal": {"AWS": [f"arn:aws:iam:::user/{rw}"]},
                     "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/private/*"},
                    {"Effect": "Allow", "Principal": {"AWS": [plain]},
                     "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/a.txt"},
                ],
            }
        ),
    )
    crw = server.client(access_key=rw, secret_key=rw_secret)
    assert crw.get_object(Bucket=bucket, Key="a.txt")["Body"].read() == b"a"
    denied(crw.get_object, Bucket=bucket, Key="private/b.txt")
    cplain = server.client(access_key=plain, secret_key=plain_secret)
    assert cplain.get_object(Bucket=bucket, Key="a.txt")["Body"].read() == b"a"
    denied(cplain.get_object, Bucket=bucket, Key="private/b.txt")
    denied(cplain.put_object, Bucket=bucket, Key="a.txt", Body=b"x")
    # Root is not bound by bucket policies (as on MinIO).
    assert s3.get_object(Bucket=bucket, Key="private/b.txt")["Body"].read() == b"b"


def test_condition_keys_from_the_request(server, s3, bucket, tmp_path):
    s3.put_object(Bucket=bucket, Key="k", Body=b"v")
    doc = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*",
             "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}},
            {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{bucket}",
             "Condition": {"Bool": {"aws:SecureTransport": "false"}, "StringEquals": {"s3:delimiter": "/"}}},
        ],
    }
    pname = "cond-" + uuid.uuid4().hex[:6]
    ok(server.admin("policy", "create", "srv", pname, write_policy(tmp_path, doc)))
    name, secret = new_user(server, [pname])
    c = server.client(access_key=name, secret_key=secret)
    denied(c.get_object, Bucket=bucket, Key="k")  # we call from 127.0.0.1
    c.list_objects_v2(Bucket=bucket, Delimiter="/")
    denied(c.list_objects_v2, Bucket=bucket)


# ---------------------------------------------------------------------------
# access keys (service accounts) and the life of credentials
# ---------------------------------------------------------------------------


def test_access_keys_narrowed_expiring_revoked(server, s3, bucket, tmp_path):
    s3.put_object(Bucket=bucket, Key="k", Body=b"v")
    user, user_secret = new_user(server, ["readwrite"])
    narrow = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}],
    }
    key = ok(server.admin("accesskey", "create", "srv", user, "--policy", write_policy(tmp_path, narrow), "--name", "ci"))
    c = server.client(access_key=key["access_key"], secret_key=key["secret_key"])
    assert c.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v"
    denied(c.put_object, Bucket=bucket, Key="k", Body=b"x")  # the parent could; the key may not
    info = ok(server.admin("accesskey", "info", "srv", key["access_key"]))
    assert info["parent"] == user and info["name"] == "ci" and "secret_key" not in info

    # Disabling the parent stops its keys; enabling restores them.
    ok(server.admin("user", "disable", "srv", user))
    with pytest.raises(ClientError) as e:
        c.get_object(Bucket=bucket, Key="k")
    assert error_code(e.value) == "InvalidAccessKeyId"
    ok(server.admin("user", "enable", "srv", user))
    c.get_object(Bucket=bucket, Key="k")

    # Revoked: gone at once.
    ok(server.admin("accesskey", "remove", "srv", key["access_key"]))
    with pytest.raises(ClientError) as e:
        c.get_object(Bucket=bucket, Key="k")
    assert error_code(e.value) == "InvalidAccessKeyId"
    assert http_status(e.value) == 403

    # Expiring: works, then is unknown.
    short = ok(server.admin("accesskey", "create", "srv", user, "--expiry", "2s"))
    cs = server.client(access_key=short["access_key"], secret_key=short["secret_key"])
    cs.get_object(Bucket=bucket, Key="k")
    time.sleep(2.5)
    with pytest.raises(ClientError) as e:
        cs.get_object(Bucket=bucket, Key="k")
    assert error_code(e.value) == "InvalidAccessKeyId"


def test_wrong_secret_and_disabled_user(server, bucket):
    name, secret = new_user(server, ["readwrite"])
    with pytest.raises(ClientError) as e:
        server.client(access_key=name, secret_key=secret + "x").list_objects_v2(Bucket=bucket)
    assert error_code(e.value) == "SignatureDoesNotMatch"
    ok(server.admin("user", "disable", "srv", name))
    with pytest.raises(ClientError) as e:
        server.client(access_key=name, secret_key=secret).list_objects_v2(Bucket=bucket)
    assert error_code(e.value) == "InvalidAccessKeyId"
    assert "disabled" in e.value.response["Error"]["Message"]


def test_presigned_url_of_a_user_follows_its_policy(server, s3, bucket, tmp_path):
    import urllib.request
    import urllib.error

    s3.put_object(Bucket=bucket, Key="products/tenant_1/a.jpg", Body=b"1")
    s3.put_object(Bucket=bucket, Key="products/tenant_2/b.jpg", Body=b"2")
    doc = json.dumps(TENANT_POLICY).replace("{bucket}", bucket)
    pname = "tp-" + uuid.uuid4().hex[:6]
    ok(server.admin("policy", "create", "srv", pname, write_policy(tmp_path, doc)))
    name, secret = new_user(server, [pname])
    c = server.client(access_key=name, secret_key=secret)
    good = c.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "products/tenant_1/a.jpg"}, ExpiresIn=60)
    bad = c.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "products/tenant_2/b.jpg"}, ExpiresIn=60)
    with urllib.request.urlopen(good, timeout=30) as r:
        assert r.read() == b"1"
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(bad, timeout=30)
    assert e.value.code == 403


def test_bucket_policy_cli_canned_names(server, s3, bucket, tmp_path):
    import urllib.request
    import urllib.error

    s3.put_object(Bucket=bucket, Key="img.jpg", Body=b"jpeg")
    url = f"{server.endpoint}/{bucket}/img.jpg"

    def anon_get():
        try:
            with urllib.request.urlopen(url, timeout=30) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code

    assert anon_get() == 403
    ok(server.admin("bucket-policy", "set", "srv", bucket, "public-read"))
    assert anon_get() == 200
    assert "s3:GetObject" in server.admin("bucket-policy", "get", "srv", bucket).stdout
    ok(server.admin("bucket-policy", "set", "srv", bucket, "private"))
    assert anon_get() == 403
    doc = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/img.jpg"}]}
    ok(server.admin("bucket-policy", "set", "srv", bucket, write_policy(tmp_path, doc)))
    assert anon_get() == 200
    bad = write_policy(tmp_path, {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::other/*"}]})
    fails(server.admin("bucket-policy", "set", "srv", bucket, bad), "MalformedPolicy")


def test_identities_survive_restart_and_secrets_are_sealed(server_factory, tmp_path):
    srv = server_factory()
    name, secret = new_user(srv, ["readwrite"])
    key = ok(srv.admin("accesskey", "create", "srv", name))
    srv.client(access_key=name, secret_key=secret).create_bucket(Bucket="restart-iam")
    srv.stop()
    # No secret appears in clear anywhere in the data folder.
    for root, _, files in os.walk(srv.data_dir):
        for f in files:
            data = open(os.path.join(root, f), "rb").read()
            assert secret.encode() not in data, f
            assert key["secret_key"].encode() not in data, f
    srv.start()
    c = srv.client(access_key=name, secret_key=secret)
    assert "restart-iam" in [b["Name"] for b in c.list_buckets()["Buckets"]]
    srv.client(access_key=key["access_key"], secret_key=key["secret_key"]).list_buckets()


def test_changed_root_secret_keeps_users_but_reports_them(server_factory, tmp_path):
    srv = server_factory()
    name, secret = new_user(srv, ["readwrite"])
    srv.stop()
    srv.secret_key = "another-root-secret"
    srv.start()
    with pytest.raises(ClientError) as e:
        srv.client(access_key=name, secret_key=secret).list_buckets()
    assert error_code(e.value) == "InvalidAccessKeyId"
    assert ok(srv.admin("user", "info", "srv", name))["secret_readable"] is False
    # Setting the secret again makes the user usable (nothing was lost).
    ok(srv.admin("user", "add", "srv", name, secret))
    srv.client(access_key=name, secret_key=secret).list_buckets()


def test_master_key_seals_secrets(server_factory):
    srv = server_factory(extra_env={"ALMACEN_MASTER_KEY": "my-master-key-material-0123456789"})
    name, secret = new_user(srv, ["readwrite"])
    srv.stop()
    srv.secret_key = "rotated-root-secret"
    srv.start()
    srv.client(access_key=name, secret_key=secret).list_buckets()


def test_browser_post_of_a_user_follows_its_policy(server, s3, bucket, tmp_path):
    """A POST policy signed with a tenant user's keys uploads only inside its prefix."""
    import requests

    doc = json.dumps(TENANT_POLICY).replace("{bucket}", bucket)
    pname = "tpost-" + uuid.uuid4().hex[:6]
    ok(server.admin("policy", "create", "srv", pname, write_policy(tmp_path, doc)))
    name, secret = new_user(server, [pname])
    c = server.client(access_key=name, secret_key=secret)
    for key, want in (("products/tenant_1/${filename}", 204), ("products/tenant_2/${filename}", 403)):
        post = c.generate_presigned_post(bucket, key, ExpiresIn=300)
        r = requests.post(post["url"], data=post["fields"], files={"file": ("photo.jpg", b"jpeg-bytes")}, timeout=30)
        assert r.status_code == want, (key, r.status_code, r.text)
    assert s3.get_object(Bucket=bucket, Key="products/tenant_1/photo.jpg")["Body"].read() == b"jpeg-bytes"
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="products/tenant_2/photo.jpg")


def test_policy_variables_give_each_user_a_home(server, s3, bucket, tmp_path):
    doc = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"],
             "Resource": f"arn:aws:s3:::{bucket}/home/${{aws:username}}/*"},
            {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{bucket}",
             "Condition": {"StringLike": {"s3:prefix": "home/${aws:username}/*"}}},
        ],
    }
    pname = "home-" + uuid.uuid4().hex[:6]
    ok(server.admin("policy", "create", "srv", pname, write_policy(tmp_path, doc)))
    group = "homes-" + uuid.uuid4().hex[:6]
    a, a_secret = new_user(server)
    b, _ = new_user(server)
    ok(server.admin("group", "add", "srv", group, a, b))
    ok(server.admin("policy", "attach", "srv", pname, "--group", group))
    ca = server.client(access_key=a, secret_key=a_secret)
    ca.put_object(Bucket=bucket, Key=f"home/{a}/notes.txt", Body=b"mine")
    assert [o["Key"] for o in ca.list_objects_v2(Bucket=bucket, Prefix=f"home/{a}/")["Contents"]] == [f"home/{a}/notes.txt"]
    denied(ca.put_object, Bucket=bucket, Key=f"home/{b}/notes.txt", Body=b"x")
    denied(ca.list_objects_v2, Bucket=bucket, Prefix=f"home/{b}/")


def test_request_and_object_tag_condition_keys(server, s3, bucket):
    """Bucket-policy conditions on request headers (s3:x-amz-acl), on the
    tags a request sets (s3:RequestObjectTag/...) and on the tags an object
    has (s3:ExistingObjectTag/...)."""
    user, secret = new_user(server)
    arn = f"arn:aws:s3:::{bucket}/*"
    s3.put_bucket_policy(
        Bucket=bucket,
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": {"AWS": [user]}, "Action": ["s3:PutObject", "s3:GetObject"], "Resource": arn},
                    {"Effect": "Deny", "Principal": {"AWS": [user]}, "Action": "s3:PutObject", "Resource": arn,
                     "Condition": {"StringLike": {"s3:x-amz-acl": "public*"}}},
                    {"Effect": "Deny", "Principal": {"AWS": [user]}, "Action": "s3:PutObject", "Resource": arn,
                     "Condition": {"StringEquals": {"s3:RequestObjectTag/security": "public"}}},
                    {"Effect": "Deny", "Principal": {"AWS": [user]}, "Action": "s3:GetObject", "Resource": arn,
                     "Condition": {"StringEquals": {"s3:ExistingObjectTag/security": "secret"}}},
                ],
            }
        ),
    )
    c = server.client(access_key=user, secret_key=secret)
    c.put_object(Bucket=bucket, Key="private.txt", Body=b"p")
    denied(c.put_object, Bucket=bucket, Key="public.txt", Body=b"p", ACL="public-read")
    denied(c.put_object, Bucket=bucket, Key="tagged.txt", Body=b"p", Tagging="security=public")
    c.put_object(Bucket=bucket, Key="tagged.txt", Body=b"p", Tagging="security=internal")
    s3.put_object(Bucket=bucket, Key="secret.txt", Body=b"s", Tagging="security=secret")
    assert c.get_object(Bucket=bucket, Key="tagged.txt")["Body"].read() == b"p"
    denied(c.get_object, Bucket=bucket, Key="secret.txt")
