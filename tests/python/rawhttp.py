"""Raw HTTP/1.1 over TCP for hostile-input tests: requests signed with
botocore's SigV4 and then sent byte for byte as written (wrong lengths, odd
paths, broken bodies), and a small response parser."""

from __future__ import annotations

import re
import socket
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

UNSIGNED = "UNSIGNED-PAYLOAD"


@dataclass
class Response:
    status: int
    headers: dict = field(default_factory=dict)
    body: bytes = b""

    @property
    def code(self) -> str | None:
        m = re.search(rb"<Code>([^<]*)</Code>", self.body)
        return m.group(1).decode() if m else None


class _RawPathSigV4(SigV4Auth):
    """SigV4 over the path exactly as sent (S3 signs it unnormalized)."""

    def _normalize_url_path(self, path):
        return path


def sign_headers(
    method: str,
    endpoint: str,
    raw_path: str,
    headers: dict,
    body: bytes,
    access_key: str,
    secret_key: str,
    payload_hash: str | None = None,
    region: str = "us-east-1",
) -> dict:
    """The headers of `method raw_path` signed with SigV4 (path used as is,
    already percent-encoded). `payload_hash` defaults to the body's SHA-256."""
    import hashlib

    url = endpoint.rstrip("/") + raw_path
    req = AWSRequest(method=method, url=url, data=body, headers=dict(headers))
    req.headers["X-Amz-Content-SHA256"] = payload_hash or hashlib.sha256(body).hexdigest()
    _RawPathSigV4(Credentials(access_key, secret_key), "s3", region).add_auth(req)
    return {k: v for k, v in req.headers.items()}


def build(method: str, raw_path: str, host: str, headers: dict, body: bytes, content_length: int | None = "auto") -> bytes:
    """The request's bytes; `content_length` None leaves the header out,
    an int writes that (possibly wrong) value."""
    lines = [f"{method} {raw_path} HTTP/1.1", f"Host: {host}"]
    for k, v in headers.items():
        if k.lower() in ("host", "content-length"):
            continue
        lines.append(f"{k}: {v}")
    if content_length == "auto":
        if body or method in ("PUT", "POST"):
            lines.append(f"Content-Length: {len(body)}")
    elif content_length is not None:
        lines.append(f"Content-Length: {content_length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogateescape") + body


def send(host: str, port: int, data: bytes, timeout: float = 15.0, half_close: bool = False) -> Response | None:
    """Sends `data` and reads one response; None when the server closed the
    connection without answering."""
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(data)
        if half_close:
            s.shutdown(socket.SHUT_WR)
        return read_response(s, timeout)


def read_response(s: socket.socket, timeout: float = 15.0) -> Response | None:
    s.settimeout(timeout)
    buf = b""
    deadline = time.monotonic() + timeout
    while b"\r\n\r\n" not in buf:
        if time.monotonic() > deadline:
            raise TimeoutError("no response head")
        try:
            chunk = s.recv(65536)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            return None if not buf else _parse(buf, s, deadline)
        buf += chunk
    return _parse(buf, s, deadline)


def _parse(buf: bytes, s: socket.socket, deadline: float) -> Response:
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    body = rest
    if "content-length" in headers:
        want = int(headers["content-length"])
        body = _read_until(s, body, lambda b: len(b) >= want, deadline)
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        body = _dechunk(_read_until(s, body, lambda b: b.endswith(b"0\r\n\r\n"), deadline))
    return Response(status, headers, body)


def _read_until(s: socket.socket, body: bytes, done, deadline: float) -> bytes:
    """Reads more of a response body until `done(body)`, the peer closes, or the deadline."""
    while not done(body) and time.monotonic() < deadline:
        try:
            chunk = s.recv(65536)
        except (ConnectionResetError, TimeoutError):
            break
        if not chunk:
            break
        body += chunk
    return body


def _dechunk(data: bytes) -> bytes:
    out = b""
    while data:
        size_line, _, data = data.partition(b"\r\n")
        try:
            n = int(size_line.split(b";")[0], 16)
        except ValueError:
            break
        if n == 0:
            break
        out += data[:n]
        data = data[n + 2 :]
    return out
