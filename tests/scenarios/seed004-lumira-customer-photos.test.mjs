// Scenario: seed 004, Oracle Lumira. Customers' face and palm photos arrive
// as multer memory buffers and go to the bucket with the S3 SDK; the Expert
// Desk shows them through 24 h signed URLs. RGPD erasure, recovery from an
// older version, retry on a 503 and checksum validation are the note's
// "Conformité RGPD" and "Gestion des Pannes" tables.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer, request } from "node:http";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { CreateBucketCommand, PutBucketVersioningCommand, PutObjectCommand, HeadObjectCommand } from "@aws-sdk/client-s3";
import { StorageService, MAX_IMAGE_BYTES } from "./apps/lumira-storage.mjs";
import { startAlmacen } from "./harness.mjs";

const USER = "lumira_admin";
const PASSWORD = "LumiraMinIO2025!Secure";
const BUCKET = "lumira-client-files";
const JPEG = (n) => Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 0x4a, 0x46, 0x49, 0x46, 0]), randomBytes(n)]);
const HEIC_HEAD = Buffer.from("\0\0\0\x18ftypheic\0\0\0\0mif1heic", "latin1");
const HEIC = (n) => Buffer.concat([HEIC_HEAD, randomBytes(n)]);
// The operator's upload rule (README, "Upload rules", seed 004).
const RULES = {
  rules: [{ prefix: "customers/", max_size: "10MiB", content_types: ["image/jpeg", "image/png", "image/gif", "image/webp", "image/heic", "image/heif"] }],
};

let almacen, storage;
const env = (endpoint) => ({
  S3_ENDPOINT: endpoint,
  S3_ACCESS_KEY: USER,
  S3_SECRET_KEY: PASSWORD,
  S3_BUCKET_NAME: BUCKET,
  S3_REGION: "us-east-1",
  S3_FORCE_PATH_STYLE: "true",
});
const multer = (originalname, mimetype, buffer) => ({ originalname, mimetype, buffer, size: buffer.length });

before(async () => {
  almacen = await startAlmacen({ user: USER, password: PASSWORD, env: { ALMACEN_BUCKETS: BUCKET } });
  storage = new StorageService(env(almacen.endpoint));
  await storage.client.send(new PutBucketVersioningCommand({ Bucket: BUCKET, VersioningConfiguration: { Status: "Enabled" } }));
  const rules = join(almacen.dataDir, "..", `lumira-rules-${process.pid}.json`);
  writeFileSync(rules, JSON.stringify(RULES));
  almacen.admin("bucket", "rules", "set", "srv", BUCKET, rules);
});

after(() => almacen?.stop());

test("photos stored as {uuid}-{timestamp}-{originalname}, up to 10 MiB, heic included", async () => {
  const face = await storage.uploadFile("cus_1", multer("visage.jpg", "image/jpeg", JPEG(200_000)));
  assert.match(face.key, /^customers\/cus_1\/[0-9a-f-]{36}-\d{13}-visage\.jpg$/);
  const palm = await storage.uploadFile("cus_1", multer("paume IMG_0042.HEIC", "image/heic", HEIC(MAX_IMAGE_BYTES - HEIC_HEAD.length)));
  assert.equal(palm.key.endsWith("-paume IMG_0042.HEIC"), true);
  const head = await storage.client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: palm.key }));
  assert.equal(head.ContentLength, MAX_IMAGE_BYTES);
  assert.equal(head.ContentType, "image/heic");
  // Over 10 MiB, or not an image: the app refuses, and so does the bucket.
  await assert.rejects(storage.uploadFile("cus_1", multer("big.heic", "image/heic", HEIC(MAX_IMAGE_BYTES))), /trop volumineux/);
  await assert.rejects(
    storage.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: "customers/cus_1/big.heic", Body: HEIC(MAX_IMAGE_BYTES), ContentType: "image/heic" })),
    (e) => e.name === "EntityTooLarge",
  );
  await assert.rejects(
    storage.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: "customers/cus_1/x.pdf", Body: Buffer.from("%PDF-1.7 x"), ContentType: "application/pdf" })),
    (e) => e.name === "UploadRuleViolation",
  );
});

test("the Expert Desk opens files by signed URLs valid 24 h; the bucket stays private", async () => {
  const buf = JPEG(5000);
  const { key, url } = await storage.uploadFile("cus_2", multer("visage.jpg", "image/jpeg", buf));
  assert.equal(new URL(url).searchParams.get("X-Amz-Expires"), "86400");
  const res = await fetch(url);
  assert.equal(res.status, 200);
  assert.deepEqual(Buffer.from(await res.arrayBuffer()), buf);
  assert.equal(res.headers.get("content-type"), "image/jpeg");
  const bare = `${almacen.endpoint}/${BUCKET}/${key.split("/").map(encodeURIComponent).join("/")}`;
  assert.equal((await fetch(bare)).status, 403);
});

test("list a customer's files", async () => {
  const keys = [];
  for (const n of ["a.jpg", "b.jpg", "c.jpg"]) keys.push((await storage.uploadFile("cus_3", multer(n, "image/jpeg", JPEG(100)))).key);
  await storage.uploadFile("cus_30", multer("other.jpg", "image/jpeg", JPEG(100)));
  const files = await storage.listFiles("cus_3");
  assert.deepEqual(files.map((f) => f.key).sort(), keys.sort());
  assert.ok(files.every((f) => f.size === 111));
});

test("RGPD erasure removes every version of every file of the customer, and only theirs", async () => {
  const { key } = await storage.uploadFile("cus_4", multer("visage.jpg", "image/jpeg", JPEG(100)));
  await storage.putWithChecksum(key, JPEG(120), "image/jpeg"); // a second version
  const palm = await storage.uploadFile("cus_4", multer("paume.jpg", "image/jpeg", JPEG(100)));
  await storage.deleteFile(palm.key); // a delete marker over the old version
  const other = await storage.uploadFile("cus_40", multer("visage.jpg", "image/jpeg", JPEG(100)));
  assert.equal((await storage.versions(key)).length, 2);

  const erased = await storage.eraseCustomer("cus_4");
  assert.equal(erased, 4); // two versions + one version + one delete marker
  assert.deepEqual(await storage.listFiles("cus_4"), []);
  assert.equal(await storage.eraseCustomer("cus_4"), 0, "nothing left, not even old versions");
  assert.deepEqual((await storage.listFiles("cus_40")).map((f) => f.key), [other.key]);
});

test("an overwritten photo is recovered from its older version", async () => {
  const original = JPEG(3000);
  const { key, versionId } = await storage.uploadFile("cus_5", multer("visage.jpg", "image/jpeg", original));
  await storage.putWithChecksum(key, JPEG(3000), "image/jpeg"); // the mistake
  assert.notDeepEqual(await storage.getBytes(key), original);
  const restored = await storage.restorePrevious(key);
  assert.equal(restored, versionId);
  assert.deepEqual(await storage.getBytes(key), original);
  assert.equal((await storage.versions(key)).length, 3, "the mistake is kept as a version too");
});

test("retry with backoff when the storage answers 503 once", async () => {
  // A proxy that answers the first request with S3's 503 SlowDown and
  // forwards the rest untouched (same Host header, so signatures hold).
  const target = new URL(almacen.endpoint);
  let seen = 0;
  const proxy = createServer((req, res) => {
    seen++;
    if (seen === 1) {
      req.resume();
      res.writeHead(503, { "Content-Type": "application/xml" });
      res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>');
      return;
    }
    const fwd = request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode, up.headers);
      up.pipe(res);
    });
    req.pipe(fwd);
  });
  await new Promise((r) => proxy.listen(0, "127.0.0.1", r));
  try {
    const flaky = new StorageService(env(`http://127.0.0.1:${proxy.address().port}`));
    const buf = JPEG(4000);
    const { key, attempts } = await flaky.uploadFile("cus_6", multer("visage.jpg", "image/jpeg", buf));
    assert.equal(attempts, 2);
    assert.equal(seen, 2);
    assert.deepEqual(await storage.getBytes(key), buf);
  } finally {
    proxy.close();
  }
});

test("a corrupted upload is detected by its checksum and uploaded again", async () => {
  const good = JPEG(8000);
  const corrupted = Buffer.from(good);
  corrupted[5000] ^= 0xff; // a flipped byte between the app's buffer and the network
  const key = StorageService.keyFor("cus_7", "visage.jpg");
  await assert.rejects(storage.putWithChecksum(key, corrupted, "image/jpeg", good), (e) => {
    assert.equal(e.name, "BadDigest");
    assert.equal(e.$metadata.httpStatusCode, 400);
    return true;
  });
  assert.deepEqual(await storage.listFiles("cus_7"), [], "nothing stored");
  // Content-MD5 too, as older clients send it.
  await assert.rejects(
    storage.client.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: corrupted, ContentType: "image/jpeg", ContentMD5: "1B2M2Y8AsgTpgAmY7PhCfg==" }),
    ),
    (e) => e.name === "BadDigest",
  );
  // "Re-upload demandé": the retry with the right bytes is stored.
  await storage.putWithChecksum(key, good, "image/jpeg");
  assert.deepEqual(await storage.getBytes(key), good);
});
