"""CORS: bucket rules through boto3, preflights and response headers as a
browser sees them (plain HTTP with Origin headers), and the server-wide
default for buckets without rules."""

import pytest
import requests
from botocore.exceptions import ClientError

from conftest import error_code, http_status

APP = "https://shop.example.com"

RULES = {
    "CORSRules": [
        {
            "ID": "app-uploads",
            "AllowedOrigins": [APP, "https://*.staging.example.com"],
            "AllowedMethods": ["PUT", "POST", "GET"],
            "AllowedHeaders": ["content-type", "x-amz-*"],
            "ExposeHeaders": ["ETag", "x-amz-version-id"],
            "MaxAgeSeconds": 3000,
        },
        {"AllowedOrigins": ["*"], "AllowedMethods": ["GET", "HEAD"]},
    ]
}


def preflight(server, path, origin, method, headers=None):
    h = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers:
        h["Access-Control-Request-Headers"] = headers
    return requests.options(server.endpoint + path, headers=h, timeout=30)


def test_put_get_delete_bucket_cors(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.get_bucket_cors(Bucket=bucket)
    assert error_code(e.value) == "NoSuchCORSConfiguration"
    assert http_status(e.value) == 404
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=RULES)
    got = s3.get_bucket_cors(Bucket=bucket)["CORSRules"]
    assert got[0]["ID"] == "app-uploads"
    assert got[0]["AllowedOrigins"] == RULES["CORSRules"][0]["AllowedOrigins"]
    assert got[0]["MaxAgeSeconds"] == 3000
    assert got[1]["AllowedMethods"] == ["GET", "HEAD"]
    s3.delete_bucket_cors(Bucket=bucket)
    with pytest.raises(ClientError) as e:
        s3.get_bucket_cors(Bucket=bucket)
    assert error_code(e.value) == "NoSuchCORSConfiguration"


@pytest.mark.parametrize(
    "rule,message",
    [
        ({"AllowedOrigins": ["*"], "AllowedMethods": ["PATCH"]}, "Unsupported method is PATCH"),
        ({"AllowedOrigins": ["https://*.*.example.com"], "AllowedMethods": ["GET"]}, "more than one wildcard"),
        ({"AllowedOrigins": ["*"], "AllowedMethods": ["GET"], "AllowedHeaders": ["x-*-*"]}, "more than one wildcard"),
    ],
)
def test_invalid_rules_are_refused(s3, bucket, rule, message):
    with pytest.raises(ClientError) as e:
        s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [rule]})
    assert error_code(e.value) == "InvalidRequest"
    assert message in e.value.response["Error"]["Message"]


def test_preflight_follows_the_rules(server, s3, bucket):
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=RULES)
    r = preflight(server, f"/{bucket}/uploads/a.jpg", APP, "PUT", "Content-Type, X-Amz-Date")
    assert r.status_code == 200, r.text
    assert r.headers["Access-Control-Allow-Origin"] == APP
    assert r.headers["Access-Control-Allow-Credentials"] == "true"
    assert r.headers["Access-Control-Allow-Methods"] == "PUT, POST, GET"
    assert r.headers["Access-Control-Allow-Headers"] == "content-type, x-amz-date"
    assert r.headers["Access-Control-Max-Age"] == "3000"
    assert "Origin" in r.headers["Vary"]
    # A wildcard origin rule.
    r = preflight(server, f"/{bucket}/k", "https://pr-7.staging.example.com", "POST")
    assert r.status_code == 200
    # Second rule: any origin may GET, and the answer is "*".
    r = preflight(server, f"/{bucket}/k", "https://elsewhere.example", "GET")
    assert r.status_code == 200 and r.headers["Access-Control-Allow-Origin"] == "*"
    # Denied: method, header or origin not in any rule.
    for origin, method, hdrs in [
        ("https://elsewhere.example", "PUT", None),
        (APP, "DELETE", None),
        (APP, "PUT", "authorization-extra"),
    ]:
        r = preflight(server, f"/{bucket}/k", origin, method, hdrs)
        assert r.status_code == 403, (origin, method, hdrs)
        assert "<Code>AccessForbidden</Code>" in r.text
        assert "Access-Control-Allow-Origin" not in r.headers
    # Preflights need Origin and Access-Control-Request-Method.
    r = requests.options(f"{server.endpoint}/{bucket}/k", timeout=30)
    assert r.status_code == 400


def test_actual_requests_carry_cors_headers(server, s3, bucket):
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=RULES)
    s3.put_object(Bucket=bucket, Key="a.jpg", Body=b"jpg")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "a.jpg"}, ExpiresIn=60)
    r = requests.get(url, headers={"Origin": APP}, timeout=30)
    assert r.status_code == 200
    assert r.headers["Access-Control-Allow-Origin"] == APP
    assert r.headers["Access-Control-Expose-Headers"] == "ETag, x-amz-version-id"
    put = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "b.jpg"}, ExpiresIn=60)
    r = requests.put(put, data=b"x", headers={"Origin": "https://evil.example"}, timeout=30)
    # S3 still runs the request (CORS is the browser's check), without Allow headers.
    assert r.status_code == 200
    assert "Access-Control-Allow-Origin" not in r.headers


def test_default_for_buckets_without_rules(server, bucket):
    r = preflight(server, f"/{bucket}/k", "http://localhost:3000", "PUT", "content-type")
    assert r.status_code == 200
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert "ETag" in r.headers["Access-Control-Expose-Headers"]


def test_default_can_be_narrowed_or_turned_off(server_factory):
    srv = server_factory(extra_env={"MINIO_API_CORS_ALLOW_ORIGIN": "https://app.example.com"})
    srv.client().create_bucket(Bucket="narrow")
    assert preflight(srv, "/narrow/k", "https://app.example.com", "PUT").status_code == 200
    r = preflight(srv, "/narrow/k", "https://other.example.com", "PUT")
    assert r.status_code == 403
    srv.stop()
    srv.extra_env["MINIO_API_CORS_ALLOW_ORIGIN"] = "none"
    srv.start()
    r = preflight(srv, "/narrow/k", "https://app.example.com", "PUT")
    assert r.status_code == 403
    assert "CORS is not enabled" in r.text


def test_actual_request_matched_on_its_request_method_header(server, s3, bucket):
    """S3 matches an actual request on Access-Control-Request-Method when sent."""
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [{"AllowedOrigins": [APP], "AllowedMethods": ["GET"]}]})
    url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "x"}, ExpiresIn=60)
    r = requests.put(url, data=b"x", headers={"Origin": APP, "Access-Control-Request-Method": "GET"}, timeout=30)
    assert r.headers.get("Access-Control-Allow-Origin") == APP
    assert r.headers.get("Access-Control-Allow-Methods") == "GET"
