"""Scenario: seed 001, the Flask catalog (Python, boto3). Product images go
to `uploads/products/tenant_{id}/{ts}_{name}.jpg` through the app's
storage_service, are served to browsers by their public URL, and the app
runs as several stateless instances on the same storage."""

from __future__ import annotations

import io
import json
import os
import re
import urllib.error
import urllib.request

import pytest
import requests
from botocore.exceptions import ClientError

import catalog
import storage_service

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01" + bytes(range(256)) * 40
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj\n" + b"x" * 2000
THREE_MIB = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * (3 * 1024 * 1024)

# What the operator sets once (README, "Upload rules"): the app's own limits,
# enforced by the server too, for every client that bypasses the app.
SEED_001_RULES = {"rules": [{"prefix": "products/", "max_size": "2MiB",
                             "content_types": ["image/jpeg", "image/png", "image/gif", "image/webp"]}]}


class Upload:
    """What Werkzeug's FileStorage gives the view: filename, content_type, read()."""

    def __init__(self, filename: str, content_type: str, data: bytes):
        self.filename = filename
        self.content_type = content_type
        self._buf = io.BytesIO(data)

    def read(self) -> bytes:
        return self._buf.read()


def anonymous(url: str) -> tuple[int, bytes, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read(), r.headers.get("Content-Type", "")
    except urllib.error.HTTPError as e:
        return e.code, e.read(), ""


@pytest.fixture(scope="module")
def app_env(almacen, tmp_path_factory):
    """The web service's environment from the seed's docker-compose, pointed
    at the test's server (which is also the public URL here)."""
    env = {
        "S3_ENDPOINT": almacen.endpoint,
        "S3_ACCESS_KEY": "minioadmin",
        "S3_SECRET_KEY": "minioadmin",
        "S3_BUCKET": "uploads",
        "S3_REGION": "us-east-1",
        "S3_PUBLIC_URL": almacen.endpoint,
    }
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    storage_service.reset_storage_service()
    # First app start: the bucket does not exist yet; the app creates it.
    assert "uploads" not in {b["Name"] for b in almacen.client().list_buckets()["Buckets"]}
    storage_service.get_storage_service()
    rules = tmp_path_factory.mktemp("ops") / "seed-001-rules.json"
    rules.write_text(json.dumps(SEED_001_RULES))
    r = almacen.admin("bucket", "rules", "set", "srv", "uploads", str(rules))
    assert r.returncode == 0, r.stderr
    yield env
    storage_service.reset_storage_service()
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def test_bucket_created_if_missing_and_kept_on_restart(almacen, app_env):
    s3 = almacen.client()
    assert "uploads" in {b["Name"] for b in s3.list_buckets()["Buckets"]}
    # A second start of the app finds it ("Bucket 'uploads' exists").
    storage_service.reset_storage_service()
    storage_service.get_storage_service()
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]].count("uploads") == 1


def test_product_image_uploaded_and_public(almacen, app_env):
    url = catalog.save_product_image(Upload("martillo.jpg", "image/jpeg", JPEG), tenant_id=1)
    m = re.fullmatch(re.escape(almacen.endpoint) + r"/uploads/(products/tenant_1/\d+_martillo\.jpg)", url)
    assert m, url
    storage = storage_service.get_storage_service()
    assert storage.file_exists(m.group(1))
    head = almacen.client().head_object(Bucket="uploads", Key=m.group(1))
    assert head["ContentType"] == "image/jpeg" and head["ContentLength"] == len(JPEG)
    # The browser reads product.image_path without credentials.
    status, body, ctype = anonymous(url)
    assert (status, body, ctype) == (200, JPEG, "image/jpeg")
    # Public read is not public list or write.
    assert anonymous(f"{almacen.endpoint}/uploads?list-type=2")[0] == 403
    r = requests.put(f"{almacen.endpoint}/uploads/products/tenant_1/evil.jpg", data=JPEG, timeout=10)
    assert r.status_code == 403


def test_too_big_and_pdf_refused_by_the_app(app_env):
    with pytest.raises(ValueError, match="demasiado grande"):
        catalog.save_product_image(Upload("big.jpg", "image/jpeg", THREE_MIB), tenant_id=1)
    with pytest.raises(ValueError, match="no permitido: application/pdf"):
        catalog.save_product_image(Upload("document.pdf", "application/pdf", PDF), tenant_id=1)


def test_too_big_and_pdf_refused_by_the_bucket_rules(almacen, app_env):
    # A client that skips the app's checks (an old deploy, a script).
    s3 = almacen.client()
    for body, ctype, code in [
        (THREE_MIB, "image/jpeg", "EntityTooLarge"),
        (PDF, "application/pdf", "UploadRuleViolation"),
        (PDF, "image/jpeg", "UploadRuleViolation"),  # a PDF dressed as a JPEG
    ]:
        with pytest.raises(ClientError) as e:
            s3.put_object(Bucket="uploads", Key="products/tenant_1/1_x.jpg", Body=body, ContentType=ctype)
        assert e.value.response["Error"]["Code"] == code
    assert not storage_service.get_storage_service().file_exists("products/tenant_1/1_x.jpg")


def test_too_big_and_pdf_refused_by_presigned_post_conditions(almacen, app_env):
    storage = storage_service.get_storage_service()
    # The POST policy's own conditions refuse them, whatever the bucket rules.
    almacen.admin("bucket", "rules", "clear", "srv", "uploads")
    try:
        def post(key, body, ctype, form_ctype=None):
            p = storage.presigned_post(key, ctype)
            fields = dict(p["fields"])
            if form_ctype:
                fields["Content-Type"] = form_ctype
            return requests.post(p["url"], data=fields, files={"file": ("f", body, fields["Content-Type"])}, timeout=30)

        r = post("products/tenant_1/2_big.jpg", THREE_MIB, "image/jpeg")
        assert r.status_code == 400 and "EntityTooLarge" in r.text
        # A form whose Content-Type breaks the policy's conditions. (S3 and
        # MinIO answer 403 AccessDenied; almacen answers 400
        # InvalidPolicyDocument naming the failed condition.)
        r = post("products/tenant_1/2_doc.pdf", PDF, "image/jpeg", form_ctype="application/pdf")
        assert r.status_code in (400, 403) and "content-type" in r.text.lower(), r.text
        r = post("products/tenant_1/2_doc.pdf", PDF, "application/pdf")
        assert r.status_code in (400, 403) and "image/" in r.text, r.text
        for key in ("products/tenant_1/2_big.jpg", "products/tenant_1/2_doc.pdf"):
            assert not storage.file_exists(key)
        r = post("products/tenant_1/2_ok.jpg", JPEG, "image/jpeg")
        assert r.status_code in (200, 204), r.text
        assert storage.file_exists("products/tenant_1/2_ok.jpg")
    finally:
        rules = os.path.join(almacen.log_dir, "rules.json")
        with open(rules, "w") as f:
            json.dump(SEED_001_RULES, f)
        assert almacen.admin("bucket", "rules", "set", "srv", "uploads", rules).returncode == 0
    # With the rules back, a form that allows a PDF still cannot store one.
    p = storage.client.generate_presigned_post("uploads", "products/tenant_1/3.pdf", Fields={"Content-Type": "application/pdf"},
                                               Conditions=[{"Content-Type": "application/pdf"}])
    r = requests.post(p["url"], data=p["fields"], files={"file": ("f.pdf", PDF, "application/pdf")}, timeout=30)
    assert r.status_code == 400 and "UploadRuleViolation" in r.text


def test_editing_a_product_deletes_the_old_image(almacen, app_env):
    product = {"id": 1, "name": "Martillo", "image_path": None}
    catalog.edit_product_image(product, Upload("martillo_v1.jpg", "image/jpeg", JPEG), tenant_id=1)
    storage = storage_service.get_storage_service()
    v1 = storage.object_name_from_url(product["image_path"])
    assert storage.file_exists(v1)
    catalog.edit_product_image(product, Upload("martillo_v2.jpg", "image/jpeg", JPEG + b"v2"), tenant_id=1)
    v2 = storage.object_name_from_url(product["image_path"])
    assert v2.endswith("_martillo_v2.jpg")
    assert not storage.file_exists(v1)
    assert storage.file_exists(v2)
    assert anonymous(storage.get_public_url(v1))[0] in (403, 404)
    assert anonymous(product["image_path"])[0] == 200


def test_two_app_instances_share_the_storage(almacen, app_env):
    # Two stateless Flask instances behind the load balancer: two processes'
    # worth of clients, each with its own connection pool.
    storage_service.reset_storage_service()
    web1 = storage_service.get_storage_service()
    storage_service.reset_storage_service()
    web2 = storage_service.get_storage_service()
    assert web1 is not web2 and web1.client is not web2.client

    url = web1.upload_file(Upload("a.jpg", "image/jpeg", JPEG), "products/tenant_2/100_a.jpg", "image/jpeg")
    assert web2.file_exists("products/tenant_2/100_a.jpg")
    got = web2.client.get_object(Bucket="uploads", Key="products/tenant_2/100_a.jpg")["Body"].read()
    assert got == JPEG
    # Instance 2 replaces it; instance 1 reads the new bytes at once.
    web2.upload_file(Upload("a.jpg", "image/jpeg", JPEG + b"new"), "products/tenant_2/100_a.jpg", "image/jpeg")
    assert web1.client.get_object(Bucket="uploads", Key="products/tenant_2/100_a.jpg")["Body"].read() == JPEG + b"new"
    assert anonymous(url)[1] == JPEG + b"new"
    # Instance 1 deletes; instance 2 sees it gone.
    assert web1.delete_file("products/tenant_2/100_a.jpg")
    assert not web2.file_exists("products/tenant_2/100_a.jpg")
