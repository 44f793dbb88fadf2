"""Measures the web console: paging through a folder of N objects (default
100,000) with continuation tokens, and 256 MiB up and down through the
console against boto3 straight to the S3 port. Not a test (no assertions);
numbers go to docs/benchmarks.md.

    ALMACEN_BIN=target/release/almacen python tests/python/console_bench.py 100000
"""
import concurrent.futures, os, subprocess, sys, tempfile, time, re, json
import boto3, requests
from botocore.config import Config
BIN = os.environ.get("ALMACEN_BIN", "/work/tgt5/debug/almacen")
data = tempfile.mkdtemp()
env = dict(os.environ, MINIO_ROOT_USER="benchadmin", MINIO_ROOT_PASSWORD="benchsecret1", RUST_LOG="warn")
p = subprocess.Popen([BIN, "server", data, "--address", "127.0.0.1:0", "--console-address", "127.0.0.1:0"], stdout=subprocess.PIPE, env=env, text=True)
api = con = None
for line in p.stdout:
    if line.startswith("API: "): api = line.split()[1]
    if line.startswith("Console: "): con = line.split()[1]; break
s3 = boto3.client("s3", endpoint_url=api, aws_access_key_id="benchadmin", aws_secret_access_key="benchsecret1", region_name="us-east-1", config=Config(max_pool_connections=32, retries={"max_attempts": 3}))
s3.create_bucket(Bucket="many")
N = int(sys.argv[1]) if len(sys.argv) > 1 else 100000
t = time.time()
with concurrent.futures.ThreadPoolExecutor(16) as ex:
    list(ex.map(lambda i: s3.put_object(Bucket="many", Key=f"dir/{i:06d}.txt", Body=b"x"), range(N)))
print(f"put {N} objects in {time.time()-t:.1f}s", flush=True)
s = requests.Session()
s.post(f"{con}/api/login", json={"accessKey": "benchadmin", "secretKey": "benchsecret1"}, headers={"X-Almacen-Csrf": "login"})
csrf = s.get(f"{con}/api/session").json()["csrf"]
def page(token=None):
    q = {"list-type": "2", "delimiter": "/", "prefix": "dir/", "max-keys": "100"}
    if token: q["continuation-token"] = token
    r = s.get(f"{con}/api/s3/many", params=q)
    m = re.search(r"<NextContinuationToken>([^<]*)</NextContinuationToken>", r.text)
    return m.group(1) if m else None
t = time.time(); tok = page(); first = time.time() - t
times = []; n = 1
while tok:
    t = time.time(); tok = page(tok); times.append(time.time() - t); n += 1
times.sort()
print(f"first page {first*1000:.1f} ms; {n} pages of 100; median {times[len(times)//2]*1000:.1f} ms, p99 {times[int(len(times)*0.99)]*1000:.1f} ms, last {times[-1]*1000:.1f} ms max", flush=True)
# Streaming throughput: 256 MiB up and down through the console vs straight to S3.
big = tempfile.mktemp()
with open(big, "wb") as f: f.write(os.urandom(256 << 20))
def timed(cmd):
    t = time.time(); subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL); return time.time() - t
ck = tempfile.mktemp(); open(ck, "w").write(f"127.0.0.1\tFALSE\t/\tFALSE\t0\talmacen_session\t{s.cookies.get('almacen_session')}\n")
up = timed(["curl", "-sf", "-b", ck, "-X", "PUT", "-H", f"X-Almacen-Csrf: {csrf}", "-T", big, f"{con}/api/s3/many/big.bin"])
down = timed(["curl", "-sf", "-b", ck, "-o", "/dev/null", f"{con}/api/s3/many/big.bin"])
t = time.time(); s3.upload_file(big, "many", "big2.bin", Config=boto3.s3.transfer.TransferConfig(multipart_threshold=1 << 40)); direct_up = time.time() - t
t = time.time(); s3.download_file("many", "big2.bin", "/dev/null"); direct_down = time.time() - t
mb = 256
print(f"256 MiB via console: up {mb/up:.0f} MiB/s, down {mb/down:.0f} MiB/s; boto3 direct: up {mb/direct_up:.0f} MiB/s, down {mb/direct_down:.0f} MiB/s", flush=True)
rss = open(f"/proc/{p.pid}/status").read(); print([l for l in rss.splitlines() if l.startswith("VmHWM")][0], flush=True)
p.kill(); os.remove(big)
