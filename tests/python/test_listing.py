"""ListObjects (v1) and ListObjectsV2."""

from concurrent.futures import ThreadPoolExecutor
from urllib.parse import unquote_plus

import pytest
from botocore.exceptions import ClientError

from conftest import empty_and_delete_bucket, error_code, http_status, unique_bucket_name

PAGED_KEYS = [f"page/{i:05d}" for i in range(2500)]


@pytest.fixture(scope="module")
def big_bucket(server, s3):
    """A bucket with 2500 small objects, shared (read-only) by the pagination tests."""
    name = unique_bucket_name("big")
    s3.create_bucket(Bucket=name)
    client = server.client()
    try:
        with ThreadPoolExecutor(16) as pool:
            list(
                pool.map(
                    lambda k: client.put_object(Bucket=name, Key=k, Body=k.encode()),
                    PAGED_KEYS,
                )
            )
        yield name
    finally:
        empty_and_delete_bucket(s3, name)


def put_keys(s3, bucket, keys):
    for k in keys:
        s3.put_object(Bucket=bucket, Key=k, Body=b"x" * (len(k) % 7))


# ---------------------------------------------------------------------------
# basics
# ---------------------------------------------------------------------------


def test_empty_bucket_listing(s3, bucket):
    v2 = s3.list_objects_v2(Bucket=bucket)
    assert v2["KeyCount"] == 0
    assert v2["IsTruncated"] is False
    assert "Contents" not in v2
    assert v2["Name"] == bucket
    v1 = s3.list_objects(Bucket=bucket)
    assert v1["IsTruncated"] is False
    assert "Contents" not in v1


def test_listing_object_fields(s3, bucket):
    s3.put_object(Bucket=bucket, Key="obj", Body=b"12345")
    head = s3.head_object(Bucket=bucket, Key="obj")
    for resp in (s3.list_objects_v2(Bucket=bucket), s3.list_objects(Bucket=bucket)):
        (obj,) = resp["Contents"]
        assert obj["Key"] == "obj"
        assert obj["Size"] == 5
        assert obj["ETag"] == head["ETag"]
        # HTTP dates have second precision; the listing may carry milliseconds.
        assert obj["LastModified"].replace(microsecond=0) == head["LastModified"]
        assert obj["StorageClass"] == "STANDARD"


def test_byte_order_sorting(s3, bucket):
    keys = ["a", "B", "_under", "é-accent", "z", "~tilde", "Z0", "a/b", "a-b", "a b", "0", "日本", "\U0001f600"]
    put_keys(s3, bucket, keys)
    expected = sorted(keys, key=lambda k: k.encode("utf-8"))
    got_v2 = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    got_v1 = [o["Key"] for o in s3.list_objects(Bucket=bucket)["Contents"]]
    assert got_v2 == expected
    assert got_v1 == expected


def test_prefix(s3, bucket):
    put_keys(s3, bucket, ["photos/2023/a.jpg", "photos/2024/b.jpg", "photo.jpg", "videos/c.mp4"])
    resp = s3.list_objects_v2(Bucket=bucket, Prefix="photos/")
    assert [o["Key"] for o in resp["Contents"]] == ["photos/2023/a.jpg", "photos/2024/b.jpg"]
    assert resp["Prefix"] == "photos/"
    assert resp["KeyCount"] == 2
    resp = s3.list_objects_v2(Bucket=bucket, Prefix="photo")
    assert [o["Key"] for o in resp["Contents"]] == [
        "photo.jpg",
        "photos/2023/a.jpg",
        "photos/2024/b.jpg",
    ]
    resp = s3.list_objects_v2(Bucket=bucket, Prefix="nothing-here")
    assert resp["KeyCount"] == 0
    assert "Contents" not in resp


def test_delimiter_common_prefixes(s3, bucket):
    put_keys(s3, bucket, ["a/1", "a/2", "b/1", "c", "d/e/f", "d/g", "e"])
    for resp in (
        s3.list_objects_v2(Bucket=bucket, Delimiter="/"),
        s3.list_objects(Bucket=bucket, Delimiter="/"),
    ):
        assert [o["Key"] for o in resp["Contents"]] == ["c", "e"]
        assert [p["Prefix"] for p in resp["CommonPrefixes"]] == ["a/", "b/", "d/"]
        assert resp["Delimiter"] == "/"
    v2 = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert v2["KeyCount"] == 5  # KeyCount includes common prefixes

    resp = s3.list_objects_v2(Bucket=bucket, Prefix="d/", Delimiter="/")
    assert [o["Key"] for o in resp["Contents"]] == ["d/g"]
    assert [p["Prefix"] for p in resp["CommonPrefixes"]] == ["d/e/"]


def test_non_slash_delimiter(s3, bucket):
    put_keys(s3, bucket, ["x-1-a", "x-1-b", "x-2", "y"])
    resp = s3.list_objects_v2(Bucket=bucket, Prefix="x-", Delimiter="-")
    assert [p["Prefix"] for p in resp["CommonPrefixes"]] == ["x-1-"]
    assert [o["Key"] for o in resp["Contents"]] == ["x-2"]


def test_delimiter_key_equal_to_prefix(s3, bucket):
    put_keys(s3, bucket, ["dir/", "dir/file", "dir/sub/file"])
    resp = s3.list_objects_v2(Bucket=bucket, Prefix="dir/", Delimiter="/")
    assert [o["Key"] for o in resp["Contents"]] == ["dir/", "dir/file"]
    assert [p["Prefix"] for p in resp["CommonPrefixes"]] == ["dir/sub/"]


# ---------------------------------------------------------------------------
# v1 specifics
# ---------------------------------------------------------------------------


def test_v1_marker_and_max_keys(s3, bucket):
    keys = ["a", "b", "c", "d", "e"]
    put_keys(s3, bucket, keys)
    first = s3.list_objects(Bucket=bucket, MaxKeys=2)
    assert [o["Key"] for o in first["Contents"]] == ["a", "b"]
    assert first["IsTruncated"] is True
    assert first["MaxKeys"] == 2
    # Without a delimiter NextMarker is optional; if sent it must be the last key.
    assert first.get("NextMarker", "b") == "b"

    second = s3.list_objects(Bucket=bucket, MaxKeys=2, Marker="b")
    assert second["Marker"] == "b"
    assert [o["Key"] for o in second["Contents"]] == ["c", "d"]
    assert second["IsTruncated"] is True

    third = s3.list_objects(Bucket=bucket, MaxKeys=2, Marker="d")
    assert [o["Key"] for o in third["Contents"]] == ["e"]
    assert third["IsTruncated"] is False

    # Marker need not be an existing key.
    resp = s3.list_objects(Bucket=bucket, Marker="bb")
    assert [o["Key"] for o in resp["Contents"]] == ["c", "d", "e"]
    resp = s3.list_objects(Bucket=bucket, Marker="zzz")
    assert "Contents" not in resp


def test_v1_next_marker_with_delimiter(s3, bucket):
    put_keys(s3, bucket, ["a/1", "a/2", "b", "c/1", "d"])
    first = s3.list_objects(Bucket=bucket, Delimiter="/", MaxKeys=2)
    assert first["IsTruncated"] is True
    assert [p["Prefix"] for p in first["CommonPrefixes"]] == ["a/"]
    assert [o["Key"] for o in first["Contents"]] == ["b"]
    # NextMarker is returned when a delimiter is specified: the last key or
    # common prefix in the response.
    assert first["NextMarker"] == "b"

    second = s3.list_objects(Bucket=bucket, Delimiter="/", MaxKeys=2, Marker=first["NextMarker"])
    assert [p["Prefix"] for p in second.get("CommonPrefixes", [])] == ["c/"]
    assert [o["Key"] for o in second["Contents"]] == ["d"]
    assert second["IsTruncated"] is False


def test_v1_next_marker_is_common_prefix(s3, bucket):
    put_keys(s3, bucket, ["a/1", "a/2", "a/3", "b/1", "b/2", "c"])
    first = s3.list_objects(Bucket=bucket, Delimiter="/", MaxKeys=1)
    assert [p["Prefix"] for p in first["CommonPrefixes"]] == ["a/"]
    assert first["IsTruncated"] is True
    assert first["NextMarker"] == "a/"
    # Continuing from the common prefix must not return it (or its keys) again.
    second = s3.list_objects(Bucket=bucket, Delimiter="/", MaxKeys=1, Marker="a/")
    assert [p["Prefix"] for p in second.get("CommonPrefixes", [])] == ["b/"]
    assert "Contents" not in second


def test_v1_paginator_with_delimiter(s3, bucket):
    keys = [f"p{i}/k{j}" for i in range(5) for j in range(3)] + [f"top{i}" for i in range(4)]
    put_keys(s3, bucket, keys)
    prefixes, contents = [], []
    for page in s3.get_paginator("list_objects").paginate(
        Bucket=bucket, Delimiter="/", PaginationConfig={"PageSize": 2}
    ):
        prefixes += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
        contents += [o["Key"] for o in page.get("Contents", [])]
    assert prefixes == [f"p{i}/" for i in range(5)]
    assert contents == [f"top{i}" for i in range(4)]


# ---------------------------------------------------------------------------
# v2 specifics
# ---------------------------------------------------------------------------


def test_v2_continuation_token_and_key_count(s3, bucket):
    keys = [f"k{i:02d}" for i in range(7)]
    put_keys(s3, bucket, keys)
    seen = []
    resp = s3.list_objects_v2(Bucket=bucket, MaxKeys=3)
    pages = 0
    while True:
        pages += 1
        assert resp["MaxKeys"] == 3
        assert resp["KeyCount"] == len(resp.get("Contents", []))
        seen += [o["Key"] for o in resp.get("Contents", [])]
        if not resp["IsTruncated"]:
            assert "NextContinuationToken" not in resp
            break
        assert resp["KeyCount"] == 3
        token = resp["NextContinuationToken"]
        resp = s3.list_objects_v2(Bucket=bucket, MaxKeys=3, ContinuationToken=token)
        assert resp["ContinuationToken"] == token
        assert pages < 10
    assert seen == keys
    assert pages == 3


def test_v2_start_after(s3, bucket):
    put_keys(s3, bucket, ["a", "b", "c", "d"])
    resp = s3.list_objects_v2(Bucket=bucket, StartAfter="b")
    assert resp["StartAfter"] == "b"
    assert [o["Key"] for o in resp["Contents"]] == ["c", "d"]
    resp = s3.list_objects_v2(Bucket=bucket, StartAfter="bb")
    assert [o["Key"] for o in resp["Contents"]] == ["c", "d"]
    resp = s3.list_objects_v2(Bucket=bucket, StartAfter="d")
    assert resp["KeyCount"] == 0


def test_v2_fetch_owner(s3, bucket):
    s3.put_object(Bucket=bucket, Key="o", Body=b"")
    without = s3.list_objects_v2(Bucket=bucket)
    assert "Owner" not in without["Contents"][0]
    with_owner = s3.list_objects_v2(Bucket=bucket, FetchOwner=True)
    owner = with_owner["Contents"][0]["Owner"]
    assert owner.get("ID")


def test_v2_max_keys_counts_common_prefixes(s3, bucket):
    put_keys(s3, bucket, ["a/1", "b/1", "c/1", "d", "e"])
    first = s3.list_objects_v2(Bucket=bucket, Delimiter="/", MaxKeys=2)
    assert first["KeyCount"] == 2
    assert [p["Prefix"] for p in first["CommonPrefixes"]] == ["a/", "b/"]
    assert "Contents" not in first
    assert first["IsTruncated"] is True
    second = s3.list_objects_v2(
        Bucket=bucket, Delimiter="/", MaxKeys=2, ContinuationToken=first["NextContinuationToken"]
    )
    assert [p["Prefix"] for p in second["CommonPrefixes"]] == ["c/"]
    assert [o["Key"] for o in second["Contents"]] == ["d"]
    assert second["KeyCount"] == 2
    third = s3.list_objects_v2(
        Bucket=bucket, Delimiter="/", MaxKeys=2, ContinuationToken=second["NextContinuationToken"]
    )
    assert [o["Key"] for o in third["Contents"]] == ["e"]
    assert third["IsTruncated"] is False


def test_v2_max_keys_above_1000_is_capped(s3, bucket):
    s3.put_object(Bucket=bucket, Key="one", Body=b"")
    resp = s3.list_objects_v2(Bucket=bucket, MaxKeys=5000)
    assert resp["KeyCount"] == 1
    assert resp["MaxKeys"] in (1000, 5000)


def test_v2_invalid_continuation_token(s3, bucket):
    with pytest.raises(ClientError) as ei:
        s3.list_objects_v2(Bucket=bucket, ContinuationToken="this-is-not-a-valid-token!!")
    assert error_code(ei.value) == "InvalidArgument"
    assert http_status(ei.value) == 400


# ---------------------------------------------------------------------------
# encoding-type=url
# ---------------------------------------------------------------------------

ENC_KEYS = ["dir one/a b+c%d", "dir one/é", "plain", "tab\there"]


def test_encoding_type_url_v2(s3, bucket):
    put_keys(s3, bucket, ENC_KEYS)
    # EncodingType passed explicitly: botocore does not decode the response.
    resp = s3.list_objects_v2(Bucket=bucket, EncodingType="url")
    assert resp["EncodingType"] == "url"
    raw = [o["Key"] for o in resp["Contents"]]
    assert len(raw) == 4
    for r in raw:
        assert " " not in r and "\t" not in r and r.isascii(), r
    assert [unquote_plus(r) for r in raw] == sorted(ENC_KEYS, key=str.encode)

    resp = s3.list_objects_v2(Bucket=bucket, EncodingType="url", Delimiter=" ")
    assert [unquote_plus(p["Prefix"]) for p in resp["CommonPrefixes"]] == ["dir "]
    assert all(" " not in p["Prefix"] for p in resp["CommonPrefixes"])

    resp = s3.list_objects_v2(Bucket=bucket, EncodingType="url", Prefix="dir one/")
    assert unquote_plus(resp["Prefix"]) == "dir one/"
    assert " " not in resp["Prefix"]


def test_encoding_type_url_v1(s3, bucket):
    put_keys(s3, bucket, ENC_KEYS)
    resp = s3.list_objects(Bucket=bucket, EncodingType="url")
    assert resp["EncodingType"] == "url"
    raw = [o["Key"] for o in resp["Contents"]]
    for r in raw:
        assert " " not in r and "\t" not in r and r.isascii(), r
    assert [unquote_plus(r) for r in raw] == sorted(ENC_KEYS, key=str.encode)


def test_default_boto3_listing_decodes_keys(s3, bucket):
    # botocore sends encoding-type=url by itself and decodes with unquote_plus.
    put_keys(s3, bucket, ENC_KEYS)
    v2 = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    v1 = [o["Key"] for o in s3.list_objects(Bucket=bucket)["Contents"]]
    assert v2 == v1 == sorted(ENC_KEYS, key=str.encode)


# ---------------------------------------------------------------------------
# pagination over 2500 keys
# ---------------------------------------------------------------------------


def test_paginate_v2_2500_keys(s3, big_bucket):
    pages = list(s3.get_paginator("list_objects_v2").paginate(Bucket=big_bucket))
    assert [p["KeyCount"] for p in pages] == [1000, 1000, 500]
    keys = [o["Key"] for p in pages for o in p["Contents"]]
    assert keys == PAGED_KEYS


def test_paginate_v2_page_size_and_prefix(s3, big_bucket):
    pages = list(
        s3.get_paginator("list_objects_v2").paginate(
            Bucket=big_bucket, Prefix="page/01", PaginationConfig={"PageSize": 300}
        )
    )
    keys = [o["Key"] for p in pages for o in p.get("Contents", [])]
    assert keys == [k for k in PAGED_KEYS if k.startswith("page/01")]
    assert len(keys) == 1000
    assert [p["KeyCount"] for p in pages] == [300, 300, 300, 100]


def test_paginate_v2_start_after(s3, big_bucket):
    pages = s3.get_paginator("list_objects_v2").paginate(
        Bucket=big_bucket, StartAfter="page/02299", PaginationConfig={"PageSize": 150}
    )
    keys = [o["Key"] for p in pages for o in p.get("Contents", [])]
    assert keys == PAGED_KEYS[2300:]


def test_paginate_v1_2500_keys(s3, big_bucket):
    pages = list(s3.get_paginator("list_objects").paginate(Bucket=big_bucket))
    assert [len(p["Contents"]) for p in pages] == [1000, 1000, 500]
    keys = [o["Key"] for p in pages for o in p["Contents"]]
    assert keys == PAGED_KEYS


def test_paginate_v1_page_size(s3, big_bucket):
    pages = list(
        s3.get_paginator("list_objects").paginate(
            Bucket=big_bucket, PaginationConfig={"PageSize": 999}
        )
    )
    keys = [o["Key"] for p in pages for o in p["Contents"]]
    assert keys == PAGED_KEYS
    assert len(pages) == 3


def test_delimiter_over_many_keys(s3, big_bucket):
    resp = s3.list_objects_v2(Bucket=big_bucket, Delimiter="/")
    assert [p["Prefix"] for p in resp["CommonPrefixes"]] == ["page/"]
    assert "Contents" not in resp
    assert resp["KeyCount"] == 1
    assert resp["IsTruncated"] is False
