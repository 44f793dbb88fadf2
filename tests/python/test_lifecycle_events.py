"""Lifecycle expiration reports itself: s3:LifecycleExpiration:* events
reach the bucket's notification target, exactly once per expired object,
queued in the same commit as the expiry (with a shortened lifecycle day)."""

import time

from test_notifications import ARN, Receiver, env_for


def test_expiry_sends_lifecycle_events(server_factory):
    rx = Receiver()
    try:
        env = env_for(rx.port)
        env["ALMACEN_LIFECYCLE_DAY_SECONDS"] = "1"
        srv = server_factory(extra_env=env)
        s3 = srv.client()
        s3.create_bucket(Bucket="expiring")
        s3.put_bucket_notification_configuration(
            Bucket="expiring",
            NotificationConfiguration={"QueueConfigurations": [{
                "Id": "expiry", "QueueArn": ARN, "Events": ["s3:LifecycleExpiration:*"]}]},
        )
        s3.put_object(Bucket="expiring", Key="tmp/one.jpg", Body=b"1")
        s3.put_object(Bucket="expiring", Key="keep/two.jpg", Body=b"2")
        s3.put_bucket_lifecycle_configuration(
            Bucket="expiring",
            LifecycleConfiguration={"Rules": [{
                "ID": "tmp", "Status": "Enabled", "Filter": {"Prefix": "tmp/"},
                "Expiration": {"Days": 1}}]},
        )
        events = rx.wait_for(1, timeout=30)
        time.sleep(2)  # more passes run: still exactly one event
        assert len(rx.events) == 1, rx.events
        rec = events[0]["Records"][0]
        assert rec["eventName"] == "LifecycleExpiration:Delete"
        assert rec["s3"]["object"]["key"] == "tmp/one.jpg" and rec["s3"]["configurationId"] == "expiry"
        assert [o["Key"] for o in s3.list_objects_v2(Bucket="expiring").get("Contents", [])] == ["keep/two.jpg"]
    finally:
        rx.stop()
