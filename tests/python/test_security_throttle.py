"""Issue 19 item 15: failed signatures (S3 and admin API) and failed console
logins are slowed down per client address and access key, without locking
the owner out. Only lower bounds on time are asserted: a slow machine can
make a request slower, never faster."""

import time

import pytest
from botocore.exceptions import ClientError

from test_console import console, login  # noqa: F401 (console is the console test's server fixture)

# crates/s3/src/auth_throttle.rs: FREE_FAILURES = 10, then 250 ms doubling.
FREE = 10


def _fail(client, bucket):
    with pytest.raises(ClientError) as e:
        client.head_bucket(Bucket=bucket)
    return e.value


def test_failed_signatures_slow_down_the_guesser_not_the_owner(server_factory):
    srv = server_factory()
    owner = srv.client()
    owner.create_bucket(Bucket="vault")
    guesser = srv.client(secret_key="wrong-guess-0001")
    for _ in range(FREE + 2):
        _fail(guesser, "vault")
    started = time.monotonic()
    e = _fail(guesser, "vault")
    waited = time.monotonic() - started
    assert waited >= 0.5, f"guess {FREE + 3} answered after {waited:.2f} s: not slowed"
    # The owner is slowed once at most, never refused, and a success clears the count.
    owner.head_bucket(Bucket="vault")
    assert owner.list_objects_v2(Bucket="vault")["KeyCount"] == 0


def test_failed_console_logins_are_slowed(console):
    _, url = console
    for _ in range(FREE + 2):
        _, r = login(url, sk="wrong-secret-123")
        assert r.status_code == 401
    started = time.monotonic()
    _, r = login(url, sk="wrong-secret-123")
    waited = time.monotonic() - started
    assert r.status_code == 401
    assert waited >= 0.5, f"login attempt {FREE + 3} answered after {waited:.2f} s: not slowed"
    s, r = login(url)
    assert r.status_code == 204, r.text
