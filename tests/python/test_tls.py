"""HTTPS with boto3: the certs folder (explicit or MinIO's ~/.minio/certs),
uploads with checksum trailers, multipart, presigned URLs, SSE-C without the
insecure switch, and the admin CLI and `almacen ready` over HTTPS."""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import tempfile

import requests

from conftest import find_binary, unique_bucket_name


def certgen(out: str, hosts: str = "localhost,127.0.0.1") -> str:
    subprocess.run(
        [find_binary(), "certgen", "--host", hosts, "--out", out],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return os.path.join(out, "CAs", "ca.crt")


def test_boto3_over_https(server_factory, tmp_path):
    certs = str(tmp_path / "certs")
    ca = certgen(certs)
    data = tempfile.mkdtemp(prefix="almacen-tls-")
    srv = server_factory(
        server_args=["server", data, "--address", "127.0.0.1:0", "--certs-dir", certs],
        ca_file=ca,
    )
    assert srv.endpoint.startswith("https://")
    s3 = srv.client()
    bucket = unique_bucket_name("tls")
    s3.create_bucket(Bucket=bucket)

    # botocore sends flexible checksums as aws-chunked trailers over HTTPS.
    body = os.urandom(2 * 1024 * 1024 + 17)
    s3.put_object(Bucket=bucket, Key="a/b.bin", Body=body, ChecksumAlgorithm="CRC32")
    got = s3.get_object(Bucket=bucket, Key="a/b.bin")["Body"].read()
    assert got == body

    # Multipart over HTTPS.
    up = s3.create_multipart_upload(Bucket=bucket, Key="video.mp4")
    parts = []
    chunks = [os.urandom(5 * 1024 * 1024), os.urandom(1024)]
    for n, chunk in enumerate(chunks, start=1):
        r = s3.upload_part(Bucket=bucket, Key="video.mp4", UploadId=up["UploadId"], PartNumber=n, Body=chunk)
        parts.append({"PartNumber": n, "ETag": r["ETag"]})
    s3.complete_multipart_upload(
        Bucket=bucket, Key="video.mp4", UploadId=up["UploadId"], MultipartUpload={"Parts": parts}
    )
    assert s3.get_object(Bucket=bucket, Key="video.mp4")["Body"].read() == b"".join(chunks)

    # Presigned PUT and GET, as a phone or browser uses them.
    put_url = s3.generate_presigned_url(
        "put_object", Params={"Bucket": bucket, "Key": "photo.jpg", "ContentType": "image/jpeg"}, ExpiresIn=300
    )
    assert put_url.startswith("https://")
    r = requests.put(put_url, data=b"\xff\xd8jpeg", headers={"Content-Type": "image/jpeg"}, verify=ca, timeout=30)
    assert r.status_code == 200, r.text
    get_url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "photo.jpg"}, ExpiresIn=300)
    r = requests.get(get_url, verify=ca, timeout=30)
    assert r.status_code == 200 and r.content == b"\xff\xd8jpeg"

    # SSE-C is accepted over HTTPS without ALMACEN_SSE_C_ALLOW_HTTP.
    key = os.urandom(32)
    sse = dict(
        SSECustomerAlgorithm="AES256",
        SSECustomerKey=base64.b64encode(key).decode(),
        SSECustomerKeyMD5=base64.b64encode(hashlib.md5(key).digest()).decode(),
    )
    s3.put_object(Bucket=bucket, Key="private.bin", Body=b"customer data", **sse)
    assert s3.get_object(Bucket=bucket, Key="private.bin", **sse)["Body"].read() == b"customer data"

    # The admin CLI speaks HTTPS too (trusting the authority via SSL_CERT_FILE).
    out = srv.admin("user", "add", "srv", "reader1", "reader-secret-1")
    assert out.returncode == 0, out.stderr
    out = srv.admin("user", "list", "srv")
    assert out.returncode == 0 and "reader1" in out.stdout, out.stderr

    # `almacen ready` over HTTPS; a client that does not trust the
    # authority fails, it does not silently skip verification.
    env = dict(os.environ, SSL_CERT_FILE=ca)
    r = subprocess.run([find_binary(), "ready", srv.endpoint], env=env, capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    other = certgen(str(tmp_path / "other"))
    env = dict(os.environ, SSL_CERT_FILE=other)
    r = subprocess.run([find_binary(), "ready", srv.endpoint], env=env, capture_output=True, timeout=30)
    assert r.returncode != 0


def test_minio_certs_folder_is_read(server_factory, tmp_path):
    """A MinIO host moved over keeps its ~/.minio/certs: almacen serves it."""
    home = tmp_path / "home"
    ca = certgen(str(home / ".minio" / "certs"))
    data = tempfile.mkdtemp(prefix="almacen-tls-")
    srv = server_factory(
        server_args=["server", data, "--address", "127.0.0.1:0"],
        extra_env={"HOME": str(home)},
        ca_file=ca,
    )
    assert srv.endpoint.startswith("https://")
    assert "Buckets" in srv.client().list_buckets()


def test_plain_http_without_certificates(server):
    """No certs folder (the test servers' HOME has none): plain HTTP, as before."""
    assert server.endpoint.startswith("http://")


def test_console_over_https(server_factory, tmp_path):
    """Under HTTPS the console is HTTPS too, its cookie is Secure, and it
    still reaches the S3 API (over its own loopback listener)."""
    import time

    certs = str(tmp_path / "certs")
    ca = certgen(certs)
    data = tempfile.mkdtemp(prefix="almacen-tls-")
    srv = server_factory(
        server_args=["server", data, "--address", "127.0.0.1:0", "--console-address", "127.0.0.1:0", "--certs-dir", certs],
        ca_file=ca,
    )
    url = None
    for _ in range(50):
        url = next((l.split(" ", 1)[1] for l in srv.stdout_lines if l.startswith("Console: ")), None)
        if url:
            break
        time.sleep(0.1)
    assert url and url.startswith("https://"), srv.stdout_lines
    s = requests.Session()
    s.verify = ca
    r = s.post(f"{url}/api/login", json={"accessKey": srv.access_key, "secretKey": srv.secret_key}, headers={"X-Almacen-Csrf": "login"}, timeout=10, verify=ca)
    assert r.status_code == 204, r.text
    assert "Secure" in r.headers["Set-Cookie"] and "HttpOnly" in r.headers["Set-Cookie"]
    token = s.get(f"{url}/api/session", timeout=10, verify=ca).json()["csrf"]
    r = s.put(f"{url}/api/s3/tls-console", headers={"X-Almacen-Csrf": token}, timeout=10, verify=ca)
    assert r.status_code == 200, r.text
    assert "tls-console" in [b["Name"] for b in srv.client().list_buckets()["Buckets"]]
    # Plain HTTP to the console port is refused.
    with __import__("pytest").raises(requests.exceptions.ConnectionError):
        requests.get(url.replace("https://", "http://") + "/api/session", timeout=5)
