"""Presigned URLs through a reverse proxy (nginx on loopback), configured as
README.md says: the proxy must pass the Host the client signed
(`proxy_set_header Host $http_host`), and the server verifies against it."""

import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import boto3
import pytest
from botocore.client import Config

from conftest import nginx_main_config

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def proxy(server):
    if NGINX is None:
        pytest.skip("nginx is not installed (.ci/run installs it)")
    port = free_port()
    upstream = server.endpoint.split("//")[1]
    d = tempfile.mkdtemp(prefix="almacen-nginx-")
    conf = os.path.join(d, "nginx.conf")
    with open(conf, "w") as f:
        f.write(nginx_main_config(d, f"""
    server {{
        listen 127.0.0.1:{port};
        client_max_body_size 0;
        location / {{
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_http_version 1.1;
            proxy_request_buffering off;
            proxy_buffering off;
            proxy_pass http://{upstream};
        }}
    }}
"""))
    proc = subprocess.Popen([NGINX, "-c", conf, "-p", d], stderr=subprocess.PIPE)
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=10)
    shutil.rmtree(d, ignore_errors=True)


def test_presigned_get_and_put_through_nginx(server, bucket, proxy):
    # The app signs against the public (proxy) endpoint, as behind an ingress.
    public = boto3.client(
        "s3",
        endpoint_url=proxy,
        aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key,
        region_name="us-east-1",
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )
    put = public.generate_presigned_url(
        "put_object", Params={"Bucket": bucket, "Key": "via-proxy.jpg", "ContentType": "image/jpeg"}, ExpiresIn=600
    )
    req = urllib.request.Request(put, data=b"through nginx", method="PUT", headers={"Content-Type": "image/jpeg"})
    with urllib.request.urlopen(req, timeout=30) as r:
        assert r.status == 200
    get = public.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "via-proxy.jpg"}, ExpiresIn=600)
    with urllib.request.urlopen(get, timeout=30) as r:
        assert r.read() == b"through nginx"
    # Plain SDK calls through the proxy work too.
    assert public.head_object(Bucket=bucket, Key="via-proxy.jpg")["ContentLength"] == len(b"through nginx")
    # A URL signed for another host does not verify behind this proxy.
    direct = server.client().generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "via-proxy.jpg"}, ExpiresIn=600
    )
    wrong = proxy + direct.split(server.endpoint, 1)[1]
    with pytest.raises(urllib.error.HTTPError) as ei:
        urllib.request.urlopen(wrong, timeout=30)
    assert ei.value.code == 403
