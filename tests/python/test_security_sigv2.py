"""Issue 19 item 7: Signature V2 gets V4's replay window and expiry cap,
and operators can turn it off (ALMACEN_SIGV2=off). The V2 signatures are
computed here (HMAC-SHA1 over AWS's documented string to sign)."""

import base64
import hashlib
import hmac
import time
import urllib.parse
from email.utils import formatdate
from urllib.parse import urlsplit

import pytest

import rawhttp


def v2_signature(secret, string_to_sign):
    return base64.b64encode(hmac.new(secret.encode(), string_to_sign.encode(), hashlib.sha1).digest()).decode()


def v2_header_get(server, path, date):
    """GET `path` with V2 header auth and this `Date`."""
    sig = v2_signature(server.secret_key, f"GET\n\n\n{date}\n{path}")
    host = urlsplit(server.endpoint).netloc
    headers = {"Date": date, "Authorization": f"AWS {server.access_key}:{sig}"}
    h, _, p = host.rpartition(":")
    resp = rawhttp.send(h, int(p), rawhttp.build("GET", path, host, headers, b""))
    assert resp is not None
    return resp


def v2_presigned_get(server, path, expires):
    sig = v2_signature(server.secret_key, f"GET\n\n\n{expires}\n{path}")
    q = urllib.parse.urlencode({"AWSAccessKeyId": server.access_key, "Expires": str(expires), "Signature": sig})
    host = urlsplit(server.endpoint).netloc
    h, _, p = host.rpartition(":")
    resp = rawhttp.send(h, int(p), rawhttp.build("GET", f"{path}?{q}", host, {}, b""))
    assert resp is not None
    return resp


@pytest.fixture
def obj(s3, bucket):
    s3.put_object(Bucket=bucket, Key="v2obj", Body=b"v2 data")
    return f"/{bucket}/v2obj"


def test_sigv2_fresh_requests_still_work(server, obj):
    """issue 19 item 7 (already true today; pins that the fix keeps V2 for
    old clients): a V2 request dated now, and a presigned V2 URL valid for
    an hour, are accepted."""
    r = v2_header_get(server, obj, formatdate(usegmt=True))
    assert (r.status, r.body) == (200, b"v2 data"), r
    r = v2_presigned_get(server, obj, int(time.time()) + 3600)
    assert (r.status, r.body) == (200, b"v2 data"), r


def test_sigv2_header_date_outside_the_window_is_refused(server, obj):
    """issue 19 item 7: V2 header auth dated 2001 is a replay: 403
    RequestTimeTooSkewed, as for V4."""
    r = v2_header_get(server, obj, "Mon, 01 Jan 2001 00:00:00 GMT")
    assert (r.status, r.code) == (403, "RequestTimeTooSkewed"), f"expected 403 RequestTimeTooSkewed, got {r.status} {r.code}"


def test_sigv2_presigned_expiry_is_capped(server, obj):
    """issue 19 item 7: a presigned V2 URL expiring in 2100 is over the
    7-day cap: 403 AccessDenied."""
    r = v2_presigned_get(server, obj, 4102444800)  # 2100-01-01
    assert (r.status, r.code) == (403, "AccessDenied"), f"expected 403 AccessDenied, got {r.status} {r.body[:80]!r}"


def test_sigv2_off(server_factory):
    """issue 19 item 7: with ALMACEN_SIGV2=off every V2 request (header or
    presigned) is refused with 403 AccessDenied; V4 works."""
    srv = server_factory(extra_env={"ALMACEN_SIGV2": "off"})
    s3 = srv.client()
    s3.create_bucket(Bucket="sigv2-off")
    s3.put_object(Bucket="sigv2-off", Key="k", Body=b"v4 only")
    assert s3.get_object(Bucket="sigv2-off", Key="k")["Body"].read() == b"v4 only"
    r = v2_header_get(srv, "/sigv2-off/k", formatdate(usegmt=True))
    assert (r.status, r.code) == (403, "AccessDenied"), f"V2 header auth: expected 403 AccessDenied, got {r.status} {r.code}"
    r = v2_presigned_get(srv, "/sigv2-off/k", int(time.time()) + 300)
    assert (r.status, r.code) == (403, "AccessDenied"), f"V2 presigned: expected 403 AccessDenied, got {r.status} {r.code}"


def test_sigv2_is_verified_in_almacen_as_s3s_verifies_it(server_factory):
    """issue 19 item 14: V2 signatures are checked by almacen in constant
    time before s3s (whose `==` leaks how much of a guess was right) sees
    them; what s3s accepted must still be accepted: path and virtual-host
    style, x-amz-* headers, subresources; a wrong signature and an unknown
    key are refused as before."""
    srv = server_factory(extra_env={"MINIO_DOMAIN": "s3.test"})
    s3 = srv.client()
    s3.create_bucket(Bucket="vhost")
    s3.put_object(Bucket="vhost", Key="k", Body=b"vh data")
    host = urlsplit(srv.endpoint).netloc
    h, _, p = host.rpartition(":")
    date = formatdate(usegmt=True)

    def send(path, sts, host_header, ak=srv.access_key, secret=srv.secret_key, extra=None):
        headers = {"Date": date, "Authorization": f"AWS {ak}:{v2_signature(secret, sts)}", **(extra or {})}
        return rawhttp.send(h, int(p), rawhttp.build("GET", path, host_header, headers, b""))

    # Virtual-host style: the bucket comes from the Host.
    r = send("/k", f"GET\n\n\n{date}\n/vhost/k", f"vhost.s3.test:{p}")
    assert (r.status, r.body) == (200, b"vh data"), (r.status, r.body[:200])
    # A subresource and an x-amz header are part of what is signed.
    r = send("/vhost/k?tagging", f"GET\n\n\n{date}\nx-amz-meta-note:a\n/vhost/k?tagging", host, extra={"x-amz-meta-note": "a"})
    assert r.status == 200, r.body[:200]
    # Wrong secret, and a key nobody has.
    r = send("/vhost/k", f"GET\n\n\n{date}\n/vhost/k", host, secret="wrong-secret-123")
    assert (r.status, r.code) == (403, "SignatureDoesNotMatch")
    r = send("/vhost/k", f"GET\n\n\n{date}\n/vhost/k", host, ak="NOSUCHKEY")
    assert (r.status, r.code) == (403, "InvalidAccessKeyId")
