"""Security properties of the web console's API (crates/console): the session
cookie's flags, the CSRF header on state-changing calls, 401 without a live
session, and that the console grants nothing the user's keys do not (it signs
with them and the S3 port decides)."""

import tempfile
import time

import pytest
import requests

from conftest import AlmacenServer, ACCESS_KEY, SECRET_KEY


@pytest.fixture(scope="module")
def console():
    data = tempfile.mkdtemp(prefix="almacen-console-")
    srv = AlmacenServer(
        data_dir=data,
        server_args=["server", data, "--address", "127.0.0.1:0", "--console-address", "127.0.0.1:0"],
    ).start()
    url = None
    for _ in range(50):
        url = next((l.split(" ", 1)[1] for l in srv.stdout_lines if l.startswith("Console: http")), None)
        if url:
            break
        time.sleep(0.1)
    assert url, srv.stdout_lines
    yield srv, url
    srv.stop()


def login(url, ak=ACCESS_KEY, sk=SECRET_KEY, csrf="login"):
    s = requests.Session()
    headers = {"X-Almacen-Csrf": csrf} if csrf else {}
    r = s.post(f"{url}/api/login", json={"accessKey": ak, "secretKey": sk}, headers=headers, timeout=10)
    return s, r


def test_cookie_flags_and_session(console):
    _, url = console
    s, r = login(url)
    assert r.status_code == 204
    cookie = r.headers["Set-Cookie"]
    assert cookie.startswith("almacen_session=")
    for flag in ("HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"):
        assert flag in cookie, cookie
    assert "Secure" not in cookie  # plain HTTP here; Secure under TLS
    me = s.get(f"{url}/api/session", timeout=10).json()
    assert me["accessKey"] == ACCESS_KEY and me["admin"] is True and len(me["csrf"]) == 64


def test_login_refuses_wrong_secret_and_missing_csrf(console):
    _, url = console
    _, r = login(url, sk="wrong-secret-123")
    assert r.status_code == 401 and r.json()["Code"] == "InvalidLogin"
    assert "Set-Cookie" not in r.headers
    _, r = login(url, csrf=None)
    assert r.status_code == 403


def test_no_session_is_401(console):
    _, url = console
    for method, path in [("GET", "/api/session"), ("GET", "/api/s3/"), ("GET", "/api/metrics"), ("PUT", "/api/s3/nosession")]:
        r = requests.request(method, f"{url}{path}", timeout=10)
        assert r.status_code == 401, (method, path, r.text)
        assert r.json()["Code"] == "SessionExpired"
    r = requests.get(f"{url}/api/s3/", cookies={"almacen_session": "0" * 64}, timeout=10)
    assert r.status_code == 401


def test_state_changes_need_the_csrf_token(console):
    srv, url = console
    s, _ = login(url)
    token = s.get(f"{url}/api/session", timeout=10).json()["csrf"]
    assert s.put(f"{url}/api/s3/csrf-bucket", timeout=10).status_code == 403
    assert s.put(f"{url}/api/s3/csrf-bucket", headers={"X-Almacen-Csrf": "0" * 64}, timeout=10).status_code == 403
    r = s.put(f"{url}/api/s3/csrf-bucket", headers={"X-Almacen-Csrf": token, "Origin": "http://evil.example"}, timeout=10)
    assert r.status_code == 403
    r = s.put(f"{url}/api/s3/csrf-bucket", headers={"X-Almacen-Csrf": token}, timeout=10)
    assert r.status_code == 200, r.text
    # Reads need no token.
    assert s.get(f"{url}/api/s3/csrf-bucket?list-type=2", timeout=10).status_code == 200


def test_logout_ends_the_session(console):
    _, url = console
    s, _ = login(url)
    token = s.get(f"{url}/api/session", timeout=10).json()["csrf"]
    old = s.cookies.get("almacen_session")
    r = s.post(f"{url}/api/logout", headers={"X-Almacen-Csrf": token}, timeout=10)
    assert r.status_code == 204 and "Max-Age=0" in r.headers["Set-Cookie"]
    r = requests.get(f"{url}/api/session", cookies={"almacen_session": old}, timeout=10)
    assert r.status_code == 401


def test_read_only_user_cannot_delete_through_the_console(console):
    srv, url = console
    root, _ = login(url)
    t = root.get(f"{url}/api/session", timeout=10).json()["csrf"]
    h = {"X-Almacen-Csrf": t}
    admin = f"{url}/api/s3/minio/almacen/admin/v1"
    assert root.put(f"{url}/api/s3/ro-bucket", headers=h, timeout=10).status_code == 200
    assert root.put(f"{url}/api/s3/ro-bucket/keep.txt", data=b"keep", headers=h, timeout=10).status_code == 200
    assert root.put(f"{admin}/users/console-reader", json={"secret_key": "reader-secret-1"}, headers=h, timeout=10).status_code == 200
    r = root.post(f"{admin}/policy-attachments", json={"attach": True, "policies": ["readonly"], "user": "console-reader"}, headers=h, timeout=10)
    assert r.status_code == 200, r.text

    reader, r = login(url, "console-reader", "reader-secret-1")
    assert r.status_code == 204
    me = reader.get(f"{url}/api/session", timeout=10).json()
    assert me["admin"] is False and me["monitor"] is False
    can = reader.get(f"{url}/api/can?bucket=ro-bucket", timeout=10).json()
    assert can["s3:GetObject"] is True and can["s3:DeleteObject"] is False
    rh = {"X-Almacen-Csrf": me["csrf"]}
    r = reader.delete(f"{url}/api/s3/ro-bucket/keep.txt", headers=rh, timeout=10)
    assert r.status_code == 403 and "<Code>AccessDenied</Code>" in r.text
    r = reader.post(f"{url}/api/s3/ro-bucket?delete", data=b"<Delete><Object><Key>keep.txt</Key></Object></Delete>", headers=rh, timeout=10)
    assert "<Code>AccessDenied</Code>" in r.text
    assert reader.get(f"{admin}/users", timeout=10).status_code == 403
    assert reader.get(f"{url}/api/metrics", timeout=10).status_code == 403
    assert reader.get(f"{url}/api/s3/ro-bucket/keep.txt", timeout=10).content == b"keep"


def test_pages_and_objects_carry_protective_headers(console):
    _, url = console
    r = requests.get(f"{url}/", timeout=10)
    assert r.status_code == 200 and "almacen console" in r.text
    assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
    assert r.headers["X-Frame-Options"] == "DENY"
    assert requests.get(f"{url}/app.js", timeout=10).headers["Content-Type"].startswith("text/javascript")
    s, _ = login(url)
    t = s.get(f"{url}/api/session", timeout=10).json()["csrf"]
    s.put(f"{url}/api/s3/html-bucket", headers={"X-Almacen-Csrf": t}, timeout=10)
    s.put(f"{url}/api/s3/html-bucket/x.html", data=b"<script>alert(1)</script>", headers={"X-Almacen-Csrf": t, "Content-Type": "text/html"}, timeout=10)
    r = s.get(f"{url}/api/s3/html-bucket/x.html", timeout=10)
    # A stored page never runs as the console's origin.
    assert r.headers["Content-Security-Policy"].startswith("sandbox")
