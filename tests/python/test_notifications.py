"""Bucket event notifications to a webhook: the configuration through
boto3, one event per change, filters, and durable delivery while the
target is down, across a server restart (seed 000: a video lands, a job starts)."""

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from botocore.exceptions import ClientError

from conftest import error_code

ARN = "arn:minio:sqs::jobs:webhook"


class Receiver:
    """An HTTP endpoint that records the JSON bodies POSTed to it."""

    def __init__(self, port=0):
        self.events = []
        self.auth = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.events.append(json.loads(body))
                outer.auth.append(self.headers.get("Authorization"))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def wait_for(self, n, timeout=20.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(self.events) < n:
            time.sleep(0.05)
        return self.events


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def env_for(port):
    return {
        "MINIO_NOTIFY_WEBHOOK_ENABLE_JOBS": "on",
        "MINIO_NOTIFY_WEBHOOK_ENDPOINT_JOBS": f"http://127.0.0.1:{port}/events",
        "MINIO_NOTIFY_WEBHOOK_AUTH_TOKEN_JOBS": "hook-token",
    }


def configure(s3, bucket):
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [{
                "Id": "new-videos",
                "QueueArn": ARN,
                "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"],
                "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "videos/"}, {"Name": "suffix", "Value": ".mp4"}]}},
            }]
        },
    )


def test_one_event_per_change_with_filters(server_factory):
    rx = Receiver()
    try:
        srv = server_factory(extra_env=env_for(rx.port))
        s3 = srv.client()
        s3.create_bucket(Bucket="inventory")
        configure(s3, "inventory")
        got = s3.get_bucket_notification_configuration(Bucket="inventory")["QueueConfigurations"][0]
        assert got["QueueArn"] == ARN and got["Id"] == "new-videos"
        s3.put_object(Bucket="inventory", Key="videos/clip 1.mp4", Body=b"v" * 1234)
        s3.put_object(Bucket="inventory", Key="frames/f1.jpg", Body=b"f")  # filtered out
        s3.put_object(Bucket="inventory", Key="videos/notes.txt", Body=b"n")  # filtered out
        mp = s3.create_multipart_upload(Bucket="inventory", Key="videos/big.mp4")
        p = s3.upload_part(Bucket="inventory", Key="videos/big.mp4", UploadId=mp["UploadId"], PartNumber=1, Body=b"b" * 10)
        s3.complete_multipart_upload(Bucket="inventory", Key="videos/big.mp4", UploadId=mp["UploadId"],
                                     MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": p["ETag"]}]})
        s3.delete_object(Bucket="inventory", Key="videos/clip 1.mp4")
        events = rx.wait_for(3)
        time.sleep(0.5)  # nothing more may come
        assert len(rx.events) == 3, rx.events
        names = [e["Records"][0]["eventName"] for e in events]
        assert names == ["ObjectCreated:Put", "ObjectCreated:CompleteMultipartUpload", "ObjectRemoved:Delete"]
        first = events[0]["Records"][0]["s3"]
        assert first["bucket"]["name"] == "inventory"
        assert first["object"]["key"] == "videos/clip%201.mp4" and first["object"]["size"] == 1234
        assert first["configurationId"] == "new-videos" and len(first["object"]["eTag"]) == 32
        assert events[0]["EventName"] == "s3:ObjectCreated:Put"
        assert rx.auth[0] == "Bearer hook-token"
    finally:
        rx.stop()


def test_unknown_arn_is_refused(server, s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.put_bucket_notification_configuration(
            Bucket=bucket,
            NotificationConfiguration={"QueueConfigurations": [{"QueueArn": "arn:minio:sqs::nope:webhook", "Events": ["s3:ObjectCreated:*"]}]},
        )
    assert error_code(e.value) == "InvalidArgument"


def test_events_wait_for_a_target_that_is_down_even_across_a_restart(server_factory):
    port = free_port()
    srv = server_factory(extra_env={**env_for(port), "MINIO_PROMETHEUS_AUTH_TYPE": "public"})
    s3 = srv.client()
    s3.create_bucket(Bucket="queue")
    configure(s3, "queue")
    for i in range(5):
        s3.put_object(Bucket="queue", Key=f"videos/{i}.mp4", Body=b"x")
    time.sleep(1.0)  # the dispatcher has tried and failed
    srv.stop()
    srv.start()
    s3 = srv.client()
    s3.put_object(Bucket="queue", Key="videos/5.mp4", Body=b"x")
    rx = Receiver(port)
    try:
        events = rx.wait_for(6, timeout=90)
        keys = [e["Records"][0]["s3"]["object"]["key"] for e in events]
        assert keys == [f"videos/{i}.mp4" for i in range(6)], keys
        time.sleep(0.5)
        assert len(rx.events) == 6
        import requests

        metrics = requests.get(srv.endpoint + "/minio/v2/metrics/cluster", timeout=30).text
        assert "almacen_notify_delivered_total 6" in metrics
        failed = [l for l in metrics.splitlines() if l.startswith("almacen_notify_failed_total ")]
        assert failed and float(failed[0].split()[1]) >= 1
    finally:
        rx.stop()
