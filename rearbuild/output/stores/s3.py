"""S3 store (OUTPUT_URL=s3://BUCKET/PREFIX), through boto3. An object appears under its key only when its
upload completed: S3's PutObject and CompleteMultipartUpload are atomic (a dropped single upload leaves nothing,
an unfinished multipart upload is a set of parts no GET returns), so objects are written under their final keys.
Each object carries its sha256 as user metadata (x-amz-meta-sha256): an object with the same sha256 is not sent
again.

Credentials: boto3's default chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE and ~/.aws/credentials,
instance roles). The endpoint: S3_ENDPOINT_URL (empty: AWS_ENDPOINT_URL or AWS's own), with path-style addressing
when it is set (MinIO, SeaweedFS, Ceph). Retries are botocore's "standard" mode: connection errors, throttling and
5xx, ATTEMPTS attempts with exponential backoff and jitter; not 4xx."""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

from rearbuild.errors import UserError
from rearbuild.output.stores.transfer import ATTEMPTS, NotFound

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# botocore's answers to credentials it does not accept
_CREDENTIAL_CODES = frozenset({"InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "403",
                               "InvalidToken", "ExpiredToken"})  # fmt: skip
_HINT = ("set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE naming a profile in ~/.aws/credentials, "
         "that may write the bucket")  # fmt: skip


class S3Store:
    sidecars = True

    def __init__(self, bucket: str, prefix: str, endpoint_url: str) -> None:
        try:
            import boto3
            from botocore.config import Config
        except ImportError:
            raise UserError("s3:// needs the Python package boto3",
                            hint="pip install 'rearbuild[publish]' (or apt install python3-boto3)",
                            ) from None  # fmt: skip
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.location = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"
        config = Config(retries={"max_attempts": ATTEMPTS, "mode": "standard"},
                        s3={"addressing_style": "path"} if endpoint_url else {},
                        connect_timeout=10, read_timeout=60)  # fmt: skip
        self._s3: S3Client = boto3.session.Session().client("s3", endpoint_url=endpoint_url or None, config=config)

    def _key(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name

    def _fail(self, exc: Exception, what: str) -> Exception:
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

        if isinstance(exc, NoCredentialsError):
            return UserError(f"{what}: no AWS credentials found", hint=_HINT)
        if isinstance(exc, ClientError):
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in ("404", "NoSuchKey", "NotFound"):
                return NotFound(what)
            if code in _CREDENTIAL_CODES:
                return UserError(f"{what}: S3 refused the credentials ({code})", hint=_HINT)
            if code == "NoSuchBucket":
                return UserError(f"{what}: the bucket {self.bucket} does not exist",
                                 hint="create it, or correct the bucket in the URL")  # fmt: skip
            return UserError(f"{what}: S3 answered {code}", hint="check the URL, the bucket and S3_ENDPOINT_URL")
        if isinstance(exc, BotoCoreError):
            # botocore's messages name the endpoint and the cause, never the credentials
            return UserError(f"{what}: {exc}", hint="check that the S3 endpoint (S3_ENDPOINT_URL) is reachable")
        return exc

    def exists(self, name: str, sha256: str) -> bool:
        what = f"{self.location}/{name}"
        try:
            head = self._s3.head_object(Bucket=self.bucket, Key=self._key(name))
        except Exception as exc:
            failure = self._fail(exc, what)
            if isinstance(failure, NotFound):
                return False
            raise failure from None
        # some servers capitalise user metadata keys (rclone: Sha256)
        found = {k.lower(): v for k, v in head.get("Metadata", {}).items()}.get("sha256")
        return found == sha256

    def put(self, name: str, source: Path | bytes, sha256: str) -> bool:
        if self.exists(name, sha256):
            return False
        extra = {"Metadata": {"sha256": sha256}, "ContentType": "application/octet-stream"}
        try:
            if isinstance(source, Path):
                self._s3.upload_file(str(source), self.bucket, self._key(name), ExtraArgs=extra)
            else:
                self._s3.upload_fileobj(io.BytesIO(source), self.bucket, self._key(name), ExtraArgs=extra)
        except Exception as exc:
            raise self._fail(getattr(exc, "last_exception", None) or exc, f"{self.location}/{name}") from None
        return True

    def get(self, name: str, target: Path) -> None:
        try:
            self._s3.download_file(self.bucket, self._key(name), str(target))
        except Exception as exc:
            raise self._fail(exc, f"{self.location}/{name}") from None
