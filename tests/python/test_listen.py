"""ListenBucketNotification (MinIO's streaming extension, used by `mc event
listen` and minio-js): a signed GET with `events=` streams one JSON line
per committed change, filtered by event, prefix and suffix, with no bucket
notification configuration needed; refused to callers without the right."""

import json
import queue
import threading
import time
import urllib.parse

import requests
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


def open_listen(srv, path_query, access_key=None, secret_key=None):
    url = srv.endpoint + path_query
    req = AWSRequest(method="GET", url=url)
    creds = Credentials(access_key or srv.access_key, secret_key or srv.secret_key)
    S3SigV4Auth(creds, "s3", srv.region).add_auth(req)
    return requests.get(url, headers=dict(req.headers), stream=True, timeout=30)


def collect(resp, want, timeout=20.0):
    """Reads JSON lines from `resp` in a thread until `want` records came."""
    out = queue.Queue()

    def pump():
        try:
            for line in resp.iter_lines():
                if line.strip():
                    out.put(json.loads(line))
        except Exception:  # noqa: BLE001 - the connection closes at the end
            pass

    threading.Thread(target=pump, daemon=True).start()
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < want and time.monotonic() < deadline:
        try:
            got.append(out.get(timeout=0.2))
        except queue.Empty:
            pass
    return got


def test_listen_streams_committed_changes(server):
    s3 = server.client()
    s3.create_bucket(Bucket="watched")
    q = urllib.parse.urlencode([("events", "s3:ObjectCreated:*"), ("events", "s3:ObjectRemoved:*"),
                                ("prefix", "videos/"), ("suffix", ".mp4"), ("ping", "1")],
                               quote_via=urllib.parse.quote, safe="")
    resp = open_listen(server, "/watched?" + q)
    assert resp.status_code == 200
    time.sleep(0.3)  # the listener is registered once the response started
    s3.put_object(Bucket="watched", Key="videos/a b.mp4", Body=b"v" * 7)
    s3.put_object(Bucket="watched", Key="frames/x.jpg", Body=b"f")  # filtered out by prefix
    s3.put_object(Bucket="watched", Key="videos/c.mov", Body=b"m")  # filtered out by suffix
    s3.delete_object(Bucket="watched", Key="videos/a b.mp4")
    got = collect(resp, 2)
    resp.close()
    names = [r["Records"][0]["eventName"] for r in got]
    assert names == ["ObjectCreated:Put", "ObjectRemoved:Delete"]
    obj = got[0]["Records"][0]["s3"]["object"]
    assert obj["key"] == "videos/a%20b.mp4" and obj["size"] == 7
    assert got[0]["Records"][0]["s3"]["bucket"]["name"] == "watched"


def test_listen_refused_without_the_right(server):
    assert server.admin("user", "add", "srv", "nolisten", "nolisten123").returncode == 0
    assert server.admin("policy", "attach", "srv", "readonly", "--user", "nolisten").returncode == 0
    s3 = server.client()
    s3.create_bucket(Bucket="watched-denied")
    resp = open_listen(server, "/watched-denied?events=s3%3AObjectCreated%3A%2A",
                       access_key="nolisten", secret_key="nolisten123")
    assert resp.status_code == 403 and b"AccessDenied" in resp.content
    anon = requests.get(server.endpoint + "/watched-denied?events=s3:ObjectCreated:*", timeout=10)
    assert anon.status_code == 403
