"""Prometheus metrics with MinIO's names: bearer-token auth (tokens from
`almacen admin prometheus token`), and numbers that move with requests."""

import re
import uuid

import requests

from conftest import error_code  # noqa: F401  (shared helpers live there)


def token(server, access_key=None, secret_key=None):
    proc = server.admin("prometheus", "token", "srv", "--raw", access_key=access_key, secret_key=secret_key)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def scrape(server, tok=None, path="/minio/v2/metrics/cluster"):
    headers = {"Authorization": f"Bearer {tok}"} if tok else {}
    return requests.get(server.endpoint + path, headers=headers, timeout=30)


def value(text, name, **labels):
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pat = re.compile(rf"^{re.escape(name)}(\{{[^}}]*\}})? ([0-9.e+-]+)$", re.M)
    for m in pat.finditer(text):
        if not want or (m.group(1) and all(f'{k}="{v}"' in m.group(1) for k, v in labels.items())):
            return float(m.group(2))
    return None


def test_scrape_needs_a_valid_token(server):
    assert scrape(server).status_code == 403
    assert scrape(server, "not-a-token").status_code == 403
    good = token(server)
    r = scrape(server, good)
    assert r.status_code == 200, r.text
    assert "minio_s3_requests_total" in r.text or "minio_node_disk_total_bytes" in r.text
    for path in ("/minio/v2/metrics/node", "/metrics"):
        assert scrape(server, good, path).status_code == 200


def test_numbers_move_with_requests(server, s3, bucket):
    tok = token(server)
    before = scrape(server, tok).text
    puts_before = value(before, "minio_s3_requests_total", api="PutObject") or 0
    s3.put_object(Bucket=bucket, Key="m1", Body=b"x" * 1000)
    s3.put_object(Bucket=bucket, Key="m2", Body=b"y" * 500)
    try:
        s3.get_object(Bucket=bucket, Key="missing")
    except Exception:
        pass
    after = scrape(server, tok).text
    assert value(after, "minio_s3_requests_total", api="PutObject") >= puts_before + 2
    assert value(after, "minio_s3_requests_4xx_errors_total", api="GetObject") >= 1
    assert value(after, "minio_bucket_usage_total_bytes", bucket=bucket) == 1500
    assert value(after, "minio_bucket_usage_object_total", bucket=bucket) == 2
    assert value(after, "minio_node_disk_total_bytes") > 0
    assert value(after, "minio_s3_traffic_received_bytes_total") >= 1500
    assert 'minio_s3_requests_ttfb_seconds_bucket{le="3.0",api="PutObject"}' in after or \
        'minio_s3_requests_ttfb_seconds_bucket{api="PutObject",le="3.0"}' in after


def test_who_may_scrape(server):
    def user_with(policy):
        name = "m" + uuid.uuid4().hex[:10]
        secret = "s" + uuid.uuid4().hex[:15]
        assert server.admin("user", "add", "srv", name, secret).returncode == 0
        assert server.admin("policy", "attach", "srv", policy, "--user", name).returncode == 0
        return name, secret

    for policy, ok in (("readwrite", False), ("diagnostics", True), ("consoleAdmin", True)):
        ak, sk = user_with(policy)
        r = scrape(server, token(server, ak, sk))
        assert (r.status_code == 200) == ok, (policy, r.status_code)


def test_public_metrics(server_factory):
    srv = server_factory(extra_env={"MINIO_PROMETHEUS_AUTH_TYPE": "public"})
    assert scrape(srv).status_code == 200


def test_examples_name_only_exported_metrics(server, s3, bucket):
    """examples/ (Grafana dashboard, alert rules) only query metrics we export."""
    import json
    import pathlib

    import yaml

    s3.put_object(Bucket=bucket, Key="x", Body=b"x")
    try:
        s3.get_object(Bucket=bucket, Key="nope")
    except Exception:
        pass
    text = scrape(server, token(server)).text
    # Every declared family counts, sampled yet or not (a counter with no 5xx yet has no sample).
    exported = set()
    for name, kind in re.findall(r"^# TYPE ([a-z0-9_]+) ([a-z]+)$", text, re.M):
        exported |= {"counter": {name + "_total"}, "histogram": {name + "_bucket", name + "_sum", name + "_count"}}.get(kind, {name})
    root = pathlib.Path(__file__).resolve().parent.parent.parent / "examples"
    exprs = [t["expr"] for p in json.loads((root / "grafana-dashboard.json").read_text())["panels"] for t in p["targets"]]
    exprs += [r["expr"] for g in yaml.safe_load((root / "alerts.yml").read_text())["groups"] for r in g["rules"]]
    yaml.safe_load((root / "prometheus.yml").read_text())
    # Families with no sample yet are not printed; a healthy test server has had no 5xx.
    exported.add("minio_s3_requests_5xx_errors_total")
    names = {n for e in exprs for n in re.findall(r"\b((?:minio|almacen)_[a-z0-9_]+)", e)}
    assert names and names <= exported, names - exported
