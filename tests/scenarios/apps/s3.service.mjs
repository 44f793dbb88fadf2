// Seeds 000/002 (MiInventario, NestJS): INT-005's S3Service, as the backend
// writes it (TypeScript there, plain ESM here, @Injectable() left out).
// Configured only by S3_* variables; forcePathStyle "Necesario para MinIO".
import {
  S3Client,
  PutObjectCommand,
  GetObjectCommand,
  DeleteObjectCommand,
  CreateMultipartUploadCommand,
  UploadPartCommand,
  CompleteMultipartUploadCommand,
} from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";

export class S3Service {
  constructor(env = process.env) {
    this.env = env;
    this.client = new S3Client({
      endpoint: env.S3_ENDPOINT,
      region: env.S3_REGION,
      credentials: {
        accessKeyId: env.S3_ACCESS_KEY,
        secretAccessKey: env.S3_SECRET_KEY,
      },
      forcePathStyle: true, // Necesario para MinIO
    });
    this.bucket = env.S3_BUCKET;
  }

  async upload(key, body, contentType) {
    await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentType: contentType }));
    return `${this.env.S3_ENDPOINT}/${this.bucket}/${key}`;
  }

  async getSignedUploadUrl(key, contentType, expiresIn = 3600) {
    const command = new PutObjectCommand({ Bucket: this.bucket, Key: key, ContentType: contentType });
    return getSignedUrl(this.client, command, { expiresIn });
  }

  async getSignedDownloadUrl(key, expiresIn = 3600) {
    const command = new GetObjectCommand({ Bucket: this.bucket, Key: key });
    return getSignedUrl(this.client, command, { expiresIn });
  }

  async delete(key) {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
  }

  // Upload multipart (section 5) -------------------------------------------

  async initMultipartUpload(key, contentType = "video/mp4") {
    const { UploadId } = await this.client.send(
      new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: key, ContentType: contentType }),
    );
    return UploadId;
  }

  /** Step 3 of the video flow: the phone PUTs each part to a presigned URL. */
  async getSignedUploadPartUrl(key, uploadId, partNumber, expiresIn = 3600) {
    const command = new UploadPartCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId, PartNumber: partNumber });
    return getSignedUrl(this.client, command, { expiresIn });
  }

  async uploadPart(key, uploadId, partNumber, body) {
    const { ETag } = await this.client.send(
      new UploadPartCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId, PartNumber: partNumber, Body: body }),
    );
    return { ETag, PartNumber: partNumber };
  }

  async completeMultipartUpload(key, uploadId, parts) {
    return this.client.send(
      new CompleteMultipartUploadCommand({
        Bucket: this.bucket,
        Key: key,
        UploadId: uploadId,
        MultipartUpload: { Parts: parts },
      }),
    );
  }

  async getObjectBytes(key) {
    const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
    return Buffer.from(await out.Body.transformToByteArray());
  }
}
