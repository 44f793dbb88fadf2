"""Connection and slow-client limits over raw TCP: a request head sent one
byte at a time is dropped, a trickled body ends in RequestTimeout with no
object left behind, a slowloris run from one address is capped and does not
starve other clients, and oversized heads get 431."""

from __future__ import annotations

import socket
import time
from urllib.parse import urlsplit

import pytest

import rawhttp
from conftest import ACCESS_KEY, SECRET_KEY, unique_bucket_name
from botocore.exceptions import ClientError

ENV = {
    "ALMACEN_HEADER_TIMEOUT_SECONDS": "2",
    "ALMACEN_BODY_TIMEOUT_SECONDS": "2",
    "ALMACEN_BODY_MIN_RATE": "1KiB",
    "ALMACEN_MAX_CONNECTIONS_PER_CLIENT": "40",
}


@pytest.fixture(scope="module")
def strict(tmp_path_factory):
    from conftest import AlmacenServer

    srv = AlmacenServer(extra_env=ENV).start()
    yield srv
    srv.cleanup()


def hostport(srv):
    u = urlsplit(srv.endpoint)
    return u.hostname, u.port


def closed_within(sock: socket.socket, seconds: float, trickle: bytes = b"") -> bool:
    """Sends `trickle` one byte every 0.25 s; True once the server closes."""
    deadline = time.monotonic() + seconds
    i = 0
    sock.settimeout(0.25)
    while time.monotonic() < deadline:
        try:
            if i < len(trickle):
                sock.send(trickle[i : i + 1])
                i += 1
            data = sock.recv(4096)
            if data == b"" or b"HTTP/1.1 408" in data:
                return True
        except socket.timeout:
            continue
        except (BrokenPipeError, ConnectionResetError):
            return True
    return False


def test_header_trickle_and_idle_connections_are_dropped(strict):
    host, port = hostport(strict)
    with socket.create_connection((host, port)) as s:
        assert closed_within(s, 20, b"GET /minio/health/live HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 200)
    # A keep-alive connection left idle after one answer is closed too.
    with socket.create_connection((host, port)) as s:
        s.sendall(b"GET /minio/health/live HTTP/1.1\r\nHost: x\r\n\r\n")
        first = rawhttp.read_response(s)
        assert first is not None and first.status == 200
        assert closed_within(s, 20)


def test_trickled_body_gets_request_timeout_and_leaves_nothing(strict):
    s3 = strict.client()
    bucket = unique_bucket_name("slow")
    s3.create_bucket(Bucket=bucket)
    host, port = hostport(strict)
    path = f"/{bucket}/trickled.bin"
    body = b"x" * 100_000
    headers = rawhttp.sign_headers("PUT", strict.endpoint, path, {"Host": f"{host}:{port}"}, b"", ACCESS_KEY, SECRET_KEY, payload_hash=rawhttp.UNSIGNED)
    head = rawhttp.build("PUT", path, f"{host}:{port}", headers, b"", content_length=len(body))
    with socket.create_connection((host, port), timeout=30) as sock:
        sock.sendall(head)
        sock.settimeout(0.25)
        answer = b""
        deadline = time.monotonic() + 30
        sent = 0
        while time.monotonic() < deadline:
            try:
                sock.send(body[sent : sent + 1])
                sent += 1
            except (BrokenPipeError, ConnectionResetError):
                break
            try:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                answer += chunk
                if b"</Error>" in answer:
                    break
            except socket.timeout:
                pass
    assert sent < len(body), "the trickle was never cut off"
    assert b" 400 " in answer.split(b"\r\n", 1)[0], answer[:200]
    assert b"<Code>RequestTimeout</Code>" in answer
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="trickled.bin")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_slowloris_from_one_address_is_capped_and_others_are_served(strict):
    host, port = hostport(strict)
    held = []
    refused = 0
    try:
        # 120 connections from 127.0.0.2, each sending a head slowly.
        for _ in range(120):
            s = socket.socket()
            s.bind(("127.0.0.2", 0))
            s.settimeout(5)
            s.connect((host, port))
            s.send(b"GET / HTTP/1.1\r\n")
            held.append(s)
        time.sleep(0.5)
        for s in held:
            s.settimeout(0.05)
            try:
                data = s.recv(4096)
                if data.startswith(b"HTTP/1.1 503") or data == b"":
                    refused += 1
            except socket.timeout:
                pass
            except ConnectionResetError:
                refused += 1
        assert refused >= 120 - 40, f"only {refused} of 120 refused over the per-client cap of 40"
        # Meanwhile an ordinary client from another address works.
        s3 = strict.client()
        bucket = unique_bucket_name("busy")
        s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket=bucket, Key="k", Body=b"served")
        assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"served"
    finally:
        for s in held:
            s.close()


def test_oversized_heads_get_431(strict):
    host, port = hostport(strict)
    many = "".join(f"X-H{i}: v\r\n" for i in range(150))
    r = rawhttp.send(host, port, f"GET / HTTP/1.1\r\nHost: x\r\n{many}\r\n".encode())
    assert r is not None and r.status == 431
    big = "X-Big: " + "a" * 80_000 + "\r\n"
    r = rawhttp.send(host, port, f"GET / HTTP/1.1\r\nHost: x\r\n{big}\r\n".encode())
    assert r is not None and r.status == 431
    long_url = "/" + "a" * 70_000
    r = rawhttp.send(host, port, f"GET {long_url} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert r is not None and r.status in (414, 431)
    # And the server is still fine.
    r = rawhttp.send(host, port, b"GET /minio/health/live HTTP/1.1\r\nHost: x\r\n\r\n")
    assert r is not None and r.status == 200
