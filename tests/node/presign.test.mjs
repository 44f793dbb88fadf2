// Seeds 000 and 002: @aws-sdk/client-s3 with forcePathStyle and
// @aws-sdk/s3-request-presigner. The backend presigns; "the phone" uses
// plain fetch with no credentials.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  CreateBucketCommand,
  PutObjectCommand,
  GetObjectCommand,
  CreateMultipartUploadCommand,
  UploadPartCommand,
  CompleteMultipartUploadCommand,
  HeadObjectCommand,
} from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { startServer } from "./harness.mjs";

let srv;
const bucket = "inventory-videos";

before(async () => {
  srv = await startServer();
  await srv.client.send(new CreateBucketCommand({ Bucket: bucket }));
});

after(() => srv.stop());

test("presigned PUT and GET valid for one hour", async () => {
  const put = await getSignedUrl(
    srv.client,
    new PutObjectCommand({ Bucket: bucket, Key: "frames/s1/0001.jpg", ContentType: "image/jpeg" }),
    { expiresIn: 3600 },
  );
  const res = await fetch(put, { method: "PUT", body: "frame-bytes", headers: { "Content-Type": "image/jpeg" } });
  assert.equal(res.status, 200);
  const get = await getSignedUrl(srv.client, new GetObjectCommand({ Bucket: bucket, Key: "frames/s1/0001.jpg" }), {
    expiresIn: 3600,
  });
  const got = await fetch(get);
  assert.equal(got.status, 200);
  assert.equal(await got.text(), "frame-bytes");
  assert.equal(got.headers.get("content-type"), "image/jpeg");
});

test("a presigned PUT refuses another content type than the one signed", async () => {
  // The JS presigner signs only Host unless told to sign Content-Type too.
  const put = await getSignedUrl(
    srv.client,
    new PutObjectCommand({ Bucket: bucket, Key: "thumbnails/s1.jpg", ContentType: "image/jpeg" }),
    { expiresIn: 3600, signableHeaders: new Set(["content-type"]) },
  );
  const res = await fetch(put, { method: "PUT", body: "x", headers: { "Content-Type": "text/html" } });
  assert.equal(res.status, 403);
});

test("video uploaded by the phone through presigned UploadPart URLs", async () => {
  const key = "videos/s1.mp4";
  const { UploadId } = await srv.client.send(
    new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ContentType: "video/mp4" }),
  );
  const chunks = [Buffer.alloc(5 * 1024 * 1024, 1), Buffer.alloc(5 * 1024 * 1024, 2), Buffer.from("tail")];
  const parts = [];
  for (const [i, chunk] of chunks.entries()) {
    const url = await getSignedUrl(
      srv.client,
      new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: i + 1 }),
      { expiresIn: 3600 },
    );
    const res = await fetch(url, { method: "PUT", body: chunk });
    assert.equal(res.status, 200);
    parts.push({ PartNumber: i + 1, ETag: res.headers.get("etag") });
  }
  await srv.client.send(
    new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId, MultipartUpload: { Parts: parts } }),
  );
  const head = await srv.client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
  assert.equal(head.ContentLength, 10 * 1024 * 1024 + 4);
  assert.equal(head.ContentType, "video/mp4");
  assert.match(head.ETag, /-3"$/);
});

test("SDK uploads with its default CRC32 checksums", async () => {
  await srv.client.send(new PutObjectCommand({ Bucket: bucket, Key: "meta.json", Body: JSON.stringify({ ok: true }) }));
  const got = await srv.client.send(new GetObjectCommand({ Bucket: bucket, Key: "meta.json", ChecksumMode: "ENABLED" }));
  assert.deepEqual(JSON.parse(await got.Body.transformToString()), { ok: true });
});
