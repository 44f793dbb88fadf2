"""Event targets added and removed while the server runs (`almacen admin
event target add/remove`): a webhook added at run time receives events
at once and after a restart (it is stored, its token sealed), a removed
one is no longer a valid destination, and environment targets cannot be
changed this way."""

import json
import os

import pytest
from botocore.exceptions import ClientError

from conftest import embedded_only, error_code
from test_notifications import Receiver, env_for


def rule(arn):
    return {"QueueConfigurations": [{"Id": "jobs", "QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]}


@embedded_only("reads meta.db to check that the stored secret is sealed")
def test_add_use_restart_remove(server_factory):
    rx = Receiver()
    try:
        srv = server_factory(extra_env=env_for(rx.port))  # env target "jobs" (webhook)
        s3 = srv.client()
        s3.create_bucket(Bucket="runtime-targets")
        arn = "arn:minio:sqs::video-jobs:webhook"
        with pytest.raises(ClientError) as e:
            s3.put_bucket_notification_configuration(Bucket="runtime-targets",
                                                     NotificationConfiguration=rule(arn))
        assert error_code(e.value) == "InvalidArgument"

        r = srv.admin("event", "target", "add", "srv", "webhook", "video-jobs",
                      f"endpoint=http://127.0.0.1:{rx.port}/runtime", "auth_token=runtime-secret-77")
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["arn"] == arn
        listed = json.loads(srv.admin("event", "target", "list", "srv").stdout)["targets"]
        assert arn in [t["arn"] for t in listed]
        assert "runtime-secret-77" not in json.dumps(listed)

        s3.put_bucket_notification_configuration(Bucket="runtime-targets", NotificationConfiguration=rule(arn))
        s3.put_object(Bucket="runtime-targets", Key="a.mp4", Body=b"a")
        rx.wait_for(1)
        assert rx.auth[-1] == "Bearer runtime-secret-77"

        # Stored, with its token sealed: it survives a restart.
        srv.stop()
        with open(os.path.join(srv.data_dir, "meta.db"), "rb") as f:
            assert b"runtime-secret-77" not in f.read()
        srv.start()
        s3 = srv.client()
        s3.put_object(Bucket="runtime-targets", Key="b.mp4", Body=b"b")
        events = rx.wait_for(2)
        assert [e["Records"][0]["s3"]["object"]["key"] for e in events] == ["a.mp4", "b.mp4"]

        # Environment targets are changed in the environment only.
        r = srv.admin("event", "target", "remove", "srv", "webhook", "jobs")
        assert r.returncode != 0 and "environment" in r.stderr
        # Bad settings are refused with the setting named.
        r = srv.admin("event", "target", "add", "srv", "redis", "q1", "key=jobs")
        assert r.returncode != 0 and "ADDRESS" in r.stderr

        r = srv.admin("event", "target", "remove", "srv", "webhook", "video-jobs")
        assert r.returncode == 0, r.stderr
        with pytest.raises(ClientError) as e:
            s3.put_bucket_notification_configuration(Bucket="runtime-targets",
                                                     NotificationConfiguration=rule(arn))
        assert error_code(e.value) == "InvalidArgument"
        listed = json.loads(srv.admin("event", "target", "list", "srv").stdout)["targets"]
        assert arn not in [t["arn"] for t in listed]
    finally:
        rx.stop()


def test_changing_targets_needs_admin(server):
    assert server.admin("user", "add", "srv", "not-admin", "notadmin123").returncode == 0
    r = server.admin("event", "target", "add", "srv", "webhook", "x", "endpoint=http://127.0.0.1:1/",
                     access_key="not-admin", secret_key="notadmin123")
    assert r.returncode != 0 and "AccessDenied" in r.stderr
