"""Sample FAVE stage ``audio_stats``: duration and loudness (RMS) of an audio object in S3.

Given a :class:`schemas.StagePayload` whose ``input_key`` names an audio file (anything libsndfile reads: WAV,
FLAC, OGG...), the stage

1. downloads it with :func:`storage_helper.download_to_tmp` (the temporary file is deleted afterwards),
2. loads it with librosa (mono, native sample rate unless ``parameters.sample_rate`` asks for another) and
   computes its duration, RMS (from ``librosa.feature.rms`` frames), RMS in dBFS and peak,
3. uploads the numbers as JSON to ``output_key`` (default ``<job_id>/audio_stats/result.json``),
4. answers with a :class:`schemas.StageResponse` carrying the numbers and the step timings.

Each step is logged with :func:`logging_helper.log_event` (``received``, ``downloaded``, ``analyzed``,
``uploaded``, ``completed``, or ``failed``) and timed with :class:`metrics_helper.timer`. Failures (bad payload,
missing object, undecodable audio, storage errors) become a ``failed`` response, never an exception.

Entry points: :func:`run_stage` (a validated payload in, a response out) and :func:`handle` (the OpenFaaS
``handle(req)`` convention: a JSON request body in, a JSON response body out); ``index.py`` runs :func:`handle`
on stdin for a forking watchdog.

Storage settings come from the environment (see :mod:`storage_helper`).
"""

from __future__ import annotations

import json
import math
import time
import warnings
from pathlib import Path
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from logging_helper import log_event
from metrics_helper import peak_rss_bytes, timer
from schemas import StagePayload, StageResponse, StageStatus, describe_validation_error
from storage_helper import Storage, StorageError, default_storage

__all__ = ["STAGE_NAME", "AudioStatsParameters", "analyze_audio", "handle", "run_stage"]

STAGE_NAME: Final[str] = "audio_stats"
RESULT_CONTENT_TYPE: Final[str] = "application/json"


class AudioStatsParameters(BaseModel):
    """``StagePayload.parameters`` understood by this stage."""

    model_config = ConfigDict(extra="forbid")

    sample_rate: int | None = Field(default=None, gt=0, le=384_000, description="Resample to this rate; native if absent.")
    frame_length: int = Field(default=2048, ge=16, le=1 << 16, description="RMS frame length in samples.")
    hop_length: int = Field(default=512, ge=1, le=1 << 16, description="RMS hop in samples.")


class AudioError(Exception):
    """The input could not be decoded as audio, or holds none."""


def analyze_audio(path: str | Path, params: AudioStatsParameters | None = None, *, name: str | None = None) -> dict[str, Any]:
    """Load ``path`` with librosa and return its duration, RMS, RMS in dBFS, peak and sample counts.

    ``name`` is what error messages call the input (default: the file name).

    ``rms`` is the root of the mean of the squared frame RMS values from ``librosa.feature.rms`` (frames that fit
    wholly inside the signal; a signal shorter than one frame is measured as one centred frame), which for a
    steady signal equals the RMS of the whole signal: ``amplitude / sqrt(2)`` for a sine.
    """
    import librosa
    import numpy as np

    settings = params or AudioStatsParameters()
    try:
        with warnings.catch_warnings():
            # librosa warns before falling back from soundfile to audioread; the error below says it all.
            warnings.filterwarnings("ignore", message="PySoundFile failed", category=UserWarning)
            warnings.filterwarnings("ignore", message=".*audioread", category=FutureWarning)
            samples, rate = librosa.load(str(path), sr=settings.sample_rate, mono=True)
    except Exception as exc:  # noqa: BLE001 - soundfile/audioread raise many types for undecodable input
        raise AudioError(f"could not decode {name or Path(path).name} as audio: {_reasons(exc)}") from exc
    if samples.size == 0:
        raise AudioError("the audio holds no samples")
    duration = float(librosa.get_duration(y=samples, sr=rate))
    center = samples.size < settings.frame_length
    frames = librosa.feature.rms(
        y=samples, frame_length=settings.frame_length, hop_length=settings.hop_length, center=center
    )[0]
    rms = float(np.sqrt(np.mean(np.square(frames, dtype=np.float64))))
    peak = float(np.max(np.abs(samples)))
    return {
        "sample_rate": int(rate),
        "num_samples": int(samples.size),
        "duration_s": duration,
        "rms": rms,
        "rms_dbfs": 20.0 * math.log10(rms) if rms > 0 else None,
        "peak": peak,
        "rms_frames": int(frames.size),
        "frame_length": settings.frame_length,
        "hop_length": settings.hop_length,
    }


def _reasons(exc: BaseException) -> str:
    """The messages of ``exc`` and the exceptions it was raised while handling (librosa tries soundfile, then
    audioread, whose NoBackendError says nothing), most specific first."""
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    parts = [f"{type(e).__name__}: {e}" for e in reversed(seen) if str(e).strip()]
    return "; ".join(parts) or type(exc).__name__


def run_stage(payload: StagePayload, storage: Storage | None = None) -> StageResponse:
    """Run ``audio_stats`` for ``payload`` against ``storage`` (default: the storage configured by environment)."""
    started = time.perf_counter()
    timings: dict[str, float] = {}
    context = {"job_id": payload.job_id, "bucket": payload.bucket, "input_key": payload.input_key}
    log_event(STAGE_NAME, "received", **context, parameters=payload.parameters)

    def fail(message: str, **extra: Any) -> StageResponse:
        timings["total"] = time.perf_counter() - started
        log_event(STAGE_NAME, "failed", level="error", **context, error=message, timings=timings, **extra)
        return StageResponse.failed(payload, message, timings=timings)

    if payload.stage != STAGE_NAME:
        return fail(f"this function runs stage {STAGE_NAME!r}, but the payload asks for stage {payload.stage!r}")
    try:
        params = AudioStatsParameters.model_validate(payload.parameters)
    except ValidationError as exc:
        return fail(f"invalid parameters: {describe_validation_error(exc)}")

    output_bucket = payload.resolved_output_bucket()
    output_key = payload.resolved_output_key()
    try:
        store = storage or default_storage()
        download_started = time.perf_counter()
        with store.download_to_tmp(payload.bucket, payload.input_key) as path:  # downloads on entry
            timings["download"] = time.perf_counter() - download_started
            log_event(STAGE_NAME, "downloaded", **context, bytes=path.stat().st_size, tmp_path=str(path))
            with timer(STAGE_NAME, "analyze", job_id=payload.job_id) as analyze_timer:
                stats = analyze_audio(path, params, name=payload.input_key)
        timings["analyze"] = analyze_timer.elapsed or 0.0
        log_event(STAGE_NAME, "analyzed", **context, **stats)

        document = {
            "job_id": payload.job_id,
            "stage": STAGE_NAME,
            "input": {"bucket": payload.bucket, "key": payload.input_key},
            "audio": stats,
        }
        body = json.dumps(document, indent=2, sort_keys=True).encode("utf-8")
        with timer(STAGE_NAME, "upload", job_id=payload.job_id) as upload_timer:
            store.upload_bytes(output_bucket, output_key, body, content_type=RESULT_CONTENT_TYPE)
        timings["upload"] = upload_timer.elapsed or 0.0
        log_event(STAGE_NAME, "uploaded", job_id=payload.job_id, bucket=output_bucket, output_key=output_key, bytes=len(body))
    except StorageError as exc:
        return fail(str(exc), error_type=type(exc).__name__)
    except AudioError as exc:
        return fail(str(exc), error_type=type(exc).__name__)
    except Exception as exc:  # noqa: BLE001 - a stage answers, it does not crash the watchdog
        return fail(f"internal error: {type(exc).__name__}: {exc}", error_type=type(exc).__name__)

    timings["total"] = time.perf_counter() - started
    response = StageResponse.succeeded(payload, output_key=output_key, timings=timings, result=stats)
    log_event(
        STAGE_NAME,
        "completed",
        job_id=payload.job_id,
        status=response.status.value,
        output_key=output_key,
        timings=timings,
        peak_rss_bytes=peak_rss_bytes(),
    )
    return response


def handle(req: str | bytes) -> str:
    """OpenFaaS entry point: a JSON :class:`StagePayload` in, a JSON :class:`StageResponse` out.

    A body that is not a valid payload gives a ``failed`` response (job id ``unknown`` when none can be read).
    """
    try:
        payload = StagePayload.model_validate_json(req)
    except ValidationError as exc:
        message = f"invalid payload: {describe_validation_error(exc)}"
        job_id = _job_id_of(req)
        log_event(STAGE_NAME, "failed", level="error", job_id=job_id, error=message)
        response = StageResponse(job_id=job_id, stage=STAGE_NAME, status=StageStatus.FAILED, error=message)
        return response.model_dump_json()
    return run_stage(payload).model_dump_json()


def _job_id_of(req: str | bytes) -> str:
    """The request's job id if it has a usable one, else ``"unknown"`` (for error responses)."""
    try:
        data = json.loads(req)
        candidate = data.get("job_id") if isinstance(data, dict) else None
        if isinstance(candidate, str):
            StageResponse(job_id=candidate, stage=STAGE_NAME, status=StageStatus.PENDING)
            return candidate.strip()
    except (ValueError, ValidationError):
        pass
    return "unknown"
