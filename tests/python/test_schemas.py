"""schemas: StagePayload / StageResponse validation and messages."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from schemas import StagePayload, StageResponse, StageStatus, describe_validation_error

VALID: dict[str, Any] = {
    "job_id": "job-2026.11_27",
    "stage": "audio_stats",
    "bucket": "fave-media",
    "input_key": "jobs/job-1/input.wav",
    "parameters": {"frame_length": 2048},
}


def _error(data: dict[str, Any], model: type[StagePayload] | type[StageResponse] = StagePayload) -> str:
    with pytest.raises(ValidationError) as info:
        model.model_validate(data)
    return describe_validation_error(info.value)


def test_valid_payload_and_defaults() -> None:
    payload = StagePayload.model_validate(VALID)
    assert payload.output_key is None and payload.output_bucket is None
    assert payload.resolved_output_key() == "job-2026.11_27/audio_stats/result.json"
    assert payload.resolved_output_bucket() == "fave-media"
    assert payload.parameters == {"frame_length": 2048}
    same = StagePayload.model_validate_json(payload.model_dump_json())
    assert same == payload


def test_payload_strips_whitespace_and_keeps_explicit_output() -> None:
    payload = StagePayload.model_validate({**VALID, "job_id": "  j1 ", "output_key": "out/r.json", "output_bucket": "results"})
    assert payload.job_id == "j1"
    assert payload.resolved_output_key() == "out/r.json" and payload.resolved_output_bucket() == "results"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"job_id": ""}, "job_id: job id must be 1-128 characters"),
        ({"job_id": "-starts-with-dash"}, "starting with a letter or digit (got '-starts-with-dash')"),
        ({"stage": "Audio Stats"}, "stage: stage name must be 1-63 characters of lower-case letters"),
        ({"bucket": "Fave_Media"}, "bucket: bucket name may hold only lower-case letters, digits, '.' and '-'"),
        ({"bucket": "ab"}, "bucket: bucket name must be 3-63 characters long (is 2) (got 'ab')"),
        ({"bucket": "192.168.1.1"}, "must not look like an IP address"),
        ({"input_key": "/jobs/1/in.wav"}, "input_key: object key must not start with '/' (got '/jobs/1/in.wav')"),
        ({"input_key": "jobs/../etc/passwd"}, "input_key: object key must not contain '.' or '..' path segments"),
        ({"input_key": "jobs/1/"}, "object key names an object, not a folder"),
        ({"input_key": "a" * 1025}, "object key is 1025 bytes long in UTF-8; S3 allows at most 1024"),
        ({"input_key": "bad\nkey"}, "must not contain control characters"),
        ({"output_key": "jobs/job-1/input.wav"}, "the stage would overwrite its input"),
        ({"parameters": ["not", "a", "dict"]}, "parameters: Input should be a valid dictionary (got ['not', 'a', 'dict'])"),
        ({"inputkey": "typo"}, "inputkey: Extra inputs are not permitted"),
    ],
)
def test_invalid_payload_messages_say_what_is_wrong(change: dict[str, Any], expected: str) -> None:
    message = _error({**VALID, **change})
    assert expected in message, message


def test_missing_fields_are_all_named() -> None:
    message = _error({"stage": "audio_stats"})
    for field in ("job_id", "bucket", "input_key"):
        assert f"{field}: Field required" in message


def test_same_key_in_another_bucket_is_fine() -> None:
    payload = StagePayload.model_validate({**VALID, "output_key": VALID["input_key"], "output_bucket": "other-bucket"})
    assert payload.output_key == VALID["input_key"]


def test_braces_in_input_are_not_templates() -> None:
    assert "(got '{value}')" in _error({**VALID, "stage": "{value}"})


def test_response_helpers_and_roundtrip() -> None:
    payload = StagePayload.model_validate(VALID)
    ok = StageResponse.succeeded(payload, output_key="j/r.json", timings={"total": 1.5}, result={"duration_s": 2.0})
    assert ok.status is StageStatus.SUCCEEDED and ok.error is None
    assert ok.output_bucket == "fave-media" and ok.input_key == VALID["input_key"]
    data = json.loads(ok.model_dump_json())
    assert data["status"] == "succeeded" and data["timings"] == {"total": 1.5}
    assert StageResponse.model_validate(data) == ok

    bad = StageResponse.failed(payload, "input missing", timings={"total": 0.1})
    assert bad.status is StageStatus.FAILED and bad.error == "input missing" and bad.output_key is None


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"status": "failed"}, "a response with status 'failed' must say why in 'error'"),
        ({"status": "failed", "error": "   "}, "must say why in 'error'"),
        ({"status": "succeeded"}, "a response with status 'succeeded' must name its output in 'output_key'"),
        ({"status": "running", "error": "oops"}, "'error' is set ('oops') but status is 'running'"),
        ({"status": "done"}, "status: Input should be 'pending', 'running', 'succeeded', 'failed' or 'skipped'"),
        ({"status": "pending", "timings": {"download": -0.5}}, "timings['download'] must be a finite, non-negative number of seconds (got -0.5)"),
        ({"status": "pending", "timings": {"total": float("inf")}}, "must be a finite, non-negative number"),
        ({"status": "pending", "timings": {"total": "slow"}}, "timings.total: Input should be a valid number"),
    ],
)
def test_invalid_response_messages(data: dict[str, Any], expected: str) -> None:
    message = _error({"job_id": "j1", "stage": "audio_stats", **data}, StageResponse)
    assert expected in message, message


def test_statuses() -> None:
    assert [s.value for s in StageStatus] == ["pending", "running", "succeeded", "failed", "skipped"]
    assert StageResponse(job_id="j", stage="s", status=StageStatus.SKIPPED).error is None
