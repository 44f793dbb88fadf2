"""A full disk during uploads: a clear 507 XMinioStorageFull, nothing
partial left behind, earlier objects unharmed, and uploads work again as
soon as space is freed. Runs on a size-limited tmpfs, which needs root
(CI runs as root); elsewhere the test is skipped with the reason."""

import glob
import os
import random
import shutil
import subprocess
import tempfile
import urllib.request

import pytest
from botocore.exceptions import ClientError

from conftest import AlmacenServer, error_code, http_status

MIB = 1024 * 1024


@pytest.fixture
def small_disk():
    mnt = tempfile.mkdtemp(prefix="almacen-full-")
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", mnt], capture_output=True, text=True
    )
    if r.returncode != 0:
        os.rmdir(mnt)
        pytest.skip(f"cannot mount a size-limited tmpfs (needs root): {r.stderr.strip()}")
    yield mnt
    subprocess.run(["umount", "-l", mnt], check=False)
    shutil.rmtree(mnt, ignore_errors=True)


def test_disk_full_then_freed(small_disk):
    data_dir = os.path.join(small_disk, "data")
    ballast = os.path.join(small_disk, "ballast")
    with open(ballast, "wb") as f:
        f.write(os.urandom(6 * MIB))
    srv = AlmacenServer(data_dir=data_dir, extra_env={"ALMACEN_SCRUB_RATE": "off"})
    srv.start()
    try:
        s3 = srv.client()
        s3.create_bucket(Bucket="full")
        rng = random.Random(5)
        kept = {f"keep-{i}": rng.randbytes(300_000) for i in range(3)}
        for k, v in kept.items():
            s3.put_object(Bucket="full", Key=k, Body=v)

        stored = {}
        err = None
        for i in range(40):  # 40 MiB cannot fit in 24 MiB
            body = rng.randbytes(MIB)
            try:
                s3.put_object(Bucket="full", Key=f"fill-{i}", Body=body)
                stored[f"fill-{i}"] = body
            except ClientError as e:
                err = e
                break
        assert err is not None, "the disk never filled"
        assert error_code(err) == "XMinioStorageFull" and http_status(err) == 507
        assert "minimum free drive threshold" in err.response["Error"]["Message"]

        # Nothing partial: no temporary file, no blob without metadata.
        # (files only: with several nodes each stages in a folder of its own)
        assert [f for _, _, files in os.walk(os.path.join(data_dir, "tmp")) for f in files] == []
        blobs = glob.glob(os.path.join(data_dir, "blobs", "*", "*"))
        assert len(blobs) == len(kept) + len(stored)
        # Earlier objects are unharmed and still served; the failed key does not exist.
        for k, v in {**kept, **stored}.items():
            assert s3.get_object(Bucket="full", Key=k)["Body"].read() == v
        with pytest.raises(ClientError) as e:
            s3.head_object(Bucket="full", Key=f"fill-{len(stored)}")
        assert http_status(e.value) == 404

        # A multipart part refused the same way.
        mp = s3.create_multipart_upload(Bucket="full", Key="mp")
        with pytest.raises(ClientError) as e:
            for n in range(1, 10):
                s3.upload_part(Bucket="full", Key="mp", UploadId=mp["UploadId"], PartNumber=n,
                               Body=rng.randbytes(5 * MIB))
        assert error_code(e.value) == "XMinioStorageFull"
        s3.abort_multipart_upload(Bucket="full", Key="mp", UploadId=mp["UploadId"])

        # Space freed by the operator: uploads work again at once.
        os.remove(ballast)
        body = rng.randbytes(2 * MIB)
        s3.put_object(Bucket="full", Key="after", Body=body)
        assert s3.get_object(Bucket="full", Key="after")["Body"].read() == body
        ready = urllib.request.urlopen(srv.endpoint + "/minio/health/ready", timeout=10)
        assert ready.status == 200
    finally:
        srv.cleanup()
