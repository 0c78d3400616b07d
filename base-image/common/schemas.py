"""Pydantic v2 models for what a FAVE stage receives (:class:`StagePayload`) and returns (:class:`StageResponse`).

A stage reads ``input_key`` from ``bucket``, writes its result to ``output_key`` (or a key it derives, see
:meth:`StagePayload.resolved_output_key`) and answers with a :class:`StageResponse`::

    payload = StagePayload.model_validate_json(request_body)
    ...
    return StageResponse.succeeded(payload, output_key=key, timings={"total": 1.2}, result={...})

Validation errors name the field and say what is wrong and what was given, e.g.
``input_key: object key must not start with '/' (got '/jobs/1/in.wav')``; :func:`describe_validation_error`
joins them into one line.
"""

from __future__ import annotations

import math
import re
from enum import Enum
from typing import Annotated, Any, Final

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

__all__ = [
    "BucketName",
    "JobId",
    "ObjectKey",
    "StageName",
    "StagePayload",
    "StageResponse",
    "StageStatus",
    "describe_validation_error",
]

_JOB_ID_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_STAGE_RE: Final = re.compile(r"[a-z][a-z0-9_-]{0,62}")
_BUCKET_RE: Final = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_IPV4_RE: Final = re.compile(r"\d{1,3}(\.\d{1,3}){3}")
_MAX_KEY_BYTES: Final = 1024


def _fail(kind: str, message: str) -> PydanticCustomError:
    """An error whose message is shown as is (no context: braces in user input are not templates)."""
    return PydanticCustomError(kind, message)


def _check_job_id(value: str) -> str:
    if not _JOB_ID_RE.fullmatch(value):
        raise _fail(
            "job_id",
            "job id must be 1-128 characters of letters, digits, '.', '_' or '-', starting with a letter or digit "
            f"(got {value!r})",
        )
    return value


def _check_stage(value: str) -> str:
    if not _STAGE_RE.fullmatch(value):
        raise _fail(
            "stage_name",
            "stage name must be 1-63 characters of lower-case letters, digits, '_' or '-', starting with a letter "
            f"(got {value!r})",
        )
    return value


def _check_bucket(value: str) -> str:
    problems: list[str] = []
    if not 3 <= len(value) <= 63:
        problems.append(f"must be 3-63 characters long (is {len(value)})")
    if not _BUCKET_RE.fullmatch(value) and 3 <= len(value) <= 63:
        problems.append("may hold only lower-case letters, digits, '.' and '-', and must start and end with a letter or digit")
    if ".." in value:
        problems.append("must not contain '..'")
    if _IPV4_RE.fullmatch(value):
        problems.append("must not look like an IP address")
    if problems:
        raise _fail("bucket_name", f"bucket name {'; '.join(problems)} (got {value!r})")
    return value


def _check_key(value: str) -> str:
    if value == "":
        raise _fail("object_key", "object key must not be empty")
    if value.startswith("/"):
        raise _fail("object_key", f"object key must not start with '/' (got {value!r})")
    if value.endswith("/"):
        raise _fail("object_key", f"object key names an object, not a folder: it must not end with '/' (got {value!r})")
    size = len(value.encode("utf-8"))
    if size > _MAX_KEY_BYTES:
        raise _fail("object_key", f"object key is {size} bytes long in UTF-8; S3 allows at most {_MAX_KEY_BYTES}")
    if any(part in {".", ".."} for part in value.split("/")):
        raise _fail("object_key", f"object key must not contain '.' or '..' path segments (got {value!r})")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise _fail("object_key", f"object key must not contain control characters (got {value!r})")
    return value


JobId = Annotated[str, AfterValidator(_check_job_id)]
StageName = Annotated[str, AfterValidator(_check_stage)]
BucketName = Annotated[str, AfterValidator(_check_bucket)]
ObjectKey = Annotated[str, AfterValidator(_check_key)]


class StageStatus(str, Enum):
    """Where a stage's work stands."""

    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)


class StagePayload(_Model):
    """The request a stage receives.

    ``extra="forbid"``: a misspelt field (``inputkey``) is an error, not silently ignored.
    """

    job_id: JobId = Field(description="Pipeline job this stage run belongs to.")
    stage: StageName = Field(description="Name of the stage to run, e.g. 'audio_stats'.")
    bucket: BucketName = Field(description="Bucket holding the input, and the output unless output_bucket is set.")
    input_key: ObjectKey = Field(description="Key of the object to process.")
    output_key: ObjectKey | None = Field(default=None, description="Where to write the result; derived when absent.")
    output_bucket: BucketName | None = Field(default=None, description="Bucket for the result; defaults to bucket.")
    parameters: dict[str, Any] = Field(default_factory=dict, description="Stage-specific settings.")

    @field_validator("parameters")
    @classmethod
    def _parameter_names(cls, value: dict[str, Any]) -> dict[str, Any]:
        bad = [name for name in value if not name or not name.strip()]
        if bad:
            raise _fail("parameters", "parameter names must not be empty or blank")
        return value

    @model_validator(mode="after")
    def _output_differs_from_input(self) -> StagePayload:
        same_bucket = (self.output_bucket or self.bucket) == self.bucket
        if self.output_key is not None and same_bucket and self.output_key == self.input_key:
            raise _fail(
                "output_key",
                f"output_key {self.output_key!r} is the same object as input_key: the stage would overwrite its input",
            )
        return self

    def resolved_output_key(self, filename: str = "result.json") -> str:
        """``output_key`` if given, else ``<job_id>/<stage>/<filename>``."""
        return self.output_key or f"{self.job_id}/{self.stage}/{filename}"

    def resolved_output_bucket(self) -> str:
        """``output_bucket`` if given, else ``bucket``."""
        return self.output_bucket or self.bucket


class StageResponse(_Model):
    """What a stage answers. ``timings`` are in seconds (e.g. ``{"download": 0.2, "total": 1.4}``)."""

    job_id: JobId
    stage: StageName
    status: StageStatus
    input_key: ObjectKey | None = None
    output_key: ObjectKey | None = None
    output_bucket: BucketName | None = None
    timings: dict[str, float] = Field(default_factory=dict)
    result: dict[str, Any] = Field(default_factory=dict, description="Small summary of the output, for logs/UIs.")
    error: str | None = None

    @field_validator("timings")
    @classmethod
    def _timings_are_durations(cls, value: dict[str, float]) -> dict[str, float]:
        for name, seconds in value.items():
            if not math.isfinite(seconds) or seconds < 0:
                raise _fail(
                    "timing",
                    f"timings[{name!r}] must be a finite, non-negative number of seconds (got {seconds!r})",
                )
        return value

    @model_validator(mode="after")
    def _status_matches_fields(self) -> StageResponse:
        has_error = bool(self.error and self.error.strip())
        if self.status is StageStatus.FAILED and not has_error:
            raise _fail("status", "a response with status 'failed' must say why in 'error'")
        if self.status is not StageStatus.FAILED and self.error is not None:
            raise _fail(
                "status",
                f"'error' is set ({self.error!r}) but status is {self.status.value!r}: use status 'failed' for errors",
            )
        if self.status is StageStatus.SUCCEEDED and self.output_key is None:
            raise _fail("status", "a response with status 'succeeded' must name its output in 'output_key'")
        return self

    @classmethod
    def succeeded(
        cls,
        payload: StagePayload,
        *,
        output_key: str,
        timings: dict[str, float] | None = None,
        result: dict[str, Any] | None = None,
    ) -> StageResponse:
        """A success response for ``payload``."""
        return cls(
            job_id=payload.job_id,
            stage=payload.stage,
            status=StageStatus.SUCCEEDED,
            input_key=payload.input_key,
            output_key=output_key,
            output_bucket=payload.resolved_output_bucket(),
            timings=timings or {},
            result=result or {},
        )

    @classmethod
    def failed(
        cls,
        payload: StagePayload,
        error: str,
        *,
        timings: dict[str, float] | None = None,
    ) -> StageResponse:
        """A failure response for ``payload`` carrying ``error``."""
        return cls(
            job_id=payload.job_id,
            stage=payload.stage,
            status=StageStatus.FAILED,
            input_key=payload.input_key,
            timings=timings or {},
            error=error,
        )


def describe_validation_error(exc: ValidationError) -> str:
    """One line per problem, ``field.path: message``, joined by ``'; '``.

    Pydantic's own messages (missing fields, wrong types, extra fields) are kept; ours already say what was given.
    """
    parts: list[str] = []
    for error in exc.errors(include_url=False):
        location = ".".join(str(item) for item in error["loc"]) or "payload"
        message = error["msg"]
        if error["type"] in {"missing", "extra_forbidden"} or "got" in message or error["type"].startswith("value_error"):
            parts.append(f"{location}: {message}")
        else:
            parts.append(f"{location}: {message} (got {error.get('input')!r})")
    return "; ".join(parts)
