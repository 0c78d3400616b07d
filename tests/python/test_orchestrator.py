"""The sample stage (functions/orchestrator/handler.py) end to end against the S3 server, on a real sine wave."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

import handler
from schemas import StagePayload, StageStatus

from conftest import ACCESS_KEY, ORCHESTRATOR, ROOT, SECRET_KEY, S3Server, StorageFactory

RATE = 22050
SECONDS = 2.5
AMPLITUDE = 0.5
FREQUENCY = 440.0


def _sine_wav(path: Path, *, rate: int = RATE, seconds: float = SECONDS, amplitude: float = AMPLITUDE) -> Path:
    t = np.arange(int(rate * seconds)) / rate
    sf.write(path, amplitude * np.sin(2 * np.pi * FREQUENCY * t), rate, subtype="PCM_16")
    return path


def _records(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _payload(bucket: str, **changes: Any) -> StagePayload:
    data: dict[str, Any] = {"job_id": "job-42", "stage": "audio_stats", "bucket": bucket, "input_key": "jobs/job-42/tone.wav"}
    data.update(changes)
    return StagePayload.model_validate(data)


def test_sample_stage_end_to_end(
    make_storage: StorageFactory, bucket: str, admin: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wav = _sine_wav(tmp_path / "tone.wav")
    admin.upload_file(str(wav), bucket, "jobs/job-42/tone.wav")
    storage = make_storage()

    response = handler.run_stage(_payload(bucket), storage)

    assert response.status is StageStatus.SUCCEEDED, response.error
    assert response.output_key == "job-42/audio_stats/result.json"
    expected_rms = AMPLITUDE / math.sqrt(2)
    assert response.result["duration_s"] == pytest.approx(SECONDS, abs=1e-3)
    assert response.result["rms"] == pytest.approx(expected_rms, rel=0.01)
    assert response.result["rms_dbfs"] == pytest.approx(20 * math.log10(expected_rms), abs=0.1)
    assert response.result["peak"] == pytest.approx(AMPLITUDE, abs=0.01)
    assert response.result["sample_rate"] == RATE and response.result["num_samples"] == int(RATE * SECONDS)
    assert set(response.timings) == {"download", "analyze", "upload", "total"}
    assert response.timings["total"] >= response.timings["analyze"] > 0

    # The JSON result really is in the bucket, as JSON, with the same numbers.
    obj = admin.get_object(Bucket=bucket, Key="job-42/audio_stats/result.json")
    assert obj["ContentType"] == "application/json"
    document = json.loads(obj["Body"].read())
    assert document["job_id"] == "job-42" and document["stage"] == "audio_stats"
    assert document["input"] == {"bucket": bucket, "key": "jobs/job-42/tone.wav"}
    assert document["audio"]["duration_s"] == pytest.approx(SECONDS, abs=1e-3)
    assert document["audio"]["rms"] == pytest.approx(expected_rms, rel=0.01)

    # Each step was logged, in order, for this job.
    records = _records(capsys.readouterr().out)
    steps = [r["event"] for r in records if r["event"] != "timing"]
    assert steps == ["received", "downloaded", "analyzed", "uploaded", "completed"]
    by_event = {r["event"]: r for r in records}
    assert all(r["stage"] == "audio_stats" for r in records)
    assert all(r["job_id"] == "job-42" for r in records)
    assert by_event["downloaded"]["bytes"] == wav.stat().st_size
    assert not Path(by_event["downloaded"]["tmp_path"]).exists()  # the temp file was cleaned up
    assert by_event["analyzed"]["rms"] == pytest.approx(expected_rms, rel=0.01)
    assert by_event["uploaded"]["output_key"] == "job-42/audio_stats/result.json"
    assert by_event["completed"]["status"] == "succeeded"
    assert {r["name"] for r in records if r["event"] == "timing"} == {"analyze", "upload"}


def test_sample_stage_honours_output_key_and_parameters(
    make_storage: StorageFactory, bucket: str, admin: Any, tmp_path: Path
) -> None:
    admin.upload_file(str(_sine_wav(tmp_path / "t.wav", rate=16000, seconds=1.0, amplitude=0.25)), bucket, "in/t.wav")
    payload = _payload(bucket, input_key="in/t.wav", output_key="out/stats.json", parameters={"sample_rate": 8000, "frame_length": 1024, "hop_length": 256})
    response = handler.run_stage(payload, make_storage())
    assert response.status is StageStatus.SUCCEEDED, response.error
    assert response.result["sample_rate"] == 8000  # resampled by librosa
    assert response.result["duration_s"] == pytest.approx(1.0, abs=1e-3)
    assert response.result["rms"] == pytest.approx(0.25 / math.sqrt(2), rel=0.02)
    assert response.result["frame_length"] == 1024
    assert json.loads(admin.get_object(Bucket=bucket, Key="out/stats.json")["Body"].read())["audio"]["sample_rate"] == 8000


def test_sample_stage_missing_input_fails_cleanly(
    make_storage: StorageFactory, bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    response = handler.run_stage(_payload(bucket, input_key="jobs/none.wav"), make_storage())
    assert response.status is StageStatus.FAILED
    assert response.error is not None and "key 'jobs/none.wav' does not exist" in response.error
    failed = [r for r in _records(capsys.readouterr().out) if r["event"] == "failed"]
    assert len(failed) == 1 and failed[0]["level"] == "error" and failed[0]["error_type"] == "NotFoundError"


def test_sample_stage_rejects_non_audio_and_bad_parameters(make_storage: StorageFactory, bucket: str, admin: Any) -> None:
    admin.put_object(Bucket=bucket, Key="jobs/job-42/tone.wav", Body=b"this is not audio at all")
    response = handler.run_stage(_payload(bucket), make_storage())
    assert response.status is StageStatus.FAILED and response.error is not None
    assert "could not decode jobs/job-42/tone.wav as audio" in response.error
    assert "Format not recognised" in response.error  # soundfile's reason, not just audioread's empty one

    bad = handler.run_stage(_payload(bucket, parameters={"hop_length": 0, "colour": "red"}), make_storage())
    assert bad.status is StageStatus.FAILED and bad.error is not None
    assert "invalid parameters" in bad.error and "hop_length" in bad.error and "colour: Extra inputs" in bad.error

    other = handler.run_stage(_payload(bucket, stage="video_frames"), make_storage())
    assert other.error == "this function runs stage 'audio_stats', but the payload asks for stage 'video_frames'"


def test_handle_reports_invalid_payload() -> None:
    answer = json.loads(handler.handle('{"job_id": "j-9", "stage": "audio_stats"}'))
    assert answer["status"] == "failed" and answer["job_id"] == "j-9"
    assert "bucket: Field required" in answer["error"] and "input_key: Field required" in answer["error"]
    assert json.loads(handler.handle(b"not json"))["job_id"] == "unknown"


def test_index_py_as_a_forked_function_process(
    s3_server: S3Server, backend: str, bucket: str, admin: Any, tmp_path: Path
) -> None:
    """Run index.py the way a forking watchdog does: body on stdin, headers as Http_* env, logs on stderr."""
    admin.upload_file(str(_sine_wav(tmp_path / "tone.wav")), bucket, "jobs/job-42/tone.wav")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": os.pathsep.join([str(ORCHESTRATOR), str(ROOT / "base-image" / "common")]),
        "FAVE_STORAGE_BACKEND": backend,
        "FAVE_S3_ENDPOINT": s3_server.endpoint,
        "FAVE_S3_ACCESS_KEY": ACCESS_KEY,
        "FAVE_S3_SECRET_KEY": SECRET_KEY,
        "OPENFAAS_NAME": "orchestrator",
        "Http_X_Call_Id": "call-1234",
        "TMPDIR": str(tmp_path),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    body = _payload(bucket).model_dump_json()
    result = subprocess.run(
        [sys.executable, str(ORCHESTRATOR / "index.py")], input=body.encode(), capture_output=True, env=env, timeout=120
    )
    assert result.returncode == 0, result.stderr.decode()
    answer = json.loads(result.stdout)  # stdout holds only the response
    assert answer["status"] == "succeeded" and answer["result"]["duration_s"] == pytest.approx(SECONDS, abs=1e-3)
    logs = _records(result.stderr.decode())
    assert {"received", "downloaded", "analyzed", "uploaded", "completed"} <= {r["event"] for r in logs}
    assert all(r["function"] == "orchestrator" and r["call_id"] == "call-1234" for r in logs)
    assert admin.head_object(Bucket=bucket, Key="job-42/audio_stats/result.json")["ContentLength"] > 0
    assert [p.name for p in tmp_path.iterdir()] == ["tone.wav"]  # no temp file left behind


def test_dockerfile_builds_on_the_published_base_image() -> None:
    text = (ORCHESTRATOR / "Dockerfile").read_text()
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    assert "ARG BASE_IMAGE=ghcr.io/fave-project/fave-base:0.1" in lines
    from_lines = [line for line in lines if line.startswith("FROM ")]
    assert from_lines[-1] == "FROM ${BASE_IMAGE}"  # the final stage is the base image
    assert lines.index("ARG BASE_IMAGE=ghcr.io/fave-project/fave-base:0.1") < lines.index(from_lines[0])  # ARG before FROM
    copied = [line for line in lines if line.startswith("COPY ") and "--from" not in line]
    assert copied and all((ORCHESTRATOR / name).is_file() for line in copied for name in line.split()[1:-1])
