// Scenario: seed 003, Vigila (Express + multer + the `minio` npm client),
// with the compose settings of examples/compose/seed-003-vigila.yml:
// admin/admin123 and ALMACEN_BUCKETS=videos. The MySQL `videos` table is
// mocked; the storage is the real almacen.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startAlmacen } from "./harness.mjs";
import * as app from "./apps/vigila-backend.mjs";

/** The MySQL table of the seed: id, filename, s3_key, size, upload_date. */
class VideosTable {
  rows = new Map();
  next = 1;
  insert(row) {
    const id = this.next++;
    this.rows.set(id, { id, ...row, upload_date: new Date() });
    return id;
  }
  findById(id) {
    return this.rows.get(id);
  }
  all() {
    return [...this.rows.values()];
  }
  remove(id) {
    this.rows.delete(id);
  }
}

let almacen, minio;
const db = new VideosTable();
const uploadsDir = mkdtempSync(join(tmpdir(), "vigila-multer-"));
const VIDEO = randomBytes(12 * 1024 * 1024 + 12345);

/** What multer's diskStorage gives the route. */
function multerFile(name, data, mimetype = "video/mp4") {
  const path = join(uploadsDir, randomBytes(8).toString("hex"));
  writeFileSync(path, data);
  return { originalname: name, mimetype, path, size: data.length };
}

before(async () => {
  almacen = await startAlmacen({ user: "admin", password: "admin123", env: { ALMACEN_BUCKETS: "videos" } });
  minio = app.storageFromEnv({ S3_ENDPOINT: almacen.endpoint, S3_ACCESS_KEY: "admin", S3_SECRET_KEY: "admin123" });
});

after(() => almacen?.stop());

test("the bucket `videos` exists at start; the app's check is idempotent", async () => {
  assert.equal(await minio.bucketExists("videos"), true);
  await app.ensureBucket(minio);
  const buckets = (await minio.listBuckets()).map((b) => b.name);
  assert.deepEqual(buckets, ["videos"]);
});

test("upload, list, download in full and by Range, delete", async () => {
  const file = multerFile("camara-1 entrada.mp4", VIDEO);
  const { id, s3_key } = await app.uploadVideo(minio, db, file);
  assert.equal(existsSync(file.path), false, "the temp file is gone");
  const small = await app.uploadVideo(minio, db, multerFile("camara-2.mp4", Buffer.from("tiny video")));

  // The listing from the app's table, and the bucket agrees with it.
  assert.deepEqual(
    app.listVideos(db).map((r) => [r.filename, r.size]),
    [
      ["camara-1 entrada.mp4", VIDEO.length],
      ["camara-2.mp4", 10],
    ],
  );
  const stored = await app.listStoredKeys(minio);
  assert.deepEqual(
    stored.map((o) => [o.name, o.size]).sort(),
    app.listVideos(db).map((r) => [r.s3_key, r.size]).sort(),
  );

  const full = await app.downloadVideo(minio, db, id);
  assert.equal(full.status, 200);
  assert.equal(full.headers["Content-Type"], "video/mp4");
  assert.ok(full.body.equals(VIDEO));

  // Video seeking: the player asks for a middle slice, then the tail.
  const mid = await app.downloadVideo(minio, db, id, "bytes=5242000-5243999");
  assert.equal(mid.status, 206);
  assert.equal(mid.headers["Content-Range"], `bytes 5242000-5243999/${VIDEO.length}`);
  assert.ok(mid.body.equals(VIDEO.subarray(5242000, 5244000)));
  const tail = await app.downloadVideo(minio, db, id, `bytes=${VIDEO.length - 100}-`);
  assert.ok(tail.body.equals(VIDEO.subarray(VIDEO.length - 100)));

  const stat = await minio.statObject("videos", s3_key);
  assert.equal(stat.size, VIDEO.length);
  // The client sends files under its 64 MiB part size in one PUT.
  assert.equal(stat.etag, createHash("md5").update(VIDEO).digest("hex"));

  await app.deleteVideo(minio, db, small.id);
  await assert.rejects(minio.statObject("videos", small.s3_key), (e) => e.code === "NotFound");
  assert.equal(app.listVideos(db).length, 1);
});

test("wrong credentials are refused", async () => {
  const intruder = app.storageFromEnv({ S3_ENDPOINT: almacen.endpoint, S3_ACCESS_KEY: "admin", S3_SECRET_KEY: "root" });
  await assert.rejects(intruder.listBuckets(), (e) => e.code === "SignatureDoesNotMatch");
});
