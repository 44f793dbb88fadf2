"""Object and bucket tagging through boto3: headers on upload and copy,
the tagging calls, S3's limits and errors."""

import pytest
from botocore.exceptions import ClientError

from conftest import error_code, http_status


def tagset(d):
    return [{"Key": k, "Value": v} for k, v in d.items()]


def as_dict(tag_set):
    return {t["Key"]: t["Value"] for t in tag_set}


def test_tags_on_put_get_and_replace(s3, bucket):
    s3.put_object(Bucket=bucket, Key="v.mp4", Body=b"v", Tagging="kind=video&tenant=tenant%201")
    assert as_dict(s3.get_object_tagging(Bucket=bucket, Key="v.mp4")["TagSet"]) == {"kind": "video", "tenant": "tenant 1"}
    assert s3.get_object(Bucket=bucket, Key="v.mp4")["TagCount"] == 2
    s3.put_object_tagging(Bucket=bucket, Key="v.mp4", Tagging={"TagSet": tagset({"stage": "processed"})})
    assert as_dict(s3.get_object_tagging(Bucket=bucket, Key="v.mp4")["TagSet"]) == {"stage": "processed"}
    s3.delete_object_tagging(Bucket=bucket, Key="v.mp4")
    assert s3.get_object_tagging(Bucket=bucket, Key="v.mp4")["TagSet"] == []
    assert "TagCount" not in s3.get_object(Bucket=bucket, Key="v.mp4")
    # The object's bytes and metadata are untouched by tagging.
    assert s3.get_object(Bucket=bucket, Key="v.mp4")["Body"].read() == b"v"


def test_tags_on_missing_key(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.get_object_tagging(Bucket=bucket, Key="missing")
    assert error_code(e.value) == "NoSuchKey"
    with pytest.raises(ClientError) as e:
        s3.put_object_tagging(Bucket=bucket, Key="missing", Tagging={"TagSet": tagset({"a": "b"})})
    assert error_code(e.value) == "NoSuchKey"


@pytest.mark.parametrize(
    "tags",
    [
        {f"k{i}": "v" for i in range(11)},
        {"k" * 129: "v"},
        {"k": "v" * 257},
        {"aws:reserved": "v"},
    ],
    ids=["eleven-tags", "long-key", "long-value", "aws-prefix"],
)
def test_limits(s3, bucket, tags):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    with pytest.raises(ClientError) as e:
        s3.put_object_tagging(Bucket=bucket, Key="k", Tagging={"TagSet": tagset(tags)})
    assert error_code(e.value) == "InvalidTag"
    assert http_status(e.value) == 400
    # The same through the upload header: refused, and nothing is stored.
    header = "&".join(f"{k}={v}" for k, v in tags.items())
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="new", Body=b"x", Tagging=header)
    assert error_code(e.value) == "InvalidTag"
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="new")


def test_largest_allowed_tags(s3, bucket):
    tags = {f"{i}" + "k" * 127: "v" * 256 for i in range(10)}
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    s3.put_object_tagging(Bucket=bucket, Key="k", Tagging={"TagSet": tagset(tags)})
    assert as_dict(s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"]) == tags


def test_copy_keeps_or_replaces_tags(s3, bucket):
    s3.put_object(Bucket=bucket, Key="src", Body=b"x", Tagging="a=1")
    s3.copy_object(Bucket=bucket, Key="kept", CopySource={"Bucket": bucket, "Key": "src"})
    assert as_dict(s3.get_object_tagging(Bucket=bucket, Key="kept")["TagSet"]) == {"a": "1"}
    s3.copy_object(Bucket=bucket, Key="replaced", CopySource={"Bucket": bucket, "Key": "src"},
                   TaggingDirective="REPLACE", Tagging="b=2")
    assert as_dict(s3.get_object_tagging(Bucket=bucket, Key="replaced")["TagSet"]) == {"b": "2"}


def test_multipart_upload_tags_the_final_object(s3, bucket):
    mp = s3.create_multipart_upload(Bucket=bucket, Key="big", Tagging="source=phone")
    p = s3.upload_part(Bucket=bucket, Key="big", UploadId=mp["UploadId"], PartNumber=1, Body=b"x" * 100)
    s3.complete_multipart_upload(Bucket=bucket, Key="big", UploadId=mp["UploadId"],
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": p["ETag"]}]})
    assert as_dict(s3.get_object_tagging(Bucket=bucket, Key="big")["TagSet"]) == {"source": "phone"}


def test_bucket_tagging(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.get_bucket_tagging(Bucket=bucket)
    assert error_code(e.value) == "NoSuchTagSet"
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": tagset({"app": "inventory", "env": "prod"})})
    assert as_dict(s3.get_bucket_tagging(Bucket=bucket)["TagSet"]) == {"app": "inventory", "env": "prod"}
    with pytest.raises(ClientError) as e:
        s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": tagset({f"k{i}": "v" for i in range(51)})})
    assert error_code(e.value) == "InvalidTag"
    s3.delete_bucket_tagging(Bucket=bucket)
    with pytest.raises(ClientError) as e:
        s3.get_bucket_tagging(Bucket=bucket)
    assert error_code(e.value) == "NoSuchTagSet"


def test_head_shows_the_count_and_tags_list_sorted(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="zeta=1&alpha=2&mid")
    assert s3.head_object(Bucket=bucket, Key="k")["ResponseMetadata"]["HTTPHeaders"]["x-amz-tagging-count"] == "3"
    assert [t["Key"] for t in s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"]] == ["alpha", "mid", "zeta"]
