"""One object-storage interface for FAVE functions, over boto3 or minio.

::

    from storage_helper import get_storage, download_to_tmp

    storage = get_storage()                      # backend and endpoint from the environment
    storage.upload_file("fave", "jobs/1/in.wav", "/tmp/in.wav")          # content type guessed: audio/x-wav
    with storage.download_to_tmp("fave", "jobs/1/in.wav") as path:       # deleted when the block ends
        ...
    for key in storage.list_keys("fave", prefix="jobs/1/"):
        ...

    with download_to_tmp("fave", "jobs/1/in.wav") as path:   # module-level shortcut on the default storage
        ...

Configuration (:class:`StorageConfig`, read by :meth:`StorageConfig.from_env`)
----------------------------------------------------------------------------
================================  =================================================  =====================
variable                          meaning                                            default
================================  =================================================  =====================
``FAVE_STORAGE_BACKEND``          ``boto3`` or ``minio``                             ``boto3``
``FAVE_S3_ENDPOINT``              endpoint URL (``http://minio:9000``); also         AWS (boto3 only)
                                  ``AWS_ENDPOINT_URL_S3``, ``AWS_ENDPOINT_URL``
``FAVE_S3_ACCESS_KEY``            access key; also ``AWS_ACCESS_KEY_ID``              backend's own lookup
``FAVE_S3_SECRET_KEY``            secret key; also ``AWS_SECRET_ACCESS_KEY``          backend's own lookup
``FAVE_S3_SESSION_TOKEN``         session token; also ``AWS_SESSION_TOKEN``           none
``FAVE_S3_REGION``                region; also ``AWS_REGION``, ``AWS_DEFAULT_REGION``  ``us-east-1``
``FAVE_S3_SECURE``                TLS for an endpoint given without a scheme          ``true``
``FAVE_S3_VERIFY``                ``true``, ``false`` (no certificate check) or the   ``true``
                                  path of a CA bundle
``FAVE_S3_MULTIPART_THRESHOLD``   bytes from which uploads are multipart             64 MiB
``FAVE_S3_PART_SIZE``             multipart part size in bytes (5 MiB - 5 GiB)       16 MiB
``FAVE_S3_MAX_ATTEMPTS``          attempts per operation (1 = no retry)              4
``FAVE_S3_BACKOFF_BASE``          first retry delay in seconds (doubles, jittered)   0.25
``FAVE_S3_BACKOFF_MAX``           longest retry delay in seconds                     8
``FAVE_S3_CONNECT_TIMEOUT``       seconds                                            10
``FAVE_S3_READ_TIMEOUT``          seconds                                            60
``FAVE_TMP_DIR``                  folder for :meth:`Storage.download_to_tmp`          system temp folder
================================  =================================================  =====================

Behaviour common to both backends
---------------------------------
- Path-style addressing (``endpoint/bucket/key``), as MinIO and other S3-compatible servers expect.
- Retries: an operation that fails on a *transient* error (connection refused/reset, timeouts, HTTP 500/502/503/
  504, ``SlowDown``, ``RequestTimeout``, ``InternalError``...) is tried again up to ``max_attempts`` times in all,
  waiting ``min(backoff_max, backoff_base * 2**n)`` seconds scaled by a random factor in [0.5, 1). The backends'
  own retry loops are switched off so that the policy is the same for both. Listing resumes after the last key
  it yielded. Other errors are raised at once. Each retry is logged as a warning on the ``fave.storage`` logger
  (a JSON line once :func:`logging_helper.configure_logging` has run).
- Errors are raised as :class:`StorageError` or its subclasses :class:`NotFoundError` (with ``missing`` set to
  ``"bucket"`` or ``"key"`` and a message that names it: a 404 is followed by one bucket check to tell which) and
  :class:`AuthError` (credentials rejected, signature mismatch, access denied). The backend's exception is
  chained as ``__cause__``.
- Uploads check once per bucket that the bucket exists (some S3-compatible servers create a missing bucket on
  PUT; real S3 refuses it): uploading to a missing bucket raises ``NotFoundError(missing="bucket")``.
- ``exists`` returns ``False`` for a missing key but raises ``NotFoundError`` for a missing bucket; ``delete`` of a
  missing key succeeds (S3 semantics) but a missing bucket raises.
- Multipart: uploads of ``multipart_threshold`` bytes or more go in parts of ``part_size`` (S3's minimum part is
  5 MiB). boto3 uses ``TransferConfig``; minio gets ``part_size``, and uploads smaller than the threshold are sent
  as one PUT (minio would otherwise split anything above 5 MiB). minio sends an object no larger than one part in
  a single PUT even above the threshold.
"""

from __future__ import annotations

import contextlib
import io
import logging
import mimetypes
import os
import random
import tempfile
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final, Literal, TypeVar
from urllib.parse import urlsplit

__all__ = [
    "AuthError",
    "Boto3Storage",
    "MinioStorage",
    "NotFoundError",
    "ObjectInfo",
    "Storage",
    "StorageConfig",
    "StorageError",
    "default_storage",
    "download_to_tmp",
    "get_storage",
    "guess_content_type",
    "reset_default_storage",
]

log = logging.getLogger("fave.storage")

T = TypeVar("T")

MIB: Final[int] = 1024 * 1024
MIN_PART_SIZE: Final[int] = 5 * MIB
MAX_PART_SIZE: Final[int] = 5 * 1024 * MIB
DEFAULT_CONTENT_TYPE: Final[str] = "application/octet-stream"
BACKENDS: Final[tuple[str, ...]] = ("boto3", "minio")

_AUTH_CODES: Final[frozenset[str]] = frozenset(
    {
        "AccessDenied",
        "AuthorizationHeaderMalformed",
        "ExpiredToken",
        "InvalidAccessKeyId",
        "InvalidClientTokenId",
        "InvalidSecurity",
        "InvalidToken",
        "NotSignedUp",
        "SignatureDoesNotMatch",
        "TokenRefreshRequired",
        "UnrecognizedClientException",
        "401",
        "403",
    }
)
_TRANSIENT_CODES: Final[frozenset[str]] = frozenset(
    {
        "InternalError",
        "OperationAborted",
        "RequestTimeout",
        "RequestTimeTooSkewed",
        "ServiceUnavailable",
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "500",
        "502",
        "503",
        "504",
    }
)
_BUCKET_MISSING_CODES: Final[frozenset[str]] = frozenset({"NoSuchBucket"})
_KEY_MISSING_CODES: Final[frozenset[str]] = frozenset({"NoSuchKey", "NoSuchObject", "ResourceNotFound", "NotFound", "404"})


# ---------------------------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------------------------


class StorageError(Exception):
    """An object-storage operation failed.

    Attributes: ``operation`` (``"upload"``, ``"download"``...), ``bucket``, ``key`` (when the operation has one),
    ``code`` (the S3 error code or HTTP status, when the server answered), ``transient`` (whether trying again might
    help) and ``attempts`` (how many tries were made).
    """

    def __init__(
        self,
        message: str,
        *,
        operation: str = "",
        bucket: str | None = None,
        key: str | None = None,
        code: str | None = None,
        transient: bool = False,
        attempts: int = 1,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.operation = operation
        self.bucket = bucket
        self.key = key
        self.code = code
        self.transient = transient
        self.attempts = attempts

    def __str__(self) -> str:
        if self.attempts > 1:
            return f"{self.message} (after {self.attempts} attempts)"
        return self.message


class NotFoundError(StorageError):
    """The bucket or the key does not exist; ``missing`` says which (``"bucket"`` or ``"key"``)."""

    def __init__(self, message: str, *, missing: Literal["bucket", "key"], **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.missing: Literal["bucket", "key"] = missing


class AuthError(StorageError):
    """The server rejected the credentials (unknown access key, wrong secret, expired token) or denied access."""


# ---------------------------------------------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------------------------------------------


def _first_env(env: Mapping[str, str], *names: str) -> str | None:
    for name in names:
        value = env.get(name)
        if value is not None and value.strip() != "":
            return value.strip()
    return None


def _parse_bool(name: str, text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"{name} must be true or false (got {text!r})")


def _parse_number(name: str, text: str, kind: Callable[[str], T]) -> T:
    try:
        return kind(text.strip())
    except ValueError:
        raise ValueError(f"{name} must be a {'whole ' if kind is int else ''}number (got {text!r})") from None


@dataclass(frozen=True)
class StorageConfig:
    """Connection and behaviour settings shared by both backends (see the module documentation)."""

    backend: str = "boto3"
    endpoint: str | None = None
    access_key: str | None = None
    secret_key: str | None = None
    session_token: str | None = None
    region: str = "us-east-1"
    secure: bool = True
    verify: bool | str = True
    multipart_threshold: int = 64 * MIB
    part_size: int = 16 * MIB
    max_attempts: int = 4
    backoff_base: float = 0.25
    backoff_max: float = 8.0
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    tmp_dir: str | None = None
    list_page_size: int = 1000

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f"unknown storage backend {self.backend!r}: use one of {', '.join(BACKENDS)}")
        if not MIN_PART_SIZE <= self.part_size <= MAX_PART_SIZE:
            raise ValueError(f"part_size must be between 5 MiB and 5 GiB (got {self.part_size} bytes)")
        if self.multipart_threshold < 1:
            raise ValueError(f"multipart_threshold must be at least 1 byte (got {self.multipart_threshold})")
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1 (got {self.max_attempts})")
        if self.backoff_base < 0 or self.backoff_max < 0:
            raise ValueError("backoff_base and backoff_max must not be negative")
        if not 1 <= self.list_page_size <= 1000:
            raise ValueError(f"list_page_size must be between 1 and 1000 (got {self.list_page_size})")
        if (self.access_key is None) != (self.secret_key is None):
            raise ValueError("access_key and secret_key must be given together (one is missing)")
        if self.endpoint is not None:
            parts = urlsplit(self.endpoint if "://" in self.endpoint else f"//{self.endpoint}")
            if "://" in self.endpoint and parts.scheme not in {"http", "https"}:
                raise ValueError(f"endpoint must be an http:// or https:// URL (got {self.endpoint!r})")
            if not parts.hostname:
                raise ValueError(f"endpoint has no host name (got {self.endpoint!r})")
            if parts.path not in {"", "/"}:
                raise ValueError(f"endpoint must not have a path: buckets are addressed by name (got {self.endpoint!r})")

    @property
    def endpoint_url(self) -> str | None:
        """The endpoint as a URL with a scheme (``secure`` decides when it was given without one)."""
        if self.endpoint is None:
            return None
        if "://" in self.endpoint:
            return self.endpoint.rstrip("/")
        return f"{'https' if self.secure else 'http'}://{self.endpoint.rstrip('/')}"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> StorageConfig:
        """Read the configuration from ``env`` (default ``os.environ``); keyword ``overrides`` win."""
        source = os.environ if env is None else env
        values: dict[str, Any] = {}
        backend = _first_env(source, "FAVE_STORAGE_BACKEND")
        if backend:
            values["backend"] = backend.lower()
        for attr, names in (
            ("endpoint", ("FAVE_S3_ENDPOINT", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")),
            ("access_key", ("FAVE_S3_ACCESS_KEY", "AWS_ACCESS_KEY_ID")),
            ("secret_key", ("FAVE_S3_SECRET_KEY", "AWS_SECRET_ACCESS_KEY")),
            ("session_token", ("FAVE_S3_SESSION_TOKEN", "AWS_SESSION_TOKEN")),
            ("region", ("FAVE_S3_REGION", "AWS_REGION", "AWS_DEFAULT_REGION")),
            ("tmp_dir", ("FAVE_TMP_DIR",)),
        ):
            value = _first_env(source, *names)
            if value is not None:
                values[attr] = value
        secure = _first_env(source, "FAVE_S3_SECURE")
        if secure is not None:
            values["secure"] = _parse_bool("FAVE_S3_SECURE", secure)
        verify = _first_env(source, "FAVE_S3_VERIFY")
        if verify is not None:
            try:
                values["verify"] = _parse_bool("FAVE_S3_VERIFY", verify)
            except ValueError:
                if not Path(verify).is_file():
                    raise ValueError(
                        f"FAVE_S3_VERIFY must be true, false or the path of a CA bundle file (got {verify!r}, "
                        "which is not a file)"
                    ) from None
                values["verify"] = verify
        for attr, name, kind in (
            ("multipart_threshold", "FAVE_S3_MULTIPART_THRESHOLD", int),
            ("part_size", "FAVE_S3_PART_SIZE", int),
            ("max_attempts", "FAVE_S3_MAX_ATTEMPTS", int),
            ("backoff_base", "FAVE_S3_BACKOFF_BASE", float),
            ("backoff_max", "FAVE_S3_BACKOFF_MAX", float),
            ("connect_timeout", "FAVE_S3_CONNECT_TIMEOUT", float),
            ("read_timeout", "FAVE_S3_READ_TIMEOUT", float),
        ):
            text = _first_env(source, name)
            if text is not None:
                values[attr] = _parse_number(name, text, kind)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


@dataclass(frozen=True)
class ObjectInfo:
    """What :meth:`Storage.stat` reports about an object."""

    bucket: str
    key: str
    size: int
    etag: str | None
    content_type: str | None


# ---------------------------------------------------------------------------------------------------------------
# The interface
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class _Classified:
    """A backend error reduced to what the retry loop and the error mapping need."""

    kind: Literal["auth", "bucket", "key", "not_found", "transient", "other"]
    code: str | None
    detail: str


class Storage(ABC):
    """Object storage operations. Use :func:`get_storage` to make one.

    Subclasses implement the ``_raw_*`` primitives and :meth:`_classify`; this class adds retries, error mapping,
    bucket checks, content-type guessing and temp-file handling, so both backends behave the same.
    """

    backend_name: str = ""

    def __init__(self, config: StorageConfig, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self.config = config
        self._sleep = sleep
        self._known_buckets: set[str] = set()
        self._lock = threading.Lock()

    # -- primitives (no retries, backend exceptions) ------------------------------------------------------------
    @abstractmethod
    def _raw_upload_file(self, bucket: str, key: str, path: str, content_type: str, size: int) -> None: ...

    @abstractmethod
    def _raw_upload_bytes(self, bucket: str, key: str, data: bytes, content_type: str) -> None: ...

    @abstractmethod
    def _raw_download_file(self, bucket: str, key: str, path: str) -> None: ...

    @abstractmethod
    def _raw_list_page(
        self, bucket: str, prefix: str, start_after: str | None, page_size: int
    ) -> Iterator[str]:
        """Yield keys under ``prefix`` after ``start_after``, fetching pages of ``page_size`` from the server."""

    @abstractmethod
    def _raw_stat(self, bucket: str, key: str) -> ObjectInfo: ...

    @abstractmethod
    def _raw_delete(self, bucket: str, key: str) -> None: ...

    @abstractmethod
    def _raw_bucket_exists(self, bucket: str) -> bool: ...

    @abstractmethod
    def _raw_create_bucket(self, bucket: str) -> None: ...

    @abstractmethod
    def _classify(self, exc: BaseException) -> _Classified | None:
        """Classify a backend exception, or return ``None`` if it is not a storage error at all."""

    # -- retry and error mapping --------------------------------------------------------------------------------
    def _backoff(self, attempt: int) -> float:
        delay = min(self.config.backoff_max, self.config.backoff_base * (2.0 ** (attempt - 1)))
        return delay * random.uniform(0.5, 1.0)

    def _call(self, operation: str, bucket: str, key: str | None, fn: Callable[[], T]) -> T:
        attempt = 0
        while True:
            attempt += 1
            try:
                return fn()
            except StorageError:
                raise
            except Exception as exc:  # noqa: BLE001 - every backend error is classified below
                classified = self._classify(exc)
                if classified is None:
                    raise
                if classified.kind == "transient" and attempt < self.config.max_attempts:
                    delay = self._backoff(attempt)
                    log.warning(
                        "%s %s failed (%s), retrying in %.2fs (attempt %d of %d)",
                        operation,
                        _where(bucket, key),
                        classified.detail,
                        delay,
                        attempt,
                        self.config.max_attempts,
                        extra={"stage": "storage", "backend": self.backend_name, "attempt": attempt},
                    )
                    self._sleep(delay)
                    continue
                raise self._to_error(operation, bucket, key, classified, attempt) from exc

    def _to_error(
        self, operation: str, bucket: str, key: str | None, classified: _Classified, attempts: int
    ) -> StorageError:
        common: dict[str, Any] = {
            "operation": operation,
            "bucket": bucket,
            "key": key,
            "code": classified.code,
            "attempts": attempts,
        }
        where = _where(bucket, key)
        if classified.kind == "auth":
            return AuthError(
                f"{operation} {where}: the storage server rejected the credentials or denied access "
                f"({classified.detail}); check FAVE_S3_ACCESS_KEY / FAVE_S3_SECRET_KEY",
                **common,
            )
        if classified.kind in {"bucket", "key", "not_found"}:
            missing: Literal["bucket", "key"]
            if classified.kind == "bucket" or key is None:
                missing = "bucket"
            else:
                # A bare 404 (HEAD has no body) does not say which is missing, and s3s-fs answers NoSuchKey for a
                # GET in a missing bucket: one bucket check tells.
                missing = "key" if self._bucket_exists_quietly(bucket) else "bucket"
            if missing == "bucket":
                message = f"{operation} {where}: bucket {bucket!r} does not exist"
            else:
                message = f"{operation} {where}: key {key!r} does not exist in bucket {bucket!r}"
            return NotFoundError(message, missing=missing, **common)
        transient = classified.kind == "transient"
        return StorageError(f"{operation} {where} failed: {classified.detail}", transient=transient, **common)

    def _bucket_exists_quietly(self, bucket: str) -> bool:
        """Bucket check used while building an error message: assume it exists if the check itself fails."""
        try:
            return self._raw_bucket_exists(bucket)
        except Exception:  # noqa: BLE001 - best effort, only refines a message
            return True

    def _require_bucket(self, operation: str, bucket: str, key: str | None) -> None:
        with self._lock:
            if bucket in self._known_buckets:
                return
        if not self._call(operation, bucket, key, lambda: self._raw_bucket_exists(bucket)):
            raise NotFoundError(
                f"{operation} {_where(bucket, key)}: bucket {bucket!r} does not exist",
                missing="bucket",
                operation=operation,
                bucket=bucket,
                key=key,
                code="NoSuchBucket",
            )
        with self._lock:
            self._known_buckets.add(bucket)

    # -- public operations --------------------------------------------------------------------------------------
    def upload_file(
        self, bucket: str, key: str, path: str | os.PathLike[str], content_type: str | None = None
    ) -> None:
        """Upload the file at ``path`` to ``bucket/key``; multipart from ``config.multipart_threshold`` bytes.

        ``content_type`` defaults to a guess from the file name (``mimetypes``), else ``application/octet-stream``.
        """
        file_path = os.fspath(path)
        try:
            size = os.path.getsize(file_path)
        except OSError as exc:
            raise StorageError(
                f"upload {_where(bucket, key)}: cannot read local file {file_path!r}: {exc.strerror or exc}",
                operation="upload",
                bucket=bucket,
                key=key,
            ) from exc
        ctype = content_type or guess_content_type(file_path)
        self._require_bucket("upload", bucket, key)
        self._call("upload", bucket, key, lambda: self._raw_upload_file(bucket, key, file_path, ctype, size))

    def upload_bytes(
        self, bucket: str, key: str, data: bytes | bytearray | memoryview, content_type: str = DEFAULT_CONTENT_TYPE
    ) -> None:
        """Upload ``data`` to ``bucket/key`` with ``content_type``; multipart above the threshold."""
        payload = bytes(data)
        self._require_bucket("upload", bucket, key)
        self._call("upload", bucket, key, lambda: self._raw_upload_bytes(bucket, key, payload, content_type))

    def download_file(self, bucket: str, key: str, path: str | os.PathLike[str]) -> Path:
        """Download ``bucket/key`` to ``path`` (parent folders are created) and return it as a :class:`Path`.

        On failure no partial file is left at ``path``.
        """
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        existed = target.exists()
        try:
            self._call("download", bucket, key, lambda: self._raw_download_file(bucket, key, os.fspath(target)))
        except BaseException:
            if not existed:
                target.unlink(missing_ok=True)
            raise
        return target

    @contextlib.contextmanager
    def download_to_tmp(self, bucket: str, key: str, *, suffix: str | None = None) -> Iterator[Path]:
        """Download ``bucket/key`` to a new temporary file and yield its path; delete it when the block ends.

        The file keeps the key's extension (``.wav``) unless ``suffix`` is given, so that format sniffing by name
        works. It lives in ``config.tmp_dir`` (``FAVE_TMP_DIR``) or the system temp folder and is removed whether
        the block succeeds or raises, and also when the download itself fails.
        """
        ext = suffix if suffix is not None else Path(key).suffix
        fd, name = tempfile.mkstemp(prefix="fave-", suffix=ext, dir=self.config.tmp_dir)
        os.close(fd)
        path = Path(name)
        try:
            self.download_file(bucket, key, path)
            yield path
        finally:
            path.unlink(missing_ok=True)

    def list_keys(self, bucket: str, prefix: str = "", *, page_size: int | None = None) -> Iterator[str]:
        """Yield every key in ``bucket`` that starts with ``prefix``, in key order.

        Keys are fetched ``page_size`` (default ``config.list_page_size``, at most 1000) at a time, lazily; a
        transient failure in the middle resumes after the last key yielded.
        """
        size = page_size or self.config.list_page_size
        if not 1 <= size <= 1000:
            raise ValueError(f"page_size must be between 1 and 1000 (got {size})")
        last: str | None = None
        attempt = 0
        while True:
            iterator = self._raw_list_page(bucket, prefix, last, size)
            try:
                for key in iterator:
                    yield key
                    last = key
                    attempt = 0
                return
            except Exception as exc:  # noqa: BLE001 - classified below
                classified = self._classify(exc)
                if classified is None:
                    raise
                attempt += 1
                if classified.kind == "transient" and attempt < self.config.max_attempts:
                    delay = self._backoff(attempt)
                    log.warning(
                        "list %s failed (%s), resuming after %r in %.2fs (attempt %d of %d)",
                        _where(bucket, None),
                        classified.detail,
                        last,
                        delay,
                        attempt,
                        self.config.max_attempts,
                        extra={"stage": "storage", "backend": self.backend_name, "attempt": attempt},
                    )
                    self._sleep(delay)
                    continue
                if classified.kind in {"key", "not_found"}:
                    classified = _Classified("bucket", classified.code, classified.detail)
                raise self._to_error("list", bucket, None, classified, attempt) from exc

    def exists(self, bucket: str, key: str) -> bool:
        """Whether ``bucket/key`` exists. A missing *bucket* raises :class:`NotFoundError`."""
        try:
            self.stat(bucket, key)
        except NotFoundError as exc:
            if exc.missing == "key":
                return False
            raise
        return True

    def stat(self, bucket: str, key: str) -> ObjectInfo:
        """Size, ETag and content type of ``bucket/key`` (multipart uploads have an ETag ending in ``-<parts>``)."""
        return self._call("stat", bucket, key, lambda: self._raw_stat(bucket, key))

    def delete(self, bucket: str, key: str) -> None:
        """Delete ``bucket/key``. Deleting a missing key succeeds; a missing bucket raises :class:`NotFoundError`."""
        self._call("delete", bucket, key, lambda: self._raw_delete(bucket, key))

    def bucket_exists(self, bucket: str) -> bool:
        """Whether ``bucket`` exists."""
        return self._call("bucket_exists", bucket, None, lambda: self._raw_bucket_exists(bucket))

    def create_bucket(self, bucket: str, *, exist_ok: bool = True) -> None:
        """Create ``bucket`` (nothing happens if it exists and ``exist_ok``)."""
        if exist_ok and self.bucket_exists(bucket):
            return
        self._call("create_bucket", bucket, None, lambda: self._raw_create_bucket(bucket))
        with self._lock:
            self._known_buckets.add(bucket)


def _where(bucket: str, key: str | None) -> str:
    return f"s3://{bucket}/{key}" if key is not None else f"s3://{bucket}"


def guess_content_type(path: str | os.PathLike[str]) -> str:
    """The MIME type for ``path``'s extension, or ``application/octet-stream``."""
    guessed, _ = mimetypes.guess_type(os.fspath(path), strict=False)
    return guessed or DEFAULT_CONTENT_TYPE


def _status_code(status: int | None) -> str | None:
    return str(status) if status else None


def _classify_code(code: str | None, status: int | None, detail: str) -> _Classified:
    code_text = code or _status_code(status)
    if code_text in _AUTH_CODES or status in {401, 403}:
        return _Classified("auth", code_text, detail)
    if code_text in _BUCKET_MISSING_CODES:
        return _Classified("bucket", code_text, detail)
    if code_text in {"NoSuchKey", "NoSuchObject"}:
        return _Classified("key", code_text, detail)
    if code_text in _KEY_MISSING_CODES or status == 404:
        return _Classified("not_found", code_text, detail)
    if code_text in _TRANSIENT_CODES or (status is not None and status >= 500):
        return _Classified("transient", code_text, detail)
    return _Classified("other", code_text, detail)


def _exception_chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        last = getattr(current, "last_exception", None)  # boto3.exceptions.RetriesExceededError
        if isinstance(last, BaseException):
            current = last
            continue
        current = current.__cause__ or current.__context__


# ---------------------------------------------------------------------------------------------------------------
# boto3
# ---------------------------------------------------------------------------------------------------------------


_boto3_session: Any = None
_boto3_session_lock = threading.Lock()


class Boto3Storage(Storage):
    """:class:`Storage` on boto3 (``S3.Client`` plus its managed transfers)."""

    backend_name = "boto3"

    def __init__(self, config: StorageConfig, **kwargs: Any) -> None:
        global _boto3_session
        super().__init__(config, **kwargs)
        import boto3
        from boto3.s3.transfer import TransferConfig
        from botocore.config import Config

        botocore_config = Config(
            region_name=config.region,
            retries={"total_max_attempts": 1, "mode": "standard"},
            s3={"addressing_style": "path"},
            connect_timeout=config.connect_timeout,
            read_timeout=config.read_timeout,
            signature_version="s3v4",
        )
        # One Session for the process: creating a Session reloads botocore's service models (~0.3 s). Clients made
        # from it are independent; a Session is not thread-safe, hence the lock. (Without explicit keys the
        # Session resolves credentials once, on first use.)
        with _boto3_session_lock:
            if _boto3_session is None:
                _boto3_session = boto3.session.Session()
            self.client: Any = _boto3_session.client(
                "s3",
                endpoint_url=config.endpoint_url,
                aws_access_key_id=config.access_key,
                aws_secret_access_key=config.secret_key,
                aws_session_token=config.session_token,
                region_name=config.region,
                verify=config.verify,
                config=botocore_config,
            )
        self.transfer_config = TransferConfig(
            multipart_threshold=config.multipart_threshold,
            multipart_chunksize=config.part_size,
            num_download_attempts=1,
        )

    def _raw_upload_file(self, bucket: str, key: str, path: str, content_type: str, size: int) -> None:
        self.client.upload_file(
            path, bucket, key, ExtraArgs={"ContentType": content_type}, Config=self.transfer_config
        )

    def _raw_upload_bytes(self, bucket: str, key: str, data: bytes, content_type: str) -> None:
        self.client.upload_fileobj(
            io.BytesIO(data), bucket, key, ExtraArgs={"ContentType": content_type}, Config=self.transfer_config
        )

    def _raw_download_file(self, bucket: str, key: str, path: str) -> None:
        self.client.download_file(bucket, key, path, Config=self.transfer_config)

    def _raw_list_page(self, bucket: str, prefix: str, start_after: str | None, page_size: int) -> Iterator[str]:
        request: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix, "MaxKeys": page_size}
        if start_after:
            request["StartAfter"] = start_after
        while True:
            response = self.client.list_objects_v2(**request)
            for item in response.get("Contents", []):
                yield item["Key"]
            token = response.get("NextContinuationToken")
            if not response.get("IsTruncated") or not token:
                return
            request.pop("StartAfter", None)
            request["ContinuationToken"] = token

    def _raw_stat(self, bucket: str, key: str) -> ObjectInfo:
        head = self.client.head_object(Bucket=bucket, Key=key)
        etag = head.get("ETag")
        return ObjectInfo(
            bucket=bucket,
            key=key,
            size=int(head.get("ContentLength", 0)),
            etag=etag.strip('"') if isinstance(etag, str) else None,
            content_type=head.get("ContentType"),
        )

    def _raw_delete(self, bucket: str, key: str) -> None:
        self.client.delete_object(Bucket=bucket, Key=key)

    def _raw_bucket_exists(self, bucket: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_bucket(Bucket=bucket)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if error.get("Code") in {"404", "NoSuchBucket", "NotFound"} or status == 404:
                return False
            raise
        return True

    def _raw_create_bucket(self, bucket: str) -> None:
        request: dict[str, Any] = {"Bucket": bucket}
        if self.config.region and self.config.region != "us-east-1":
            request["CreateBucketConfiguration"] = {"LocationConstraint": self.config.region}
        self.client.create_bucket(**request)

    def _classify(self, exc: BaseException) -> _Classified | None:
        from botocore import exceptions as bce

        for item in _exception_chain(exc):
            if isinstance(item, bce.ClientError):
                error = item.response.get("Error", {})
                status = item.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
                code = error.get("Code")
                message = error.get("Message")
                detail = f"{code or status}" + (f": {message}" if message and message != "Unknown" else "")
                return _classify_code(code, status, detail)
            if isinstance(item, (bce.NoCredentialsError, bce.PartialCredentialsError)):
                return _Classified("auth", None, str(item))
            if isinstance(
                item,
                (
                    bce.EndpointConnectionError,
                    bce.ConnectionClosedError,
                    bce.ConnectTimeoutError,
                    bce.ReadTimeoutError,
                    bce.ResponseStreamingError,
                    bce.IncompleteReadError,
                ),
            ):
                return _Classified("transient", None, f"{type(item).__name__}: {item}")
            if isinstance(item, bce.SSLError):
                return _Classified("other", None, f"TLS error: {item}")
            if isinstance(item, (bce.HTTPClientError, ConnectionError, TimeoutError)):
                return _Classified("transient", None, f"{type(item).__name__}: {item}")
            if isinstance(item, bce.BotoCoreError):
                return _Classified("other", None, f"{type(item).__name__}: {item}")
        return None


# ---------------------------------------------------------------------------------------------------------------
# minio
# ---------------------------------------------------------------------------------------------------------------


class MinioStorage(Storage):
    """:class:`Storage` on the ``minio`` client."""

    backend_name = "minio"

    def __init__(self, config: StorageConfig, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        import certifi
        import urllib3
        from minio import Minio

        url = config.endpoint_url or "https://s3.amazonaws.com"
        parts = urlsplit(url)
        secure = parts.scheme == "https"
        ca_certs = config.verify if isinstance(config.verify, str) else (os.environ.get("SSL_CERT_FILE") or certifi.where())
        http_client = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=config.connect_timeout, read=config.read_timeout),
            maxsize=10,
            cert_reqs="CERT_REQUIRED" if config.verify is not False else "CERT_NONE",
            ca_certs=ca_certs,
            retries=False,  # retries are Storage's job
        )
        self.client: Any = Minio(
            parts.netloc,
            access_key=config.access_key,
            secret_key=config.secret_key,
            session_token=config.session_token,
            secure=secure,
            region=config.region,
            http_client=http_client,
            cert_check=config.verify is not False,
        )

    def _part_size_for(self, size: int) -> int:
        if size < self.config.multipart_threshold:
            return min(max(size, MIN_PART_SIZE), MAX_PART_SIZE)  # one part: a single PUT
        return self.config.part_size

    def _raw_upload_file(self, bucket: str, key: str, path: str, content_type: str, size: int) -> None:
        self.client.fput_object(bucket, key, path, content_type=content_type, part_size=self._part_size_for(size))

    def _raw_upload_bytes(self, bucket: str, key: str, data: bytes, content_type: str) -> None:
        self.client.put_object(
            bucket,
            key,
            io.BytesIO(data),
            len(data),
            content_type=content_type,
            part_size=self._part_size_for(len(data)),
        )

    def _raw_download_file(self, bucket: str, key: str, path: str) -> None:
        self.client.fget_object(bucket, key, path)

    def _raw_list_page(self, bucket: str, prefix: str, start_after: str | None, page_size: int) -> Iterator[str]:
        # minio's list_objects() cannot set the page size (always 1000) and always sends an empty `delimiter=`,
        # which S3 reads as "no delimiter" but s3s-fs (and other simple servers) as a delimiter, grouping keys into
        # bogus common prefixes. So the ListObjectsV2 request is made here through the client's request executor
        # (signing, region, error parsing: minio 7.x's _execute, pinned by the lock) and parsed with minio's parser.
        from minio.datatypes import parse_list_objects

        token: str | None = None
        while True:
            query: dict[str, str] = {"list-type": "2", "max-keys": str(page_size), "prefix": prefix}
            if token:
                query["continuation-token"] = token
            elif start_after:
                query["start-after"] = start_after
            response = self.client._execute("GET", bucket, query_params=query)
            objects, truncated, token, _ = parse_list_objects(response, bucket)
            for obj in objects:
                if not obj.is_dir and obj.object_name is not None:
                    yield obj.object_name
            if not truncated or not token:
                return

    def _raw_stat(self, bucket: str, key: str) -> ObjectInfo:
        stat = self.client.stat_object(bucket, key)
        return ObjectInfo(
            bucket=bucket,
            key=key,
            size=int(stat.size or 0),
            etag=stat.etag.strip('"') if stat.etag else None,
            content_type=stat.content_type,
        )

    def _raw_delete(self, bucket: str, key: str) -> None:
        self.client.remove_object(bucket, key)

    def _raw_bucket_exists(self, bucket: str) -> bool:
        return bool(self.client.bucket_exists(bucket))

    def _raw_create_bucket(self, bucket: str) -> None:
        self.client.make_bucket(bucket, location=self.config.region)

    def _classify(self, exc: BaseException) -> _Classified | None:
        import urllib3.exceptions as u3
        from minio.error import InvalidResponseError, MinioException, S3Error, ServerError

        for item in _exception_chain(exc):
            if isinstance(item, S3Error):
                status = getattr(item.response, "status", None)
                detail = f"{item.code}" + (f": {item.message}" if item.message else "")
                return _classify_code(item.code, status, detail)
            if isinstance(item, ServerError):
                return _classify_code(None, item.status_code, f"HTTP {item.status_code}: {item}")
            if isinstance(item, InvalidResponseError):
                status = getattr(item, "_code", None)
                return _classify_code(None, status if isinstance(status, int) else None, str(item))
            if isinstance(item, u3.SSLError):
                return _Classified("other", None, f"TLS error: {item}")
            if isinstance(item, (u3.HTTPError, ConnectionError, TimeoutError)):
                return _Classified("transient", None, f"{type(item).__name__}: {item}")
            if isinstance(item, MinioException):
                return _Classified("other", None, f"{type(item).__name__}: {item}")
        return None


# ---------------------------------------------------------------------------------------------------------------
# Factory and module-level shortcuts
# ---------------------------------------------------------------------------------------------------------------

_BACKEND_CLASSES: Final[dict[str, type[Storage]]] = {"boto3": Boto3Storage, "minio": MinioStorage}


def get_storage(
    backend: str | None = None,
    *,
    config: StorageConfig | None = None,
    env: Mapping[str, str] | None = None,
    **overrides: Any,
) -> Storage:
    """Make a :class:`Storage`.

    The configuration is ``config`` if given, else :meth:`StorageConfig.from_env` on ``env`` (default
    ``os.environ``); ``backend`` (``"boto3"``/``"minio"``) and keyword ``overrides`` (any :class:`StorageConfig`
    field, e.g. ``endpoint=``, ``multipart_threshold=``) take precedence over both.
    """
    base = config if config is not None else StorageConfig.from_env(env)
    changes = {k: v for k, v in overrides.items() if v is not None}
    if backend is not None:
        changes["backend"] = backend.lower()
    cfg = replace(base, **changes) if changes else base
    return _BACKEND_CLASSES[cfg.backend](cfg)


_default_storage: Storage | None = None
_default_lock = threading.Lock()


def default_storage() -> Storage:
    """A process-wide :class:`Storage` from the environment, made on first use."""
    global _default_storage
    with _default_lock:
        if _default_storage is None:
            _default_storage = get_storage()
        return _default_storage


def reset_default_storage() -> None:
    """Forget the process-wide storage (after changing the environment, e.g. in tests)."""
    global _default_storage
    with _default_lock:
        _default_storage = None


@contextlib.contextmanager
def download_to_tmp(
    bucket: str, key: str, *, storage: Storage | None = None, suffix: str | None = None
) -> Iterator[Path]:
    """:meth:`Storage.download_to_tmp` on ``storage`` or the process-wide default storage."""
    with (storage or default_storage()).download_to_tmp(bucket, key, suffix=suffix) as path:
        yield path
