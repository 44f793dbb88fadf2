"""pytest harness for the almacen boto3 integration tests.

Starts the real ``almacen`` binary (``almacen server DATA_DIR --address
127.0.0.1:0``), parses the ``API: http://127.0.0.1:PORT`` line it prints on
stdout, waits for ``/minio/health/live`` and hands out boto3 clients.

Binary lookup order: ``$ALMACEN_BIN``, ``<repo>/target/debug/almacen``,
``<repo>/target/release/almacen``.
"""

from __future__ import annotations

import hashlib
import os
import queue
import re
import shutil
import signal
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

REPO_ROOT = Path(__file__).resolve().parent.parent.parent

ACCESS_KEY = "testadmin"
SECRET_KEY = "testsecret123"
REGION = "us-east-1"

STARTUP_TIMEOUT = 20.0  # seconds, hard upper bound for a server start
STOP_TIMEOUT = 15.0  # seconds to wait after SIGTERM before SIGKILL
TEST_TIMEOUT = 300  # seconds, per-test watchdog (SIGALRM)

API_LINE = re.compile(r"API:\s*(https?://\S+)")


def find_binary() -> str:
    env = os.environ.get("ALMACEN_BIN")
    if env:
        return env
    target = Path(os.environ.get("CARGO_TARGET_DIR") or REPO_ROOT / "target")
    for profile in ("debug", "release"):
        candidate = target / profile / "almacen"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    pytest.exit(
        "almacen binary not found: set ALMACEN_BIN or build target/debug/almacen",
        returncode=2,
    )


class ServerStartError(RuntimeError):
    pass


def pg_database(key: str) -> str:
    """The URL of a database on ``ALMACEN_TEST_PG_URL`` reserved for
    ``key`` (created on first use)."""
    import hashlib

    base = os.environ.get("ALMACEN_TEST_PG_URL")
    if not base:
        pytest.fail("ALMACEN_TEST_PG_URL is not set: run under scripts/with-postgres", pytrace=False)
    name = "almacen_" + hashlib.sha1(key.encode()).hexdigest()[:20]
    if name not in _PG_CREATED:
        out = subprocess.run(["psql", base, "-qAt", "-c", f"SELECT 1 FROM pg_database WHERE datname = '{name}'"],
                             capture_output=True, text=True, timeout=30)
        if out.returncode != 0:
            raise RuntimeError(f"psql failed: {out.stderr}")
        if out.stdout.strip() != "1":
            subprocess.run(["psql", base, "-q", "-c", f"CREATE DATABASE {name}"],
                           check=True, capture_output=True, timeout=60)
        _PG_CREATED.add(name)
    return base.rsplit("/", 1)[0] + "/" + name


_PG_CREATED: set[str] = set()


def nginx_main_config(folder: str, http_block: str) -> str:
    """A whole nginx.conf that runs in the foreground as this user, with
    every file it writes in ``folder``, around ``http_block`` (what would go
    in /etc/nginx/conf.d/)."""
    return f"""
daemon off;
pid {folder}/nginx.pid;
error_log {folder}/error.log;
events {{}}
http {{
    access_log off;
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
{http_block}
}}
"""


def embedded_only(reason: str):
    """Marks a test that needs the embedded metadata store (it reads or
    damages meta.db itself, or counts its files): skipped in the
    PostgreSQL run of the suite."""
    return pytest.mark.skipif(os.environ.get("ALMACEN_TEST_META") == "postgres", reason=reason)


class AlmacenServer:
    """One almacen process on one data directory.

    ``start()`` / ``stop()`` can be called repeatedly on the same data dir
    (the port changes on every start because port 0 is used).
    """

    def __init__(
        self,
        data_dir: str | None = None,
        access_key: str = ACCESS_KEY,
        secret_key: str = SECRET_KEY,
        binary: str | None = None,
        extra_env: dict | None = None,
        server_args: list[str] | None = None,
        ca_file: str | None = None,
    ):
        self.binary = binary or find_binary()
        # The command line after the binary; default `server DATA --address
        # 127.0.0.1:0`. Callers that pass their own (the compose-file test)
        # must make the server listen on 127.0.0.1:0 some other way.
        self.server_args = server_args
        # The authority an HTTPS server's certificate chains to (clients,
        # the health check and the admin CLI trust it).
        self.ca_file = ca_file
        self.extra_env = dict(extra_env or {})
        self._own_data_dir = data_dir is None
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="almacen-data-")
        self.access_key = access_key
        self.secret_key = secret_key
        self.region = REGION
        self.endpoint: str | None = None
        self.proc: subprocess.Popen | None = None
        self.log_dir = tempfile.mkdtemp(prefix="almacen-log-")
        self._starts = 0
        self.stdout_lines: list[str] = []
        self.last_returncode: int | None = None

    # -- metadata backend ---------------------------------------------------

    def meta_url(self) -> str | None:
        """With ``ALMACEN_TEST_META=postgres`` (and ``ALMACEN_TEST_PG_URL``
        from scripts/with-postgres) every server keeps its metadata in a
        database of its own, named after its data folder so that a restart
        on the same folder finds it again."""
        if os.environ.get("ALMACEN_TEST_META") != "postgres":
            return None
        return pg_database(self.data_dir)

    # -- process management -------------------------------------------------

    def start(self, timeout: float = STARTUP_TIMEOUT) -> "AlmacenServer":
        if self.proc is not None and self.proc.poll() is None:
            raise RuntimeError("server already running")
        self._starts += 1
        self.stderr_path = os.path.join(self.log_dir, f"stderr-{self._starts}.log")
        env = dict(os.environ)
        env["MINIO_ROOT_USER"] = self.access_key
        env["MINIO_ROOT_PASSWORD"] = self.secret_key
        env.update(self.extra_env)
        env.setdefault("RUST_BACKTRACE", "1")
        meta_url = self.meta_url()
        if meta_url and "ALMACEN_META_URL" not in env:
            env["ALMACEN_META_URL"] = meta_url
        stderr_file = open(self.stderr_path, "wb")
        try:
            self.proc = subprocess.Popen(
                [self.binary, *(self.server_args or ["server", self.data_dir, "--address", "127.0.0.1:0"])],
                stdout=subprocess.PIPE,
                stderr=stderr_file,
                stdin=subprocess.DEVNULL,
                env=env,
                bufsize=0,
            )
        finally:
            stderr_file.close()

        lines: "queue.Queue[str | None]" = queue.Queue()
        proc = self.proc

        def pump() -> None:
            # Keep draining stdout for the whole life of the process so the
            # server can never block on a full pipe.
            assert proc.stdout is not None
            for raw in iter(proc.stdout.readline, b""):
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                self.stdout_lines.append(line)
                lines.put(line)
            lines.put(None)

        threading.Thread(target=pump, name="almacen-stdout", daemon=True).start()

        deadline = time.monotonic() + timeout
        endpoint = None
        while endpoint is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._abort_start("timed out waiting for the 'API: http://...' line")
            try:
                line = lines.get(timeout=min(remaining, 0.5))
            except queue.Empty:
                if self.proc.poll() is not None:
                    self._abort_start("process exited before printing the API line")
                continue
            if line is None:
                self._abort_start("stdout closed before the API line")
            m = API_LINE.search(line)
            if m:
                endpoint = m.group(1).rstrip("/")
        self.endpoint = endpoint

        # Health check, bounded by the same deadline.
        url = self.endpoint + "/minio/health/live"
        last_err = None
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._abort_start(f"health check {url} never returned 200 ({last_err})")
            if self.proc.poll() is not None:
                self._abort_start("process exited during health check")
            try:
                ctx = ssl.create_default_context(cafile=self.ca_file) if self.ca_file else None
                with urllib.request.urlopen(url, timeout=min(remaining, 2.0), context=ctx) as resp:
                    if resp.status == 200:
                        break
                    last_err = f"status {resp.status}"
            except urllib.error.HTTPError as e:
                last_err = f"status {e.code}"
            except (urllib.error.URLError, OSError) as e:
                last_err = repr(e)
            time.sleep(0.1)
        return self

    def _abort_start(self, why: str) -> None:
        self._kill()
        raise ServerStartError(f"almacen failed to start: {why}\n{self.logs()}")

    def logs(self, tail: int = 4000) -> str:
        out = "\n".join(self.stdout_lines)
        try:
            with open(self.stderr_path, "rb") as f:
                err = f.read().decode("utf-8", "replace")
        except OSError:
            err = ""
        return f"--- stdout ---\n{out[-tail:]}\n--- stderr ---\n{err[-tail:]}"

    def _kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                pass
        if self.proc is not None:
            self.last_returncode = self.proc.returncode

    def stop(self, sig: int = signal.SIGTERM, timeout: float = STOP_TIMEOUT) -> int | None:
        """Send ``sig`` (SIGTERM by default) and wait; SIGKILL after ``timeout``.

        Returns the exit code (negative = killed by signal), or None if the
        process had to be SIGKILLed.
        """
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._kill()
                self.last_returncode = None
                self.proc = None
                return None
        self.last_returncode = self.proc.returncode
        self.proc = None
        return self.last_returncode

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def cleanup(self) -> None:
        self.stop()
        if self._own_data_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)
        shutil.rmtree(self.log_dir, ignore_errors=True)

    # -- admin CLI ----------------------------------------------------------

    def admin(self, *args: str, access_key: str | None = None, secret_key: str | None = None):
        """Runs ``almacen admin --json ARGS`` against this server, where the
        alias ``srv`` names it with the given keys (root by default).

        Returns the CompletedProcess; ``.json()`` is not provided, callers
        parse ``stdout`` themselves.
        """
        ak = access_key if access_key is not None else self.access_key
        sk = secret_key if secret_key is not None else self.secret_key
        scheme, host = self.endpoint.split("://", 1)
        env = dict(os.environ)
        if self.ca_file:
            env["SSL_CERT_FILE"] = self.ca_file
        env["ALMACEN_HOST_srv"] = f"{scheme}://{urllib.parse.quote(ak, safe='')}:{urllib.parse.quote(sk, safe='')}@{host}"
        env["ALMACEN_CONFIG_DIR"] = self.log_dir
        return subprocess.run(
            [self.binary, "admin", "--json", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )

    # -- clients ------------------------------------------------------------

    def client(
        self,
        access_key: str | None = None,
        secret_key: str | None = None,
        checksum_transport: str = "header",
        **config_kwargs,
    ):
        """A boto3 S3 client for this server.

        Path-style addressing, us-east-1, SigV4 and botocore's default
        checksum behaviour (``when_supported``).  Retries are disabled so that
        a failing server is not masked.

        ``checksum_transport='trailer'`` makes botocore send flexible
        checksums the way it does over HTTPS: ``Content-Encoding:
        aws-chunked``, ``x-amz-content-sha256:
        STREAMING-UNSIGNED-PAYLOAD-TRAILER`` and the checksum as an HTTP
        trailer.  (Over plain HTTP botocore would otherwise put the checksum in
        a header and sign the payload.)
        """
        cfg = dict(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            retries={"max_attempts": 1, "mode": "standard"},
            connect_timeout=10,
            read_timeout=120,
            max_pool_connections=32,
        )
        cfg.update(config_kwargs)
        session = boto3.session.Session()
        client = session.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=access_key if access_key is not None else self.access_key,
            aws_secret_access_key=secret_key if secret_key is not None else self.secret_key,
            region_name=self.region,
            config=Config(**cfg),
            verify=self.ca_file if self.ca_file else None,
        )
        if checksum_transport == "trailer":
            client.meta.events.register("before-call.s3", _force_trailer_checksum)
        elif checksum_transport != "header":
            raise ValueError(checksum_transport)
        return client


def _force_trailer_checksum(params, **kwargs):
    algorithm = params.get("context", {}).get("checksum", {}).get("request_algorithm")
    if isinstance(algorithm, dict) and algorithm.get("in") == "header":
        algorithm["in"] = "trailer"


# ---------------------------------------------------------------------------
# fixtures
# ---------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _per_test_watchdog():
    """Fail (instead of hang) any test running longer than TEST_TIMEOUT."""

    def on_alarm(signum, frame):
        raise TimeoutError(f"test exceeded {TEST_TIMEOUT}s watchdog")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(TEST_TIMEOUT)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture(scope="session")
def server():
    srv = AlmacenServer()
    try:
        srv.start()
    except ServerStartError:
        srv.cleanup()
        raise
    yield srv
    srv.cleanup()


@pytest.fixture(scope="session")
def s3(server):
    """Shared default client (header checksums)."""
    return server.client()


def unique_bucket_name(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:20]}"


def empty_and_delete_bucket(client, name: str) -> None:
    try:
        # Every version and delete marker (a never-versioned bucket lists its
        # objects as "null" versions).
        for _ in range(1000):
            page = client.list_object_versions(Bucket=name, MaxKeys=1000)
            items = [
                {"Key": v["Key"], "VersionId": v["VersionId"]}
                for v in page.get("Versions", []) + page.get("DeleteMarkers", [])
            ]
            if not items:
                break
            client.delete_objects(Bucket=name, Delete={"Objects": items, "Quiet": True})
        # Uploads: loop instead of paginating, the set shrinks as we abort.
        for _ in range(100):
            resp = client.list_multipart_uploads(Bucket=name)
            uploads = resp.get("Uploads", [])
            if not uploads:
                break
            for up in uploads:
                try:
                    client.abort_multipart_upload(
                        Bucket=name, Key=up["Key"], UploadId=up["UploadId"]
                    )
                except ClientError:
                    pass
        client.delete_bucket(Bucket=name)
    except ClientError as e:
        if e.response["Error"]["Code"] not in ("NoSuchBucket", "404"):
            raise


@pytest.fixture
def make_bucket(server, s3):
    """Factory: ``make_bucket()`` creates a uniquely named bucket, cleaned up on teardown."""
    created: list[str] = []

    def factory(prefix: str = "t") -> str:
        name = unique_bucket_name(prefix)
        s3.create_bucket(Bucket=name)
        created.append(name)
        return name

    yield factory
    for name in created:
        empty_and_delete_bucket(s3, name)


@pytest.fixture
def bucket(make_bucket) -> str:
    return make_bucket()


@pytest.fixture
def server_factory():
    """Factory for extra, independent servers (e.g. restart tests).

    ``server_factory(data_dir=None)`` returns a *started* AlmacenServer; all
    servers created through it are stopped (and their own temp dirs removed)
    at teardown.
    """
    servers: list[AlmacenServer] = []

    def factory(data_dir: str | None = None, **kwargs) -> AlmacenServer:
        srv = AlmacenServer(data_dir=data_dir, **kwargs)
        servers.append(srv)
        srv.start()
        return srv

    yield factory
    for srv in servers:
        srv.cleanup()


# ---------------------------------------------------------------------------
# helpers shared by the test modules
# ---------------------------------------------------------------------------


def md5_etag(data: bytes) -> str:
    return '"' + hashlib.md5(data).hexdigest() + '"'


def multipart_etag(parts: list[bytes]) -> str:
    digests = b"".join(hashlib.md5(p).digest() for p in parts)
    return '"' + hashlib.md5(digests).hexdigest() + f'-{len(parts)}"'


def error_code(exc: ClientError) -> str:
    return exc.response["Error"]["Code"]


def http_status(exc_or_resp) -> int:
    resp = exc_or_resp.response if isinstance(exc_or_resp, ClientError) else exc_or_resp
    return resp["ResponseMetadata"]["HTTPStatusCode"]


def headers_of(exc_or_resp) -> dict:
    resp = exc_or_resp.response if isinstance(exc_or_resp, ClientError) else exc_or_resp
    return resp["ResponseMetadata"]["HTTPHeaders"]
