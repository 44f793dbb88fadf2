"""Bucket notifications to real Redis, NATS and PostgreSQL servers, configured
with MinIO's variables (seed 000: a video lands, a worker BLPOPs the job).

Each test starts its own redis-server, nats-server and PostgreSQL (initdb in
a temp dir, run as the postgres user when the tests run as root) on
ephemeral ports. The binaries come from Debian's redis-server, nats-server
and postgresql packages (.ci/run installs them); a missing one fails the
test with a message saying which package to install.

Core NATS keeps no messages for absent subscribers, so almacen reaches the
NATS server through a gate (a TCP relay) that the test opens only once its
own subscriber is connected: "NATS down" is both the server stopped and the
gate closed, and no event can be published into the void before the test
listens.
"""

from __future__ import annotations

import glob
import json
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
import time

import pytest
import requests

REDIS_PASSWORD = "redis-s3cret-pw"
NATS_TOKEN = "nats-s3cret-token"
PG_PASSWORD = "pg-s3cret-pw"
SECRETS = [REDIS_PASSWORD, NATS_TOKEN, PG_PASSWORD]

ARNS = {
    "jobs": "arn:minio:sqs::jobs:redis",  # Redis list, access format (the job queue)
    "index": "arn:minio:sqs::index:redis",  # Redis hash, namespace format
    "bus": "arn:minio:sqs::bus:nats",
    "pgns": "arn:minio:sqs::pgns:postgresql",
    "pglog": "arn:minio:sqs::pglog:postgresql",
}
SUBJECT = "bucketevents"
WAIT = 60.0  # seconds: upper bound for any delivery the tests wait for


def need(binary: str, package: str) -> str:
    path = shutil.which(binary) or next(
        (p for p in (f"/usr/sbin/{binary}", f"/usr/bin/{binary}") if os.access(p, os.X_OK)), None
    )
    if not path:
        pytest.fail(f"{binary} not found: install Debian's {package} package (.ci/run does)", pytrace=False)
    return path


def pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        pytest.fail(f"/usr/lib/postgresql/*/bin/{name} not found: install Debian's postgresql package (.ci/run does)",
                    pytrace=False)
    return found[-1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on port {port} after {timeout}s")


def wait_until(cond, timeout: float = WAIT, what: str = "condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = cond()
        if last:
            return last
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def stop_proc(proc: subprocess.Popen | None) -> None:
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


# --------------------------------------------------------------------------
# Redis
# --------------------------------------------------------------------------


class Redis:
    def __init__(self, tmp: str):
        self.server = need("redis-server", "redis-server")
        self.cli = need("redis-cli", "redis-tools")
        self.port = free_port()
        self.dir = os.path.join(tmp, "redis")
        os.makedirs(self.dir)
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            [self.server, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir,
             "--save", "", "--appendonly", "no", "--requirepass", REDIS_PASSWORD],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        wait_port(self.port)

    def stop(self):
        stop_proc(self.proc)
        self.proc = None

    def cmd(self, *args: str) -> list[str]:
        out = subprocess.run(
            [self.cli, "-p", str(self.port), "-a", REDIS_PASSWORD, "--no-auth-warning", "--raw", *args],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout
        return [line for line in out.split("\n") if line]

    def list(self, key: str) -> list:
        return [json.loads(x) for x in self.cmd("LRANGE", key, "0", "-1")]

    def hash(self, key: str) -> dict:
        flat = self.cmd("HGETALL", key)
        return {flat[i]: json.loads(flat[i + 1]) for i in range(0, len(flat), 2)}


# --------------------------------------------------------------------------
# NATS
# --------------------------------------------------------------------------


class Gate:
    """A TCP relay from a fixed port to the NATS server, listening only while open."""

    def __init__(self, upstream_port: int):
        self.port = free_port()
        self.upstream = upstream_port
        self.listener = None
        self.conns: list[socket.socket] = []

    def open(self):
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", self.port))
        self.listener.listen(16)
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()

    def close(self):
        if self.listener is not None:
            self.listener.close()
            self.listener = None
        for c in self.conns:
            try:
                c.close()
            except OSError:
                pass
        self.conns = []

    def _accept(self, listener):
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                up = socket.create_connection(("127.0.0.1", self.upstream), timeout=5)
            except OSError:
                client.close()
                continue
            self.conns += [client, up]
            for a, b in ((client, up), (up, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a, b):
        try:
            while True:
                data = a.recv(65536)
                if not data:
                    break
                b.sendall(data)
        except OSError:
            pass
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class Nats:
    def __init__(self, tmp: str):
        self.server = need("nats-server", "nats-server")
        self.port = free_port()
        self.dir = os.path.join(tmp, "nats")
        os.makedirs(self.dir)
        self.proc = None
        self.gate = Gate(self.port)
        self.messages: list[dict] = []
        self.sock = None

    def start(self):
        self.proc = subprocess.Popen(
            [self.server, "-a", "127.0.0.1", "-p", str(self.port), "--auth", NATS_TOKEN],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=self.dir,
        )
        wait_port(self.port)
        self.subscribe()
        self.gate.open()

    def stop(self):
        self.gate.close()
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        stop_proc(self.proc)
        self.proc = None

    def subscribe(self):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        f = s.makefile("rb")
        assert f.readline().startswith(b"INFO ")
        connect = {"verbose": False, "pedantic": False, "auth_token": NATS_TOKEN, "protocol": 1}
        s.sendall(f"CONNECT {json.dumps(connect)}\r\nSUB {SUBJECT} 1\r\nPING\r\n".encode())
        line = f.readline()
        assert line == b"PONG\r\n", line
        s.settimeout(None)
        self.sock = s

        def read():
            try:
                while True:
                    line = f.readline()
                    if not line:
                        return
                    if line.startswith(b"PING"):
                        s.sendall(b"PONG\r\n")
                    elif line.startswith(b"MSG "):
                        size = int(line.split()[-1])
                        payload = f.read(size + 2)[:size]
                        self.messages.append(json.loads(payload))
            except (OSError, ValueError):
                return

        threading.Thread(target=read, daemon=True).start()


# --------------------------------------------------------------------------
# PostgreSQL
# --------------------------------------------------------------------------


class Postgres:
    """A private cluster: initdb into a temp dir, a unix socket in it, an
    ephemeral TCP port; run as the postgres user when we are root (the
    server refuses to run as root)."""

    def __init__(self, tmp: str):
        self.initdb = pg_bin("initdb")
        self.pg_ctl = pg_bin("pg_ctl")
        self.postgres = pg_bin("postgres")
        self.psql = pg_bin("psql")
        self.port = free_port()
        self.dir = os.path.join(tmp, "pg")
        os.makedirs(self.dir)
        self.data = os.path.join(self.dir, "data")
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            for d in (tmp, self.dir):
                os.chmod(d, 0o755)
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            self.as_user = [shutil.which("runuser") or "/sbin/runuser", "-u", "postgres", "--"]
        pwfile = os.path.join(self.dir, "pw")
        with open(pwfile, "w") as f:
            f.write(PG_PASSWORD + "\n")
        if self.as_user:
            os.chown(pwfile, pwd.getpwnam("postgres").pw_uid, -1)
        subprocess.run(
            [*self.as_user, self.initdb, "-D", self.data, "-U", "almacen", f"--pwfile={pwfile}",
             "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-sync"],
            check=True, capture_output=True, timeout=120,
        )
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            [*self.as_user, self.postgres, "-D", self.data, "-p", str(self.port), "-k", self.dir,
             "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        wait_port(self.port, timeout=60)

    def stop(self):
        # Fast shutdown: a smart one (SIGTERM) would wait for almacen's
        # connection to end.
        if self.proc is not None and self.proc.poll() is None:
            subprocess.run([*self.as_user, self.pg_ctl, "stop", "-D", self.data, "-m", "fast", "-w", "-t", "30"],
                           capture_output=True, timeout=60)
        stop_proc(self.proc)
        self.proc = None

    @property
    def connection_string(self) -> str:
        return (f"host=127.0.0.1 port={self.port} user=almacen password={PG_PASSWORD} "
                "dbname=postgres sslmode=disable connect_timeout=5")

    def query(self, sql: str) -> list[list[str]]:
        out = subprocess.run(
            [*self.as_user, self.psql, "-h", self.dir, "-p", str(self.port), "-U", "almacen", "-d", "postgres",
             "-At", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-c", sql],
            capture_output=True, text=True, timeout=30,
        )
        if out.returncode != 0:
            if "does not exist" in out.stderr:
                return []
            raise AssertionError(out.stderr)
        return [line.split("\t") for line in out.stdout.splitlines() if line]


# --------------------------------------------------------------------------
# almacen side
# --------------------------------------------------------------------------


def almacen_env(redis: Redis, nats: Nats, pg: Postgres) -> dict:
    return {
        "MINIO_PROMETHEUS_AUTH_TYPE": "public",
        # The job queue of the seed: a list a worker BLPOPs from.
        "MINIO_NOTIFY_REDIS_ENABLE_JOBS": "on",
        "MINIO_NOTIFY_REDIS_ADDRESS_JOBS": f"127.0.0.1:{redis.port}",
        "MINIO_NOTIFY_REDIS_KEY_JOBS": "videojobs",
        "MINIO_NOTIFY_REDIS_FORMAT_JOBS": "access",
        "MINIO_NOTIFY_REDIS_PASSWORD_JOBS": REDIS_PASSWORD,
        "MINIO_NOTIFY_REDIS_ENABLE_INDEX": "on",
        "MINIO_NOTIFY_REDIS_ADDRESS_INDEX": f"127.0.0.1:{redis.port}",
        "MINIO_NOTIFY_REDIS_KEY_INDEX": "videoindex",
        "MINIO_NOTIFY_REDIS_FORMAT_INDEX": "namespace",
        "MINIO_NOTIFY_REDIS_PASSWORD_INDEX": REDIS_PASSWORD,
        "MINIO_NOTIFY_NATS_ENABLE_BUS": "on",
        "MINIO_NOTIFY_NATS_ADDRESS_BUS": f"127.0.0.1:{nats.gate.port}",
        "MINIO_NOTIFY_NATS_SUBJECT_BUS": SUBJECT,
        "MINIO_NOTIFY_NATS_TOKEN_BUS": NATS_TOKEN,
        "MINIO_NOTIFY_POSTGRES_ENABLE_PGNS": "on",
        "MINIO_NOTIFY_POSTGRES_CONNECTION_STRING_PGNS": pg.connection_string,
        "MINIO_NOTIFY_POSTGRES_TABLE_PGNS": "objects",
        "MINIO_NOTIFY_POSTGRES_FORMAT_PGNS": "namespace",
        "MINIO_NOTIFY_POSTGRES_ENABLE_PGLOG": "on",
        "MINIO_NOTIFY_POSTGRES_CONNECTION_STRING_PGLOG": pg.connection_string,
        "MINIO_NOTIFY_POSTGRES_TABLE_PGLOG": "eventlog",
        "MINIO_NOTIFY_POSTGRES_FORMAT_PGLOG": "access",
    }


def configure(s3, bucket: str) -> None:
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                {"Id": f"to-{name}", "QueueArn": arn, "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"],
                 "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "videos/"}]}}}
                for name, arn in ARNS.items()
            ]
        },
    )


def targets(srv) -> dict:
    r = srv.admin("event", "target", "list", "srv")
    assert r.returncode == 0, r.stderr
    return {t["arn"]: t for t in json.loads(r.stdout)["targets"]}


def metric(text: str, name: str, arn: str | None = None) -> float:
    prefix = f'{name}{{target="{arn}"}} ' if arn else f"{name} "
    lines = [l for l in text.splitlines() if l.startswith(prefix)]
    assert lines, f"no {prefix!r} in the metrics"
    return float(lines[0].split()[-1])


class Counts:
    """What each target holds, for the waits."""

    def __init__(self, redis: Redis, nats: Nats, pg: Postgres):
        self.redis, self.nats, self.pg = redis, nats, pg

    def jobs(self):
        return self.redis.list("videojobs")

    def index(self):
        return self.redis.hash("videoindex")

    def bus(self):
        return list(self.nats.messages)

    def pgns(self):
        return {k: json.loads(v) for k, v in self.pg.query("SELECT key, value FROM objects")}

    def pglog(self):
        return [json.loads(v) for (v,) in self.pg.query("SELECT event_data FROM eventlog ORDER BY ctid")]


@pytest.fixture
def stack():
    tmp = tempfile.mkdtemp(prefix="almacen-notify-")
    redis = nats = pg = None
    try:
        redis, nats, pg = Redis(tmp), Nats(tmp), Postgres(tmp)
        redis.start()
        nats.start()
        pg.start()
        yield redis, nats, pg
    finally:
        for t in (nats, redis, pg):
            if t is not None:
                t.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def record_of(event) -> dict:
    """The S3 record in any target's shape."""
    if isinstance(event, list):  # Redis access: [{"Event":[record],"EventTime":...}]
        return event[0]["Event"][0]
    return event["Records"][0]


def test_one_upload_is_one_event_at_each_target_and_a_delete_removes_it(server_factory, stack):
    redis, nats, pg = stack
    srv = server_factory(extra_env=almacen_env(redis, nats, pg))
    s3 = srv.client()
    s3.create_bucket(Bucket="media")
    configure(s3, "media")
    assert s3.get_bucket_notification_configuration(Bucket="media")["QueueConfigurations"][0]["QueueArn"]

    body = b"v" * 4321
    etag = s3.put_object(Bucket="media", Key="videos/clip 1.mp4", Body=body)["ETag"].strip('"')
    c = Counts(redis, nats, pg)
    wait_until(lambda: len(c.jobs()) >= 1 and len(c.index()) >= 1 and len(c.bus()) >= 1
               and len(c.pgns()) >= 1 and len(c.pglog()) >= 1, what="one event at each target")
    time.sleep(1.0)  # nothing more may come
    jobs, index, bus, pgns, pglog = c.jobs(), c.index(), c.bus(), c.pgns(), c.pglog()
    assert (len(jobs), len(index), len(bus), len(pgns), len(pglog)) == (1, 1, 1, 1, 1)
    assert list(index) == ["media/videos/clip 1.mp4"] and list(pgns) == ["media/videos/clip 1.mp4"]
    assert set(jobs[0][0]) == {"Event", "EventTime"}
    assert jobs[0][0]["EventTime"] == record_of(jobs[0])["eventTime"]
    assert bus[0]["EventName"] == "s3:ObjectCreated:Put" and bus[0]["Key"] == "media/videos/clip 1.mp4"
    for name, ev in [("jobs", jobs[0]), ("index", index["media/videos/clip 1.mp4"]), ("bus", bus[0]),
                     ("pgns", pgns["media/videos/clip 1.mp4"]), ("pglog", pglog[0])]:
        rec = record_of(ev)
        assert rec["eventName"] == "ObjectCreated:Put", name
        assert rec["s3"]["bucket"]["name"] == "media", name
        assert rec["s3"]["object"]["key"] == "videos/clip%201.mp4", name
        assert rec["s3"]["object"]["size"] == 4321, name
        assert rec["s3"]["object"]["eTag"] == etag, name
        assert rec["s3"]["configurationId"] == f"to-{name}", name
        assert rec["eventSource"] == "aws:s3" and rec["eventTime"], name

    s3.put_object(Bucket="media", Key="other/skip.mp4", Body=b"x")  # filtered out
    s3.delete_object(Bucket="media", Key="videos/clip 1.mp4")
    wait_until(lambda: len(c.jobs()) >= 2 and not c.index() and len(c.bus()) >= 2 and not c.pgns()
               and len(c.pglog()) >= 2, what="the removal at each target")
    time.sleep(1.0)
    jobs, bus, pglog = c.jobs(), c.bus(), c.pglog()
    assert (len(jobs), len(bus), len(pglog)) == (2, 2, 2)
    for ev in (jobs[1], bus[1], pglog[1]):
        assert record_of(ev)["eventName"] == "ObjectRemoved:Delete"
        assert record_of(ev)["s3"]["object"]["key"] == "videos/clip%201.mp4"
    assert bus[1]["EventName"] == "s3:ObjectRemoved:Delete"

    # The admin list and the metrics agree: every target online, its two
    # events delivered (the namespace targets too: HSET then HDEL).
    listed = wait_until(lambda: (lambda t: t if all(x["pending"] == 0 for x in t.values()) else None)(targets(srv)),
                        what="an empty queue")
    assert set(listed) == {f"arn:minio:sqs::{n}:{a.rsplit(':', 1)[1]}" for n, a in ARNS.items()}
    for arn, t in listed.items():
        assert t["status"] == "online" and t["delivered"] == 2 and t["failed"] == 0, t
    assert listed[ARNS["jobs"]]["type"] == "redis" and listed[ARNS["pglog"]]["type"] == "postgresql"
    assert listed[ARNS["bus"]]["endpoint"] == f"nats://127.0.0.1:{nats.gate.port} subject={SUBJECT}"
    text = requests.get(srv.endpoint + "/minio/v2/metrics/cluster", timeout=30).text
    assert metric(text, "almacen_notify_delivered_total") == 10
    for arn in ARNS.values():
        assert metric(text, "almacen_notify_target_delivered_total", arn) == 2
        assert metric(text, "almacen_notify_target_online", arn) == 1
        assert metric(text, "almacen_notify_queue_length", arn) == 0
    out = srv.admin("event", "target", "list", "srv").stdout + srv.logs(tail=10**6)
    for secret in SECRETS:
        assert secret not in out


def test_targets_that_are_down_get_every_event_in_order_across_a_restart(server_factory, stack):
    redis, nats, pg = stack
    srv = server_factory(extra_env=almacen_env(redis, nats, pg))
    s3 = srv.client()
    s3.create_bucket(Bucket="queue")
    configure(s3, "queue")
    c = Counts(redis, nats, pg)

    # Every target goes down; the uploads still succeed, their events wait.
    redis.stop()
    nats.stop()
    pg.stop()
    n = 6
    for i in range(n):
        s3.put_object(Bucket="queue", Key=f"videos/{i}.mp4", Body=b"x" * (i + 1))
    listed = wait_until(lambda: (lambda t: t if all(x["status"] == "offline" for x in t.values()) else None)(targets(srv)),
                        timeout=30, what="every target offline")
    assert all(t["pending"] == n for t in listed.values()), listed
    text = requests.get(srv.endpoint + "/minio/v2/metrics/cluster", timeout=30).text
    for arn in ARNS.values():
        assert metric(text, "almacen_notify_queue_length", arn) == n
        assert metric(text, "almacen_notify_target_online", arn) == 0

    # almacen restarts while they are down, then they come back.
    srv.stop()
    srv.start()
    s3 = srv.client()
    time.sleep(1.0)  # the restarted dispatcher has tried and failed
    redis.start()
    pg.start()
    nats.start()
    keys = [f"videos/{i}.mp4" for i in range(n)]
    wait_until(lambda: len(c.jobs()) >= n and len(c.index()) >= n and len(c.bus()) >= n
               and len(c.pgns()) >= n and len(c.pglog()) >= n, what=f"{n} events at each target")
    time.sleep(1.0)  # nothing more may come
    jobs, index, bus, pgns, pglog = c.jobs(), c.index(), c.bus(), c.pgns(), c.pglog()
    assert [record_of(e)["s3"]["object"]["key"] for e in jobs] == keys
    assert [record_of(e)["s3"]["object"]["key"] for e in bus] == keys
    assert [record_of(e)["s3"]["object"]["key"] for e in pglog] == keys
    assert sorted(index) == sorted(f"queue/{k}" for k in keys)
    assert sorted(pgns) == sorted(f"queue/{k}" for k in keys)
    assert [record_of(e)["s3"]["object"]["size"] for e in jobs] == list(range(1, n + 1))

    listed = wait_until(lambda: (lambda t: t if all(x["pending"] == 0 and x["status"] == "online"
                                                    for x in t.values()) else None)(targets(srv)),
                        what="every target online with an empty queue")
    text = requests.get(srv.endpoint + "/minio/v2/metrics/cluster", timeout=30).text
    assert metric(text, "almacen_notify_delivered_total") == n * len(ARNS)
    assert metric(text, "almacen_notify_failed_total") >= len(ARNS)
    for arn in ARNS.values():
        assert listed[arn]["delivered"] == n
        assert metric(text, "almacen_notify_target_delivered_total", arn) == n
        assert metric(text, "almacen_notify_target_failed_total", arn) >= 1
        assert metric(text, "almacen_notify_queue_length", arn) == 0
    logs = srv.logs(tail=10**6)
    for secret in SECRETS:
        assert secret not in logs


def test_event_target_list_needs_an_admin(server_factory, stack):
    redis, nats, pg = stack
    srv = server_factory(extra_env=almacen_env(redis, nats, pg))
    r = srv.admin("user", "add", "srv", "viewer", "viewer-secret-1")
    assert r.returncode == 0, r.stderr
    r = srv.admin("event", "target", "list", "srv", access_key="viewer", secret_key="viewer-secret-1")
    assert r.returncode != 0 and "AccessDenied" in (r.stderr + r.stdout)
    r = srv.admin("event", "target", "list", "srv")
    assert r.returncode == 0 and len(json.loads(r.stdout)["targets"]) == len(ARNS)


def test_a_backlog_for_a_target_that_is_down_does_not_hold_back_the_others(server_factory, stack):
    """300 events wait for Redis, older than the one for NATS: the queue is
    read 256 at a time, so the dispatcher must read past the backlog."""
    redis, nats, pg = stack
    srv = server_factory(extra_env=almacen_env(redis, nats, pg))
    s3 = srv.client()
    s3.create_bucket(Bucket="backlog")
    s3.put_bucket_notification_configuration(
        Bucket="backlog",
        NotificationConfiguration={"QueueConfigurations": [
            {"QueueArn": ARNS["jobs"], "Events": ["s3:ObjectCreated:*"]}]},
    )
    s3.create_bucket(Bucket="live")
    s3.put_bucket_notification_configuration(
        Bucket="live",
        NotificationConfiguration={"QueueConfigurations": [
            {"QueueArn": ARNS["bus"], "Events": ["s3:ObjectCreated:*"]}]},
    )
    redis.stop()
    n = 300
    for i in range(n):
        s3.put_object(Bucket="backlog", Key=f"v{i:04}", Body=b"x")
    s3.put_object(Bucket="live", Key="now.mp4", Body=b"x")
    c = Counts(redis, nats, pg)
    bus = wait_until(lambda: c.bus(), timeout=30, what="the NATS event behind the Redis backlog")
    assert [record_of(e)["s3"]["object"]["key"] for e in bus] == ["now.mp4"]
    assert targets(srv)[ARNS["jobs"]]["pending"] == n
    redis.start()
    jobs = wait_until(lambda: (lambda j: j if len(j) >= n else None)(c.jobs()), what=f"{n} Redis jobs")
    time.sleep(0.5)
    assert [record_of(e)["s3"]["object"]["key"] for e in c.jobs()] == [f"v{i:04}" for i in range(n)]
    assert len(jobs) == n


def test_a_target_that_hangs_does_not_delay_the_others(server_factory, stack):
    """A webhook whose host takes the connection but never answers: each
    attempt waits for its timeout (10 s), and only that target's events wait."""
    redis, nats, pg = stack
    hang = socket.socket()
    hang.bind(("127.0.0.1", 0))
    hang.listen(64)  # never accepted: the kernel completes the handshakes, nobody answers
    try:
        env = almacen_env(redis, nats, pg)
        env.update({"MINIO_NOTIFY_WEBHOOK_ENABLE_SLOW": "on",
                    "MINIO_NOTIFY_WEBHOOK_ENDPOINT_SLOW": f"http://127.0.0.1:{hang.getsockname()[1]}/"})
        srv = server_factory(extra_env=env)
        s3 = srv.client()
        s3.create_bucket(Bucket="mixed")
        s3.put_bucket_notification_configuration(
            Bucket="mixed",
            NotificationConfiguration={"QueueConfigurations": [
                {"QueueArn": "arn:minio:sqs::slow:webhook", "Events": ["s3:ObjectCreated:*"]},
                {"QueueArn": ARNS["jobs"], "Events": ["s3:ObjectCreated:*"]}]},
        )
        c = Counts(redis, nats, pg)
        start = time.monotonic()
        for i in range(3):
            s3.put_object(Bucket="mixed", Key=f"k{i}", Body=b"x")
            wait_until(lambda: len(c.jobs()) > i, timeout=5, what=f"Redis job {i} while the webhook hangs")
        assert time.monotonic() - start < 5
        assert targets(srv)["arn:minio:sqs::slow:webhook"]["pending"] == 3
    finally:
        hang.close()
