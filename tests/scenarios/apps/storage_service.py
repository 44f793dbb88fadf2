"""Seed 001's `app/services/storage_service.py` (PASO 7), written as the
Flask catalog writes it: boto3 against MinIO/S3/Spaces, configured only by
S3_* environment variables, bucket created on first use with a public-read
policy, files validated (2 MB, image types) before they leave the app.

Nothing here knows it talks to almacen: that is the point of the scenario.
"""

from __future__ import annotations

import json
import logging
import os

import boto3
from botocore.client import Config
from botocore.exceptions import ClientError

log = logging.getLogger("storage")

MAX_UPLOAD_SIZE = int(os.getenv("MAX_UPLOAD_SIZE", 2 * 1024 * 1024))  # 2MB
ALLOWED_MIME_TYPES = {"image/jpeg", "image/png", "image/gif", "image/webp"}


class StorageService:
    def __init__(self):
        self.endpoint = os.getenv("S3_ENDPOINT", "http://minio:9000")
        self.bucket = os.getenv("S3_BUCKET", "uploads")
        self.public_url = os.getenv("S3_PUBLIC_URL", "http://localhost:9000").rstrip("/")
        self.client = boto3.client(
            "s3",
            endpoint_url=self.endpoint or None,
            aws_access_key_id=os.getenv("S3_ACCESS_KEY", "minioadmin"),
            aws_secret_access_key=os.getenv("S3_SECRET_KEY", "minioadmin"),
            region_name=os.getenv("S3_REGION", "us-east-1"),
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
        )
        self._ensure_bucket()

    def _ensure_bucket(self):
        try:
            self.client.head_bucket(Bucket=self.bucket)
            log.info("[STORAGE] Bucket '%s' exists", self.bucket)
        except ClientError as e:
            if e.response["Error"]["Code"] not in ("404", "NoSuchBucket"):
                raise
            self.client.create_bucket(Bucket=self.bucket)
            log.info("[STORAGE] Bucket '%s' created", self.bucket)
        policy = {
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{self.bucket}/*",
            }],
        }
        self.client.put_bucket_policy(Bucket=self.bucket, Policy=json.dumps(policy))

    def _validate(self, data: bytes, content_type: str, filename: str):
        if len(data) > MAX_UPLOAD_SIZE:
            max_mb = MAX_UPLOAD_SIZE / (1024 * 1024)
            raise ValueError(f"El archivo es demasiado grande. Máximo {max_mb:.1f}MB")
        if content_type not in ALLOWED_MIME_TYPES:
            raise ValueError(f"Tipo de archivo no permitido: {content_type}")
        log.info("[STORAGE] File validation passed: %s (%d bytes, %s)", filename, len(data), content_type)

    def upload_file(self, file, object_name: str, content_type: str) -> str:
        """Uploads a file-like object (Werkzeug's FileStorage in the app) and
        returns its public URL, which the app stores in product.image_path."""
        data = file.read()
        self._validate(data, content_type, object_name.rsplit("/", 1)[-1])
        log.info("[STORAGE] Uploading '%s' to bucket '%s'...", object_name, self.bucket)
        self.client.put_object(Bucket=self.bucket, Key=object_name, Body=data, ContentType=content_type)
        return self.get_public_url(object_name)

    def delete_file(self, object_name: str) -> bool:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=object_name)
            return True
        except ClientError:
            log.exception("[STORAGE] delete failed: %s", object_name)
            return False

    def get_public_url(self, object_name: str) -> str:
        return f"{self.public_url}/{self.bucket}/{object_name}"

    def file_exists(self, object_name: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=object_name)
            return True
        except ClientError as e:
            if e.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
                return False
            raise

    def object_name_from_url(self, url: str) -> str:
        return url.split(f"/{self.bucket}/", 1)[1]

    def presigned_post(self, object_name: str, content_type: str, expires: int = 600) -> dict:
        """A browser form upload with the same limits as _validate, enforced
        by the storage server itself."""
        return self.client.generate_presigned_post(
            self.bucket,
            object_name,
            Fields={"Content-Type": content_type},
            Conditions=[
                ["content-length-range", 1, MAX_UPLOAD_SIZE],
                ["starts-with", "$Content-Type", "image/"],
                {"Content-Type": content_type},
            ],
            ExpiresIn=expires,
        )


_instance: StorageService | None = None


def get_storage_service() -> StorageService:
    global _instance
    if _instance is None:
        _instance = StorageService()
    return _instance


def reset_storage_service() -> None:
    """For the app factory (and tests): forget the cached client."""
    global _instance
    _instance = None
