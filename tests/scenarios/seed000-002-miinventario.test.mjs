// Scenario: seeds 000 and 002, MiInventario (NestJS backend, React Native
// phone app), with @aws-sdk/client-s3 and @aws-sdk/s3-request-presigner as
// INT-005 writes them. The phone never holds credentials: it uploads a
// 60 MiB inventory video straight to storage with presigned UploadPart URLs;
// the backend completes it, storage notifies the processing job by webhook,
// and the job writes frames and a thumbnail. Lifecycle, CORS, private bucket
// and SSE-S3 are INT-005's sections 7 and 9.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { createHash, randomBytes } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import {
  CreateBucketCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutBucketLifecycleConfigurationCommand,
  GetBucketLifecycleConfigurationCommand,
  PutBucketCorsCommand,
  PutBucketEncryptionCommand,
  PutBucketNotificationConfigurationCommand,
} from "@aws-sdk/client-s3";
import { S3Service } from "./apps/s3.service.mjs";
import { startAlmacen, eventually } from "./harness.mjs";

// INT-005 section 7, exactly as the document has it.
const SEED_LIFECYCLE = `{
  "Rules": [
    {
      "ID": "DeleteOldVideos",
      "Status": "Enabled",
      "Filter": {
        "Prefix": "videos/"
      },
      "Expiration": {
        "Days": 30
      }
    },
    {
      "ID": "DeleteOldFrames",
      "Status": "Enabled",
      "Filter": {
        "Prefix": "frames/"
      },
      "Expiration": {
        "Days": 7
      }
    }
  ]
}`;
const APP_ORIGIN = "http://localhost:5173"; // the React dashboard ("CORS: Solo dominios permitidos")
const KMS = "miinventario-key:" + randomBytes(32).toString("base64");
const PART = 5 * 1024 * 1024;
const VIDEO = randomBytes(60 * 1024 * 1024);

let almacen, s3, hook;
const events = [];
const jobs = [];

/** "The processing job": started by the storage event of a completed video. */
async function processVideo(record) {
  const [, userId, sessionId] = record.key.split("/");
  const video = await s3.getObjectBytes(record.key);
  // Frame extraction stands in for ffmpeg: three slices of the video.
  for (let i = 1; i <= 3; i++) {
    const frame = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), video.subarray(i * 1000, i * 1000 + 4096)]);
    await s3.upload(`frames/${sessionId}/frame_00${i}.jpg`, frame, "image/jpeg");
  }
  await s3.upload(`thumbnails/${sessionId}/thumb.jpg`, Buffer.from("\xff\xd8\xff\xe0 thumb", "latin1"), "image/jpeg");
  jobs.push({ userId, sessionId, bytes: video.length, sha256: createHash("sha256").update(video).digest("hex") });
}

before(async () => {
  hook = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      res.writeHead(200).end();
      const ev = JSON.parse(body);
      for (const r of ev.Records ?? []) {
        // Keys arrive URL-encoded, as S3 and MinIO send them.
        r.key = decodeURIComponent(r.s3.object.key.replace(/\+/g, " "));
        events.push(r);
        // AWS names record events `ObjectCreated:...`, MinIO `s3:ObjectCreated:...`.
        if (/(^|:)ObjectCreated:/.test(r.eventName) && r.key.startsWith("videos/")) {
          processVideo(r).catch((e) => jobs.push({ error: String(e) }));
        }
      }
    });
  });
  await new Promise((r) => hook.listen(0, "127.0.0.1", r));
  almacen = await startAlmacen({
    user: "minioadmin",
    password: "minioadmin",
    env: {
      MINIO_KMS_SECRET_KEY: KMS,
      MINIO_NOTIFY_WEBHOOK_ENABLE_JOBS: "on",
      MINIO_NOTIFY_WEBHOOK_ENDPOINT_JOBS: `http://127.0.0.1:${hook.address().port}/events`,
    },
  });
  // The backend's .env (Desarrollo), pointed at this server.
  s3 = new S3Service({
    S3_ENDPOINT: almacen.endpoint,
    S3_ACCESS_KEY: "minioadmin",
    S3_SECRET_KEY: "minioadmin",
    S3_BUCKET: "miinventario",
    S3_REGION: "us-east-1",
  });
  // Deployment step: the bucket with INT-005's settings.
  const c = s3.client;
  await c.send(new CreateBucketCommand({ Bucket: "miinventario" }));
  await c.send(new PutBucketLifecycleConfigurationCommand({ Bucket: "miinventario", LifecycleConfiguration: JSON.parse(SEED_LIFECYCLE) }));
  await c.send(
    new PutBucketCorsCommand({
      Bucket: "miinventario",
      CORSConfiguration: { CORSRules: [{ AllowedOrigins: [APP_ORIGIN], AllowedMethods: ["GET", "PUT"], AllowedHeaders: ["*"], ExposeHeaders: ["ETag"] }] },
    }),
  );
  await c.send(
    new PutBucketEncryptionCommand({
      Bucket: "miinventario",
      ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: "AES256" } }] },
    }),
  );
  await c.send(
    new PutBucketNotificationConfigurationCommand({
      Bucket: "miinventario",
      NotificationConfiguration: {
        QueueConfigurations: [
          {
            QueueArn: "arn:minio:sqs::jobs:webhook",
            Events: ["s3:ObjectCreated:*"],
            Filter: { Key: { FilterRules: [{ Name: "prefix", Value: "videos/" }, { Name: "suffix", Value: ".mp4" }] } },
          },
        ],
      },
    }),
  );
});

after(() => {
  almacen?.stop();
  hook?.close();
});

test("presigned PUT and GET valid for one hour (evidence close-up)", async () => {
  const key = "evidence/s-100/closeup_42.jpg";
  const put = await s3.getSignedUploadUrl(key, "image/jpeg");
  assert.equal(new URL(put).searchParams.get("X-Amz-Expires"), "3600");
  const body = Buffer.from("\xff\xd8\xff\xe0 closeup", "latin1");
  const res = await fetch(put, { method: "PUT", body, headers: { "Content-Type": "image/jpeg" } });
  assert.equal(res.status, 200, await res.text());
  const get = await s3.getSignedDownloadUrl(key);
  assert.equal(new URL(get).searchParams.get("X-Amz-Expires"), "3600");
  const got = await fetch(get);
  assert.equal(got.status, 200);
  assert.deepEqual(Buffer.from(await got.arrayBuffer()), body);
  assert.equal(got.headers.get("content-type"), "image/jpeg");
  // A tampered expiry breaks the signature.
  const forged = new URL(get);
  forged.searchParams.set("X-Amz-Expires", "604800");
  assert.equal((await fetch(forged)).status, 403);
});

test("a 60 MiB video: the phone uploads presigned parts, the backend completes, the job runs", async () => {
  const userId = "u-7";
  const sessionId = "s-100";
  const key = `videos/${userId}/${sessionId}/video.mp4`;
  // 1-2. The phone asks the backend to start; the backend creates the upload.
  const uploadId = await s3.initMultipartUpload(key, "video/mp4");
  // 3. The phone PUTs each part to its presigned URL, with plain fetch.
  const parts = [];
  for (let n = 1, off = 0; off < VIDEO.length; n++, off += PART) {
    const url = await s3.getSignedUploadPartUrl(key, uploadId, n);
    assert.equal(new URL(url).searchParams.get("X-Amz-Expires"), "3600");
    const res = await fetch(url, { method: "PUT", body: VIDEO.subarray(off, off + PART) });
    assert.equal(res.status, 200, await res.text());
    parts.push({ ETag: res.headers.get("etag"), PartNumber: n });
  }
  assert.equal(parts.length, 12);
  assert.equal(jobs.length, 0, "no job before the video is complete");
  // 4-5. The phone tells the backend; the backend completes.
  const done = await s3.completeMultipartUpload(key, uploadId, parts);
  assert.match(done.ETag, /-12"$/);

  const head = await s3.client.send(new HeadObjectCommand({ Bucket: "miinventario", Key: key }));
  assert.equal(head.ContentLength, VIDEO.length);
  assert.equal(head.ContentType, "video/mp4");
  assert.equal(head.ServerSideEncryption, "AES256");
  assert.match(head.Expiration ?? "", /rule-id="DeleteOldVideos"/);

  // The webhook started the processing job, which read the whole video.
  const job = await eventually(() => jobs[0], 30000, "the processing job");
  assert.equal(job.error, undefined);
  assert.deepEqual(job, {
    userId,
    sessionId,
    bytes: VIDEO.length,
    sha256: createHash("sha256").update(VIDEO).digest("hex"),
  });
  const ev = events.find((e) => e.key.startsWith("videos/"));
  assert.match(ev.eventName, /^(s3:)?ObjectCreated:CompleteMultipartUpload$/);
  assert.equal(ev.s3.bucket.name, "miinventario");
  assert.equal(ev.s3.object.size, VIDEO.length);
  // Frames and the thumbnail did not notify: the filter names videos/*.mp4.
  assert.equal(events.filter((e) => !e.key.startsWith("videos/")).length, 0);

  const list = await s3.client.send(new ListObjectsV2Command({ Bucket: "miinventario", Prefix: `frames/${sessionId}/` }));
  assert.deepEqual(
    list.Contents.map((o) => o.Key),
    [1, 2, 3].map((i) => `frames/${sessionId}/frame_00${i}.jpg`),
  );
  const thumb = await s3.client.send(new HeadObjectCommand({ Bucket: "miinventario", Key: `thumbnails/${sessionId}/thumb.jpg` }));
  assert.equal(thumb.ContentType, "image/jpeg");
  assert.equal(thumb.ServerSideEncryption, "AES256");

  // The dashboard plays the video through a presigned GET.
  const play = await fetch(await s3.getSignedDownloadUrl(key), { headers: { Range: "bytes=0-1023" } });
  assert.equal(play.status, 206);
  assert.deepEqual(Buffer.from(await play.arrayBuffer()), VIDEO.subarray(0, 1024));
});

test("private bucket: no anonymous reads, listings or writes", async () => {
  await s3.upload("products/p-1/image.jpg", Buffer.from("\xff\xd8\xff img", "latin1"), "image/jpeg");
  const base = `${almacen.endpoint}/miinventario`;
  assert.equal((await fetch(`${base}/products/p-1/image.jpg`)).status, 403);
  assert.equal((await fetch(`${base}?list-type=2`)).status, 403);
  assert.equal((await fetch(`${base}/products/p-1/x.jpg`, { method: "PUT", body: "x" })).status, 403);
  // The URL `upload()` returns is therefore only for the backend's records.
  const url = await s3.upload("products/p-1/image2.jpg", Buffer.from("x"), "image/jpeg");
  assert.equal(url, `${almacen.endpoint}/miinventario/products/p-1/image2.jpg`);
  assert.equal((await fetch(url)).status, 403);
  await s3.delete("products/p-1/image2.jpg");
  await assert.rejects(s3.client.send(new HeadObjectCommand({ Bucket: "miinventario", Key: "products/p-1/image2.jpg" })));
});

test("CORS: the app's origin may PUT presigned parts and read ETag; others may not", async () => {
  const url = await s3.getSignedUploadUrl("frames/s-cors/frame_001.jpg", "image/jpeg");
  const pre = (origin) =>
    fetch(url, {
      method: "OPTIONS",
      headers: { Origin: origin, "Access-Control-Request-Method": "PUT", "Access-Control-Request-Headers": "content-type" },
    });
  const ok = await pre(APP_ORIGIN);
  assert.equal(ok.status, 200);
  assert.equal(ok.headers.get("access-control-allow-origin"), APP_ORIGIN);
  assert.match(ok.headers.get("access-control-allow-methods"), /PUT/);
  const bad = await pre("https://evil.example");
  assert.equal(bad.status, 403);
  assert.equal(bad.headers.get("access-control-allow-origin"), null);

  const put = await fetch(url, { method: "PUT", body: "f", headers: { Origin: APP_ORIGIN, "Content-Type": "image/jpeg" } });
  assert.equal(put.status, 200);
  assert.equal(put.headers.get("access-control-allow-origin"), APP_ORIGIN);
  assert.match(put.headers.get("access-control-expose-headers") ?? "", /etag/i);
});

test("SSE-S3: bytes are encrypted at rest", async () => {
  const marker = "MIINVENTARIO-PLAINTEXT-MARKER-" + randomBytes(8).toString("hex");
  await s3.upload("evidence/s-200/closeup_1.jpg", Buffer.from(marker.repeat(100)), "image/jpeg");
  const head = await s3.client.send(new HeadObjectCommand({ Bucket: "miinventario", Key: "evidence/s-200/closeup_1.jpg" }));
  assert.equal(head.ServerSideEncryption, "AES256");
  assert.equal((await s3.getObjectBytes("evidence/s-200/closeup_1.jpg")).toString(), marker.repeat(100));
  // No file in the data folder holds the plaintext.
  const walk = (dir) =>
    readdirSync(dir).flatMap((n) => {
      const p = join(dir, n);
      return statSync(p).isDirectory() ? walk(p) : [p];
    });
  const files = walk(almacen.dataDir);
  assert.ok(files.length > 0);
  for (const f of files) assert.ok(!readFileSync(f).includes(marker), `${f} holds the plaintext`);
});

test("the seed's lifecycle JSON is kept as is and expires frames/ after 7 days", async () => {
  const got = await s3.client.send(new GetBucketLifecycleConfigurationCommand({ Bucket: "miinventario" }));
  assert.deepEqual(
    got.Rules.map((r) => [r.ID, r.Status, r.Filter.Prefix, r.Expiration.Days]),
    [
      ["DeleteOldVideos", "Enabled", "videos/", 30],
      ["DeleteOldFrames", "Enabled", "frames/", 7],
    ],
  );
  // The same JSON on a server whose "day" lasts one second (a demo setting),
  // so that 7 days pass during the test.
  const fast = await startAlmacen({ user: "minioadmin", password: "minioadmin", env: { ALMACEN_LIFECYCLE_DAY_SECONDS: "1" } });
  try {
    const svc = new S3Service({ S3_ENDPOINT: fast.endpoint, S3_ACCESS_KEY: "minioadmin", S3_SECRET_KEY: "minioadmin", S3_BUCKET: "miinventario", S3_REGION: "us-east-1" });
    await svc.client.send(new CreateBucketCommand({ Bucket: "miinventario" }));
    await svc.client.send(new PutBucketLifecycleConfigurationCommand({ Bucket: "miinventario", LifecycleConfiguration: JSON.parse(SEED_LIFECYCLE) }));
    await svc.upload("frames/s-1/frame_001.jpg", Buffer.from("f"), "image/jpeg");
    await svc.upload("videos/u/s-1/video.mp4", Buffer.from("v"), "video/mp4");
    await svc.upload("thumbnails/s-1/thumb.jpg", Buffer.from("t"), "image/jpeg");
    const keys = async () =>
      ((await svc.client.send(new ListObjectsV2Command({ Bucket: "miinventario" }))).Contents ?? []).map((o) => o.Key);
    await eventually(async () => !(await keys()).includes("frames/s-1/frame_001.jpg"), 30000, "frames/ to expire");
    // Videos live 30 "days", thumbnails have no rule.
    assert.deepEqual((await keys()).sort(), ["thumbnails/s-1/thumb.jpg", "videos/u/s-1/video.mp4"]);
    await svc.client.send(new HeadBucketCommand({ Bucket: "miinventario" }));
  } finally {
    fast.stop();
  }
});
