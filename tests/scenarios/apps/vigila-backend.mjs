// Seed 003 (Vigila: "AWS simulated with Docker"): the Express backend's
// storage code. Multer writes the upload to a temp file; the backend puts it
// in MinIO (S3) with the `minio` npm client, keeps its metadata in MySQL
// (RDS), deletes the temp file, and serves downloads, seekable by Range.
// `db` is the app's own `videos` table (mocked by the scenario).
import * as Minio from "minio";
import { unlink } from "node:fs/promises";

export const BUCKET = "videos"; // "Bucket predeterminado: videos"

export function storageFromEnv(env) {
  const url = new URL(env.S3_ENDPOINT);
  return new Minio.Client({
    endPoint: url.hostname,
    port: Number(url.port),
    useSSL: url.protocol === "https:",
    accessKey: env.S3_ACCESS_KEY,
    secretKey: env.S3_SECRET_KEY,
  });
}

/** At start: the bucket exists (compose creates it) or the backend makes it. */
export async function ensureBucket(minio) {
  if (!(await minio.bucketExists(BUCKET))) await minio.makeBucket(BUCKET, "us-east-1");
}

/** POST /upload: `file` is what multer's diskStorage hands the route. */
export async function uploadVideo(minio, db, file) {
  const s3Key = `${Date.now()}-${file.originalname}`;
  await minio.fPutObject(BUCKET, s3Key, file.path, { "Content-Type": file.mimetype });
  const id = db.insert({ filename: file.originalname, s3_key: s3Key, size: file.size });
  await unlink(file.path); // 5. Backend elimina archivo temporal
  return { id, s3_key: s3Key };
}

/** GET /videos: the listing comes from MySQL. */
export function listVideos(db) {
  return db.all();
}

/** The bucket's own view, for the operator's consistency check. */
export async function listStoredKeys(minio) {
  const keys = [];
  for await (const o of minio.listObjectsV2(BUCKET, "", true)) keys.push({ name: o.name, size: o.size });
  return keys;
}

/** GET /videos/:id/download, honouring `Range: bytes=start-end` for the player. */
export async function downloadVideo(minio, db, id, range) {
  const row = db.findById(id);
  if (!row) return { status: 404 };
  const stat = await minio.statObject(BUCKET, row.s3_key);
  let stream;
  let status = 200;
  let start = 0;
  let end = stat.size - 1;
  const m = range && /^bytes=(\d+)-(\d*)$/.exec(range);
  if (m) {
    start = Number(m[1]);
    end = m[2] ? Math.min(Number(m[2]), stat.size - 1) : stat.size - 1;
    stream = await minio.getPartialObject(BUCKET, row.s3_key, start, end - start + 1);
    status = 206;
  } else {
    stream = await minio.getObject(BUCKET, row.s3_key);
  }
  const chunks = [];
  for await (const c of stream) chunks.push(c);
  return {
    status,
    headers: {
      "Content-Type": stat.metaData["content-type"],
      "Content-Range": status === 206 ? `bytes ${start}-${end}/${stat.size}` : undefined,
    },
    body: Buffer.concat(chunks),
  };
}

/** DELETE /videos/:id. */
export async function deleteVideo(minio, db, id) {
  const row = db.findById(id);
  await minio.removeObject(BUCKET, row.s3_key);
  db.remove(id);
}
