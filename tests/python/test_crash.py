"""Crash-consistency test for almacen.

Starts the real server binary on a fresh data dir, runs concurrent writers
(single PUTs of random sizes to a small hot key space and to unique keys, plus
multipart uploads), SIGKILLs the server while requests are in flight, restarts
it on the same data dir and checks that:

* the server comes back up within a bounded time;
* every acknowledged write is durable: the key exists and holds a body that is
  allowed by the write history (see ``Ledger.allowed``), never an older
  acknowledged body that a later acknowledged write superseded;
* no object is partial or corrupt (GET body sha256 equals some written body,
  Content-Length and the listed size equal the number of bytes returned);
* the listing shows no key that was never written, and lists every key that
  GET finds (and vice versa);
* temporary files in the data dir do not pile up across crashes.

The cycle (load -> kill -9 -> restart -> verify) is repeated CYCLES times on
the same data dir.  Self-contained: it does not rely on conftest.py fixtures.

Environment:
  ALMACEN_BIN            path of the binary (default <repo>/target/debug/almacen,
                         else <repo>/target/release/almacen)
  ALMACEN_CRASH_SEED     integer seed for the key/size choices (default: random,
                         printed on failure)
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import os
import random
import re
import signal
import subprocess
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import botocore.config
import botocore.exceptions
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
ACCESS_KEY = "crashtestadmin"
SECRET_KEY = "crashtestsecret-0123456789"
REGION = "us-east-1"
BUCKET = "crash-bucket"

CYCLES = 3
WRITER_THREADS = 6  # single-PUT writers
MPU_THREADS = 2  # multipart writers
LOAD_MIN_S = 1.5
LOAD_MAX_S = 3.0
HOT_KEYS = [f"hot/k{i:02d}" for i in range(12)]
KiB = 1024
MiB = 1024 * 1024
STARTUP_TIMEOUT_S = 30.0
JOIN_TIMEOUT_S = 30.0
ABSENT = "<absent>"

# statuses of a write record
INFLIGHT = "inflight"  # request being sent (only while the load runs)
ACKED = "acked"  # 200 received: must be durable
UNKNOWN = "unknown"  # sent, no answer (connection died / killed): may or may not apply
ERROR = "error"  # server answered with an error; treated as "may have applied"
OBSERVED = "observed"  # state read back after a restart, with no writes running
INITIAL = "initial"  # the key did not exist before the test


def _binary() -> Path:
    env = os.environ.get("ALMACEN_BIN")
    if env:
        return Path(env)
    target = Path(os.environ.get("CARGO_TARGET_DIR") or REPO_ROOT / "target")
    debug = target / "debug" / "almacen"
    release = target / "release" / "almacen"
    return debug if debug.exists() or not release.exists() else release


# --------------------------------------------------------------------------
# server process helpers
# --------------------------------------------------------------------------

_API_RE = re.compile(r"API:\s*(http://[0-9.]+:\d+)")
_ANSI_RE = re.compile(r"\x1b\[[0-9;]*m")


class Server:
    """One almacen process on a data dir; SIGKILL-able."""

    def __init__(self, data_dir: Path, log_path: Path):
        self.data_dir = data_dir
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None
        self.endpoint: str | None = None
        self._ready = threading.Event()
        self._reader: threading.Thread | None = None

    def start(self) -> str:
        binary = _binary()
        env = dict(os.environ)
        env["MINIO_ROOT_USER"] = ACCESS_KEY
        env["MINIO_ROOT_PASSWORD"] = SECRET_KEY
        self._ready = threading.Event()
        self.endpoint = None
        log = open(self.log_path, "ab")
        log.write(f"\n===== start {time.strftime('%H:%M:%S')} =====\n".encode())
        log.flush()
        self.proc = subprocess.Popen(
            [str(binary), "server", str(self.data_dir), "--address", "127.0.0.1:0"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
        )
        proc = self.proc

        def read_output():
            try:
                for raw in proc.stdout:
                    log.write(raw)
                    log.flush()
                    if not self._ready.is_set():
                        m = _API_RE.search(_ANSI_RE.sub("", raw.decode("utf-8", "replace")))
                        if m:
                            self.endpoint = m.group(1)
                            self._ready.set()
            finally:
                log.close()

        self._reader = threading.Thread(target=read_output, daemon=True)
        self._reader.start()

        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not self._ready.wait(0.05):
            if proc.poll() is not None:
                raise AssertionError(
                    f"server exited with code {proc.returncode} before listening\n{self.log_tail()}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"server did not print 'API: http://...' within {STARTUP_TIMEOUT_S}s\n{self.log_tail()}"
                )
        # health check, bounded
        url = f"{self.endpoint}/minio/health/live"
        last = None
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(url, timeout=2) as r:
                    if r.status == 200:
                        return self.endpoint
                    last = f"status {r.status}"
            except Exception as e:  # noqa: BLE001
                last = repr(e)
            if proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"server not healthy at {url}: {last}\n{self.log_tail()}")

    def kill9(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait(timeout=15)
        if self._reader is not None:
            self._reader.join(timeout=5)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, n: int = 40) -> str:
        try:
            lines = self.log_path.read_text("utf-8", "replace").splitlines()
        except OSError:
            return ""
        return "--- server log tail ---\n" + "\n".join(lines[-n:])


def _client(endpoint: str, read_timeout: float = 20.0):
    cfg = botocore.config.Config(
        region_name=REGION,
        signature_version="s3v4",
        s3={"addressing_style": "path"},
        connect_timeout=3,
        read_timeout=read_timeout,
        retries={"max_attempts": 1, "mode": "standard"},
        max_pool_connections=8,
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    session = boto3.session.Session(
        aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY, region_name=REGION
    )
    client = session.client("s3", endpoint_url=endpoint, config=cfg)
    client.meta.events.register("before-send.s3", _strip_expect)
    return client


def _strip_expect(request, **kwargs):
    """Drop ``Expect: 100-continue`` (not signed, so this is safe).

    botocore bug (boto/botocore#3755): after a zero-length PUT with Expect the
    server answers without 100 Continue and botocore keeps a stale status
    tuple on the pooled connection, so the *next* response on it is parsed
    against the old status line: a stall until read_timeout, or a request
    reported as acknowledged with the previous request's status.  Either would
    corrupt the ack bookkeeping of this test."""
    request.headers.pop("Expect", None)


# --------------------------------------------------------------------------
# write history
# --------------------------------------------------------------------------


@dataclass
class Write:
    key: str
    sha: str
    size: int
    start: float
    end: float | None
    status: str
    kind: str
    cycle: int
    note: str = ""


@dataclass
class Ledger:
    writes: dict[str, list[Write]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def begin(self, key: str, sha: str, size: int, kind: str, cycle: int) -> Write:
        w = Write(key, sha, size, time.monotonic(), None, INFLIGHT, kind, cycle)
        with self.lock:
            if key not in self.writes:
                self.writes[key] = [Write(key, ABSENT, 0, 0.0, 0.0, INITIAL, "initial", 0)]
            self.writes[key].append(w)
        return w

    def observe(self, key: str, sha: str, size: int, cycle: int) -> None:
        t = time.monotonic()
        with self.lock:
            if key not in self.writes:
                self.writes[key] = [Write(key, ABSENT, 0, 0.0, 0.0, INITIAL, "initial", 0)]
            self.writes[key].append(Write(key, sha, size, t, t, OBSERVED, "observed", cycle))

    def close_cycle(self, cycle: int) -> None:
        """After the server is dead and all writers joined: in-flight writes
        could have been applied at any moment up to now."""
        t = time.monotonic()
        with self.lock:
            for ws in self.writes.values():
                for w in ws:
                    if w.end is None:
                        if w.status == INFLIGHT:
                            w.status = UNKNOWN
                            w.note = "no outcome (writer stopped)"
                        w.end = t

    def allowed(self, key: str) -> tuple[set[str], list[Write]]:
        """Bodies the key may hold now (ABSENT = key missing).

        A write W may be the current content unless some *definitive* write D
        (acknowledged, or the state observed after a quiet restart) started
        after W had finished (D.start > W.end): then D is linearized after W
        and W is superseded.  Unacknowledged writes (unknown / error outcome)
        are possible but never supersede anything.
        """
        ws = self.writes.get(key, [])
        definitive = [w for w in ws if w.status in (ACKED, OBSERVED)]
        floor = max((w.start for w in definitive), default=0.0)
        cands = [w for w in ws if w.status in (ACKED, OBSERVED, UNKNOWN, ERROR, INITIAL)]
        ok = {w.sha for w in cands if w.end is not None and w.end >= floor}
        return ok, ws


# --------------------------------------------------------------------------
# load generation
# --------------------------------------------------------------------------


class Load:
    def __init__(self, endpoint: str, ledger: Ledger, cycle: int, seed: int):
        self.endpoint = endpoint
        self.ledger = ledger
        self.cycle = cycle
        self.seed = seed
        self.killed = threading.Event()
        self.kill_time: float | None = None
        self.unexpected: list[str] = []
        self.stats = {"put_ack": 0, "mpu_ack": 0, "unknown": 0, "error": 0}
        self._lock = threading.Lock()

    # --- outcome bookkeeping -------------------------------------------------
    def _note_unexpected(self, what: str) -> None:
        with self._lock:
            if len(self.unexpected) < 50:
                self.unexpected.append(what)

    def _stat(self, name: str) -> None:
        with self._lock:
            self.stats[name] += 1

    def _failure(self, w: Write | None, op: str, key: str, exc: BaseException) -> None:
        """Classify a failed request.  Before the kill, any failure is a server bug."""
        now = time.monotonic()
        before_kill = not self.killed.is_set()
        if isinstance(exc, botocore.exceptions.ClientError):
            status = ERROR
            err = exc.response.get("Error", {})
            desc = f"{err.get('Code')} (HTTP {exc.response.get('ResponseMetadata', {}).get('HTTPStatusCode')}): {err.get('Message')}"
            if w is not None:
                w.end = now
            self._stat("error")
        else:
            # Connection-level failures (reset, refused, timeout) are all
            # "unknown": even "Could not connect" can be raised for a request
            # whose bytes the server had already received and applied.
            status = UNKNOWN  # end stays None -> set at close_cycle
            desc = f"{type(exc).__name__}: {exc}"
            self._stat("unknown")
        if w is not None:
            w.status = status
            w.note = desc
        if before_kill:
            self._note_unexpected(f"cycle {self.cycle}: {op} {key!r} failed before the kill: {desc}")

    # --- writers ------------------------------------------------------------
    def _size(self, rng: random.Random) -> int:
        r = rng.random()
        if r < 0.05:
            return rng.randint(1 * MiB, 3 * MiB)
        if r < 0.15:
            return rng.choice([0, 1, 2, rng.randint(0, 4 * KiB)])
        return rng.randint(0, 300 * KiB)

    def put_writer(self, tid: int) -> None:
        rng = random.Random(f"{self.seed}-{self.cycle}-put-{tid}")
        s3 = _client(self.endpoint)
        n = 0
        for _ in range(100_000):  # bounded; the kill ends it much earlier
            if self.killed.is_set():
                return
            if rng.random() < 0.5:
                key = rng.choice(HOT_KEYS)
            else:
                key = f"uniq/c{self.cycle}/t{tid}/{n:05d}"
                n += 1
            body = os.urandom(self._size(rng))
            sha = hashlib.sha256(body).hexdigest()
            w = self.ledger.begin(key, sha, len(body), "put", self.cycle)
            try:
                s3.put_object(Bucket=BUCKET, Key=key, Body=body)
            except Exception as e:  # noqa: BLE001
                self._failure(w, "PUT", key, e)
                if self.killed.is_set():
                    return
                continue
            w.end = time.monotonic()
            w.status = ACKED
            self._stat("put_ack")

    def mpu_writer(self, tid: int) -> None:
        rng = random.Random(f"{self.seed}-{self.cycle}-mpu-{tid}")
        s3 = _client(self.endpoint)
        for n in range(1000):  # bounded
            if self.killed.is_set():
                return
            key = rng.choice(HOT_KEYS) if rng.random() < 0.3 else f"mpu/c{self.cycle}/t{tid}/{n:03d}"
            nparts = rng.choice([2, 3])
            parts = [os.urandom(5 * MiB) for _ in range(nparts)]
            parts.append(os.urandom(rng.randint(1, 512 * KiB)))
            h = hashlib.sha256()
            for p in parts:
                h.update(p)
            sha, size = h.hexdigest(), sum(len(p) for p in parts)
            try:
                upload_id = s3.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
                done = []
                for i, p in enumerate(parts, start=1):
                    r = s3.upload_part(Bucket=BUCKET, Key=key, UploadId=upload_id, PartNumber=i, Body=p)
                    done.append({"PartNumber": i, "ETag": r["ETag"]})
            except Exception as e:  # noqa: BLE001
                # the object cannot become visible without CompleteMultipartUpload
                self._failure(None, "multipart (create/part)", key, e)
                if self.killed.is_set():
                    return
                continue
            if self.killed.is_set():
                return
            w = self.ledger.begin(key, sha, size, "mpu", self.cycle)
            try:
                s3.complete_multipart_upload(
                    Bucket=BUCKET, Key=key, UploadId=upload_id, MultipartUpload={"Parts": done}
                )
            except Exception as e:  # noqa: BLE001
                self._failure(w, "CompleteMultipartUpload", key, e)
                if self.killed.is_set():
                    return
                continue
            w.end = time.monotonic()
            w.status = ACKED
            self._stat("mpu_ack")

    def run_and_kill(self, server: Server, load_s: float) -> None:
        threads = [
            threading.Thread(target=self.put_writer, args=(i,), daemon=True, name=f"put-{i}")
            for i in range(WRITER_THREADS)
        ] + [
            threading.Thread(target=self.mpu_writer, args=(i,), daemon=True, name=f"mpu-{i}")
            for i in range(MPU_THREADS)
        ]
        for t in threads:
            t.start()
        time.sleep(load_s)
        assert server.alive(), f"server died on its own during load\n{server.log_tail()}"
        self.kill_time = time.monotonic()
        self.killed.set()
        server.kill9()
        deadline = time.monotonic() + JOIN_TIMEOUT_S
        for t in threads:
            t.join(timeout=max(0.1, deadline - time.monotonic()))
        stuck = [t.name for t in threads if t.is_alive()]
        assert not stuck, f"writer threads did not stop after the kill: {stuck}"
        self.ledger.close_cycle(self.cycle)


# --------------------------------------------------------------------------
# verification
# --------------------------------------------------------------------------


def _read_key(s3, key: str):
    """-> (sha | ABSENT, nbytes, content_length_header, error_text)"""
    try:
        r = s3.get_object(Bucket=BUCKET, Key=key)
    except botocore.exceptions.ClientError as e:
        code = e.response.get("Error", {}).get("Code")
        status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in ("NoSuchKey", "404") or status == 404:
            return ABSENT, 0, None, None
        return None, 0, None, f"GET error {code} (HTTP {status}): {e}"
    except Exception as e:  # noqa: BLE001
        return None, 0, None, f"GET failed: {type(e).__name__}: {e}"
    h = hashlib.sha256()
    n = 0
    try:
        for chunk in r["Body"].iter_chunks(1 * MiB):
            h.update(chunk)
            n += len(chunk)
    except Exception as e:  # noqa: BLE001  (IncompleteReadError = partial object)
        return None, n, r.get("ContentLength"), f"GET body read failed after {n} bytes: {type(e).__name__}: {e}"
    return h.hexdigest(), n, r.get("ContentLength"), None


def _describe(sha: str, ws: list[Write]) -> str:
    matches = [w for w in ws if w.sha == sha]
    if not matches:
        return "matches NO body ever written (corrupt or partial object)"
    return "matches " + ", ".join(
        f"[{w.kind} cycle {w.cycle} {w.status} start={w.start:.3f} end={w.end if w.end is None else round(w.end, 3)}]"
        for w in matches
    )


def _history(ws: list[Write], limit: int = 12) -> str:
    lines = [
        f"    {w.kind:8} c{w.cycle} {w.status:8} size={w.size:>9} sha={w.sha[:12]} "
        f"start={w.start:.3f} end={'-' if w.end is None else f'{w.end:.3f}'} {w.note[:80]}"
        for w in ws[-limit:]
    ]
    return "\n".join(lines)


def verify(endpoint: str, ledger: Ledger, cycle: int) -> list[str]:
    failures: list[str] = []
    s3 = _client(endpoint, read_timeout=30)
    try:
        s3.head_bucket(Bucket=BUCKET)
    except Exception as e:  # noqa: BLE001
        return [f"after restart {cycle}: bucket {BUCKET} is gone or unreadable: {e}"]

    listed: dict[str, int] = {}
    token = None
    for _ in range(10_000):  # bounded pagination
        kw = {"Bucket": BUCKET, "MaxKeys": 1000}
        if token:
            kw["ContinuationToken"] = token
        page = s3.list_objects_v2(**kw)
        for obj in page.get("Contents", []):
            if obj["Key"] in listed:
                failures.append(f"listing returned {obj['Key']!r} twice")
            listed[obj["Key"]] = obj["Size"]
        if not page.get("IsTruncated"):
            break
        token = page.get("NextContinuationToken")
        if not token:
            failures.append("listing truncated without NextContinuationToken")
            break

    with ledger.lock:
        known = set(ledger.writes)
    keys = sorted(known | set(listed))

    local = threading.local()

    def read(key):
        if not hasattr(local, "s3"):
            local.s3 = _client(endpoint, read_timeout=30)
        return key, _read_key(local.s3, key)

    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as ex:
        results = dict(ex.map(read, keys))

    for key in keys:
        sha, nbytes, clen, err = results[key]
        ok, ws = ledger.allowed(key)
        if key not in known:
            failures.append(f"listing shows {key!r} (size {listed[key]}) that was never written")
            continue
        if err is not None:
            failures.append(f"{key!r}: {err}")
            continue
        if sha == ABSENT:
            if key in listed:
                failures.append(f"{key!r} is listed (size {listed[key]}) but GET says NoSuchKey")
            if ABSENT not in ok:
                acked = [w for w in ws if w.status == ACKED]
                failures.append(
                    f"{key!r}: LOST acknowledged write(s) - key missing after restart {cycle}; "
                    f"{len(acked)} acked write(s); history:\n{_history(ws)}"
                )
            ledger.observe(key, ABSENT, 0, cycle)
            continue
        if key not in listed:
            failures.append(f"{key!r}: GET returns {nbytes} bytes but the key is not in the listing")
        elif listed[key] != nbytes:
            failures.append(f"{key!r}: listed size {listed[key]} != {nbytes} bytes returned by GET")
        if clen is not None and clen != nbytes:
            failures.append(f"{key!r}: Content-Length {clen} != {nbytes} bytes returned by GET")
        if sha not in ok:
            failures.append(
                f"{key!r}: content after restart {cycle} not allowed ({nbytes} bytes, sha {sha[:12]}): "
                f"{_describe(sha, ws)}; history:\n{_history(ws)}"
            )
        ledger.observe(key, sha, nbytes, cycle)
    return failures


# --------------------------------------------------------------------------
# temporary files
# --------------------------------------------------------------------------

_TMP_RE = re.compile(r"(^|[._-])(tmp|temp|partial|incoming)([._-]|\d|$)|\.swp$|~$", re.IGNORECASE)


def _temp_files(data_dir: Path) -> set[str]:
    """Files whose own name or any parent dir name looks temporary."""
    out = set()
    for root, _dirs, files in os.walk(data_dir):
        rel_root = os.path.relpath(root, data_dir)
        dir_tmp = any(_TMP_RE.search(p) for p in Path(rel_root).parts if p != ".")
        for f in files:
            if dir_tmp or _TMP_RE.search(f):
                out.add(os.path.join(rel_root, f))
    return out


def _abort_open_uploads(endpoint: str) -> None:
    """Abort multipart uploads left open by the kills (they legitimately keep
    their parts on disk until aborted).  Best effort."""
    s3 = _client(endpoint)
    try:
        for _ in range(100):
            r = s3.list_multipart_uploads(Bucket=BUCKET)
            ups = r.get("Uploads", [])
            for u in ups:
                s3.abort_multipart_upload(Bucket=BUCKET, Key=u["Key"], UploadId=u["UploadId"])
            if not r.get("IsTruncated") or not ups:
                break
    except Exception:  # noqa: BLE001
        pass


# --------------------------------------------------------------------------
# the test
# --------------------------------------------------------------------------


def test_crash_consistency_kill9(tmp_path):
    binary = _binary()
    if not binary.exists():
        pytest.fail(f"almacen binary not found at {binary} (build it or set ALMACEN_BIN)")
    seed = int(os.environ.get("ALMACEN_CRASH_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    server = Server(data_dir, tmp_path / "server.log")
    ledger = Ledger()
    temp_counts: list[int] = []
    summary: list[str] = []
    t0 = time.monotonic()

    def fail(msg: str) -> None:
        pytest.fail(f"[seed={seed}] {msg}\n" + "\n".join(summary) + f"\n{server.log_tail()}", pytrace=False)

    try:
        endpoint = server.start()
        s3 = _client(endpoint)
        s3.create_bucket(Bucket=BUCKET)

        for cycle in range(1, CYCLES + 1):
            load = Load(endpoint, ledger, cycle, seed)
            load_s = rng.uniform(LOAD_MIN_S, LOAD_MAX_S)
            load.run_and_kill(server, load_s)
            summary.append(f"cycle {cycle}: load {load_s:.2f}s stats {load.stats}")
            if load.unexpected:
                fail("requests failed while the server was still up:\n" + "\n".join(load.unexpected))
            if load.stats["put_ack"] == 0:
                fail(f"cycle {cycle}: no PUT was acknowledged in {load_s:.2f}s")

            t_restart = time.monotonic()
            try:
                endpoint = server.start()
            except AssertionError as e:
                fail(f"server did not come back after kill -9 #{cycle}: {e}")
            summary.append(f"cycle {cycle}: restart took {time.monotonic() - t_restart:.2f}s")

            failures = verify(endpoint, ledger, cycle)
            if failures:
                more = f"\n... and {len(failures) - 25} more" if len(failures) > 25 else ""
                fail(
                    f"after kill -9 #{cycle} and restart: {len(failures)} consistency failure(s):\n"
                    + "\n".join(failures[:25])
                    + more
                )

            _abort_open_uploads(endpoint)
            temp_counts.append(len(_temp_files(data_dir)))
            summary.append(f"cycle {cycle}: verified {len(ledger.writes)} keys; temp-looking files {temp_counts[-1]}")

        # Temp files must not pile up with every crash: a strictly growing
        # count after each restart means they are never cleaned up.
        if len(temp_counts) >= 3 and all(a < b for a, b in zip(temp_counts, temp_counts[1:])):
            sample = sorted(_temp_files(data_dir))[:20]
            fail(f"temporary files grow with every crash: {temp_counts}; e.g. {sample}")
        assert time.monotonic() - t0 < 300, "test took too long"
        summary.append(f"total {time.monotonic() - t0:.1f}s, seed {seed}")
        print("\n".join(summary))
    finally:
        server.kill9()
