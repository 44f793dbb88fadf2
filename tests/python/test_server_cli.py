"""The command line and start-up: MinIO-compatible flags and variables,
one-line errors with a non-zero exit code, health probes, and
virtual-host-style addressing under MINIO_DOMAIN."""

import http.client
import os
import socket
import subprocess
import tempfile

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from conftest import ACCESS_KEY, SECRET_KEY, find_binary


def run_briefly(args, env_extra=None, timeout=15):
    env = dict(os.environ)
    env.update({"MINIO_ROOT_USER": ACCESS_KEY, "MINIO_ROOT_PASSWORD": SECRET_KEY})
    env.update(env_extra or {})
    return subprocess.run([find_binary(), *args], env=env, capture_output=True, text=True, timeout=timeout)


def test_port_in_use_is_a_one_line_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        data = tempfile.mkdtemp()
        r = run_briefly(["server", data, "--address", f"127.0.0.1:{port}"])
    assert r.returncode != 0
    err = [line for line in r.stderr.splitlines() if "error" in line]
    assert len(err) == 1 and f"127.0.0.1:{port}" in err[0], r.stderr


def test_unusable_data_folder_is_a_one_line_error():
    f = tempfile.NamedTemporaryFile(delete=False)
    r = run_briefly(["server", os.path.join(f.name, "sub"), "--address", "127.0.0.1:0"])
    assert r.returncode != 0
    assert "data folder" in r.stderr, r.stderr


def test_bad_flag_and_short_password_fail():
    r = run_briefly(["server", tempfile.mkdtemp(), "--no-such-flag"])
    assert r.returncode != 0
    r = run_briefly(["server", tempfile.mkdtemp(), "--address", "127.0.0.1:0"], {"MINIO_ROOT_PASSWORD": "short"})
    assert r.returncode != 0
    assert "8 characters" in r.stderr


def test_default_credentials_warn(server_factory):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MINIO_ROOT", "ALMACEN_ROOT"))}
    proc = subprocess.Popen(
        [find_binary(), "server", tempfile.mkdtemp(), "--address", "127.0.0.1:0"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        while line and not line.startswith("RootUser:"):
            line = proc.stdout.readline()
        assert line.strip() == "RootUser: minioadmin"
    finally:
        proc.kill()
        _, err = proc.communicate(timeout=10)
    assert "default root credentials" in err


def test_health_probes_need_no_auth(server):
    host = server.endpoint.split("//")[1]
    for path in ("/minio/health/live", "/minio/health/ready", "/minio/health/cluster"):
        c = http.client.HTTPConnection(host, timeout=10)
        c.request("GET", path)
        r = c.getresponse()
        assert r.status == 200, path
        c.close()


def signed(method, url, host_header, body=b""):
    req = AWSRequest(method=method, url=url, data=body, headers={"Host": host_header})
    S3SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "s3", "us-east-1").add_auth(req)
    return dict(req.headers.items())


def test_virtual_host_style_with_minio_domain(server_factory):
    srv = server_factory(extra_env={"MINIO_DOMAIN": "s3.example.test"})
    s3 = srv.client()
    s3.create_bucket(Bucket="vhost")
    s3.put_object(Bucket="vhost", Key="dir/file.txt", Body=b"virtual")
    port = srv.endpoint.rsplit(":", 1)[1]
    vhost = f"vhost.s3.example.test:{port}"
    headers = signed("GET", f"http://{vhost}/dir/file.txt", vhost)
    c = http.client.HTTPConnection("127.0.0.1", int(port), timeout=10)
    c.request("GET", "/dir/file.txt", headers=headers)
    r = c.getresponse()
    assert r.status == 200
    assert r.read() == b"virtual"
    c.close()
    # Path style keeps working on the same server.
    assert s3.get_object(Bucket="vhost", Key="dir/file.txt")["Body"].read() == b"virtual"


def complete_small_upload(s3, bucket, key):
    up = s3.create_multipart_upload(Bucket=bucket, Key=key)
    part = s3.upload_part(Bucket=bucket, Key=key, UploadId=up["UploadId"], PartNumber=1, Body=b"x")
    return s3.complete_multipart_upload(
        Bucket=bucket,
        Key=key,
        UploadId=up["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )


def test_locations_use_the_host_or_minio_server_url(server_factory):
    srv = server_factory()
    s3 = srv.client()
    s3.create_bucket(Bucket="loc")
    done = complete_small_upload(s3, "loc", "a b/c.mp4")
    assert done["Location"] == f"{srv.endpoint}/loc/a%20b/c.mp4"

    public = server_factory(extra_env={"MINIO_SERVER_URL": "https://files.example.com/"})
    s3 = public.client()
    s3.create_bucket(Bucket="loc")
    done = complete_small_upload(s3, "loc", "v.mp4")
    assert done["Location"] == "https://files.example.com/loc/v.mp4"
