// Seed 004 (Oracle Lumira): the S3 client service of the architecture note.
// multer memoryStorage hands the route buffers; the service stores them as
// `{uuid}-{timestamp}-{originalname}` under the customer's folder, returns
// signed URLs valid 24 h ("URLs signées, Expiration 24h"), lists and deletes
// a customer's files (RGPD "droit de suppression": every version too, since
// versioning is on "pour récupération"), retries with backoff (3 attempts
// maximum) and sends a checksum so corruption is detected by the storage.
import {
  S3Client,
  PutObjectCommand,
  GetObjectCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  CopyObjectCommand,
} from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { createHash, randomUUID } from "node:crypto";

export const MAX_IMAGE_BYTES = 10 * 1024 * 1024;
export const IMAGE_TYPES = ["image/jpeg", "image/png", "image/gif", "image/webp", "image/heic", "image/heif"];

export class StorageService {
  constructor(env) {
    this.bucket = env.S3_BUCKET_NAME;
    this.client = new S3Client({
      endpoint: env.S3_ENDPOINT || undefined,
      region: env.S3_REGION,
      credentials: { accessKeyId: env.S3_ACCESS_KEY, secretAccessKey: env.S3_SECRET_KEY },
      forcePathStyle: env.S3_FORCE_PATH_STYLE === "true",
      maxAttempts: 3, // "Retry avec backoff: 3 tentatives maximum"
    });
  }

  static keyFor(customerId, originalname, now = Date.now()) {
    return `customers/${customerId}/${randomUUID()}-${now}-${originalname}`;
  }

  /** multer's file: { buffer, originalname, mimetype, size }. */
  async uploadFile(customerId, file, { checksumOf = file.buffer } = {}) {
    if (!IMAGE_TYPES.includes(file.mimetype)) throw new Error(`type non autorisé: ${file.mimetype}`);
    if (file.size > MAX_IMAGE_BYTES) throw new Error(`fichier trop volumineux: ${file.size}`);
    const key = StorageService.keyFor(customerId, file.originalname);
    const out = await this.putWithChecksum(key, file.buffer, file.mimetype, checksumOf);
    return { key, url: await this.getFileUrl(key), versionId: out.VersionId, attempts: out.$metadata.attempts };
  }

  /** PUT with the SHA-256 of `checksumOf` (normally the body itself). */
  async putWithChecksum(key, body, contentType, checksumOf = body) {
    return this.client.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: key,
        Body: body,
        ContentType: contentType,
        ChecksumSHA256: createHash("sha256").update(checksumOf).digest("base64"),
      }),
    );
  }

  async getFileUrl(key, expiresIn = 24 * 3600) {
    return getSignedUrl(this.client, new GetObjectCommand({ Bucket: this.bucket, Key: key }), { expiresIn });
  }

  async deleteFile(key) {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
    return true;
  }

  async listFiles(customerId) {
    const files = [];
    let ContinuationToken;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: `customers/${customerId}/`, ContinuationToken }),
      );
      for (const o of page.Contents ?? []) files.push({ key: o.Key, size: o.Size, lastModified: o.LastModified });
      ContinuationToken = page.NextContinuationToken;
    } while (ContinuationToken);
    return files;
  }

  /** RGPD erasure: every version and delete marker under the customer's folder. */
  async eraseCustomer(customerId) {
    let erased = 0;
    for (;;) {
      const page = await this.client.send(
        new ListObjectVersionsCommand({ Bucket: this.bucket, Prefix: `customers/${customerId}/` }),
      );
      const all = [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])].map((v) => ({ Key: v.Key, VersionId: v.VersionId }));
      if (all.length === 0) return erased;
      const out = await this.client.send(
        new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: all, Quiet: true } }),
      );
      if (out.Errors?.length) throw new Error(`erasure failed: ${JSON.stringify(out.Errors)}`);
      erased += all.length;
    }
  }

  async versions(key) {
    const page = await this.client.send(new ListObjectVersionsCommand({ Bucket: this.bucket, Prefix: key }));
    return (page.Versions ?? []).filter((v) => v.Key === key);
  }

  /** Recovery: the version before the current one becomes current again. */
  async restorePrevious(key) {
    // S3 lists a key's versions newest first.
    const [current, previous] = await this.versions(key);
    if (!current?.IsLatest || !previous) throw new Error(`no older version of ${key}`);
    await this.client.send(
      new CopyObjectCommand({
        Bucket: this.bucket,
        Key: key,
        CopySource: `${this.bucket}/${encodeURIComponent(key)}?versionId=${encodeURIComponent(previous.VersionId)}`,
      }),
    );
    return previous.VersionId;
  }

  async getBytes(key, versionId) {
    const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key, VersionId: versionId }));
    return Buffer.from(await out.Body.transformToByteArray());
  }
}
