"""logging_helper: JSON lines on stdout, OpenFaaS context, unsafe values, the logging formatter."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import math
from collections.abc import Iterator
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import logging_helper
from logging_helper import JsonFormatter, configure_logging, log_event


def _lines(text: str) -> list[dict[str, Any]]:
    out = []
    for line in text.splitlines():
        assert line.strip(), "blank line in log output"
        out.append(json.loads(line))
    return out


def test_log_event_writes_one_json_object_per_line(capsys: pytest.CaptureFixture[str]) -> None:
    log_event("audio_stats", "downloaded", key="jobs/1/in.wav", size=48044, ratio=0.5, ok=True, nothing=None)
    log_event("audio_stats", "second")
    captured = capsys.readouterr()
    assert captured.err == ""
    first, second = _lines(captured.out)
    assert list(first)[:4] == ["timestamp", "level", "stage", "event"]
    assert first["level"] == "info"
    assert (first["stage"], first["event"]) == ("audio_stats", "downloaded")
    assert first["key"] == "jobs/1/in.wav" and first["size"] == 48044 and first["ratio"] == 0.5
    assert first["ok"] is True and first["nothing"] is None
    assert second["event"] == "second"
    assert "function" not in first and "call_id" not in first  # no OpenFaaS environment here


def test_timestamp_is_utc_iso_with_z(capsys: pytest.CaptureFixture[str]) -> None:
    before = dt.datetime.now(dt.timezone.utc)
    log_event("s", "e")
    after = dt.datetime.now(dt.timezone.utc)
    (record,) = _lines(capsys.readouterr().out)
    stamp = record["timestamp"]
    assert stamp.endswith("Z") and "T" in stamp
    parsed = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    assert parsed.utcoffset() == dt.timedelta(0)
    assert before - dt.timedelta(milliseconds=1) <= parsed <= after + dt.timedelta(milliseconds=1)


def test_openfaas_function_name_and_call_id_come_from_env(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("faas_function", "fallback-name")
    monkeypatch.setenv("Http_X_Call_Id", "9a1f-call")
    log_event("s", "with-label-only")
    monkeypatch.setenv("OPENFAAS_NAME", "orchestrator")
    log_event("s", "with-both")
    log_event("s", "explicit", call_id="from-header", function="override")
    a, b, c = _lines(capsys.readouterr().out)
    assert (a["function"], a["call_id"]) == ("fallback-name", "9a1f-call")
    assert b["function"] == "orchestrator"  # OPENFAAS_NAME wins over faas_function
    assert (c["function"], c["call_id"]) == ("override", "from-header")  # explicit kwargs win


def test_levels_are_normalised_and_filtered(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    log_event("s", "a", level="WARN")
    log_event("s", "b", level="Error")
    log_event("s", "c", level="fatal")
    monkeypatch.setenv("FAVE_LOG_LEVEL", "warning")
    log_event("s", "dropped", level="info")
    log_event("s", "kept", level="warning")
    levels = [(r["event"], r["level"]) for r in _lines(capsys.readouterr().out)]
    assert levels == [("a", "warning"), ("b", "error"), ("c", "critical"), ("kept", "warning")]


class _Color(Enum):
    RED = "red"


class _Exploding:
    def __str__(self) -> str:
        raise RuntimeError("no str for you")

    def __repr__(self) -> str:
        raise RuntimeError("no repr either")


class _ReprOnly:
    def __repr__(self) -> str:
        return "<ReprOnly 42>"


def test_values_that_are_not_json_are_made_safe(capsys: pytest.CaptureFixture[str]) -> None:
    cyclic: list[Any] = [1]
    cyclic.append(cyclic)
    log_event(
        "s",
        "unsafe",
        raw=b"\x00\xffRIFF",
        tags={"b", "a"},
        when=dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc),
        path=Path("/tmp/x.wav"),
        nan=float("nan"),
        inf=-math.inf,
        color=_Color.RED,
        np_float=np.float32(0.25),
        np_int=np.int64(7),
        array=np.arange(3),
        exploding=_Exploding(),
        repr_only=_ReprOnly(),
        error=ValueError("bad value"),
        nested={1: {"deep": (1, 2)}, "self": cyclic},
        timestamp="user field",
        text="line one\nline two",
    )
    out = capsys.readouterr().out
    assert out.count("\n") == 1  # a newline inside a value does not split the record
    (record,) = _lines(out)
    assert record["raw"] == repr(b"\x00\xffRIFF")
    assert record["tags"] == ["a", "b"]
    assert record["when"] == "2026-01-02T03:04:05+00:00"
    assert record["path"] == "/tmp/x.wav"
    assert record["nan"] == "NaN" and record["inf"] == "-Infinity"
    assert record["color"] == "red"
    assert record["np_float"] == 0.25 and record["np_int"] == 7 and record["array"] == [0, 1, 2]
    assert record["exploding"] == "<unrepresentable _Exploding>"
    assert record["repr_only"] == "<ReprOnly 42>"
    assert record["error"] == "ValueError: bad value"
    assert record["nested"] == {"1": {"deep": [1, 2]}, "self": [1, "<cycle>"]}
    assert record["field_timestamp"] == "user field" and record["timestamp"] != "user field"
    assert record["text"] == "line one\nline two"


def test_log_event_never_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    class BrokenStream(io.StringIO):
        def write(self, _: str) -> int:
            raise OSError("stdout is gone")

    monkeypatch.setattr("sys.stdout", BrokenStream())
    log_event("s", "e", value=_Exploding())  # must not raise
    log_event(_Exploding(), _Exploding(), level=_Exploding())  # type: ignore[arg-type]


def test_stream_can_be_stderr(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAVE_LOG_STREAM", "stderr")
    log_event("s", "to-stderr")
    captured = capsys.readouterr()
    assert captured.out == ""
    assert _lines(captured.err)[0]["event"] == "to-stderr"


@pytest.fixture
def restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)


@pytest.mark.usefixtures("restore_root_logger")
def test_configure_logging_makes_library_logs_the_same_shape(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("Http_X_Call_Id", "call-7")
    configure_logging("info")
    configure_logging("info")  # idempotent: still one line per record
    lib = logging.getLogger("botocore.test")
    lib.debug("below the level")
    lib.warning("retrying %s in %.1fs", "GetObject", 0.5, extra={"attempt": 2, "stage": "storage"})
    logging.getLogger("plain").info("no stage given")
    try:
        raise KeyError("k")
    except KeyError:
        lib.exception("failed")
    records = _lines(capsys.readouterr().out)
    assert len(records) == 3
    warning, plain, failure = records
    assert list(warning)[:4] == ["timestamp", "level", "stage", "event"]
    assert warning["level"] == "warning" and warning["stage"] == "storage"
    assert warning["event"] == "retrying GetObject in 0.5s"
    assert warning["attempt"] == 2 and warning["logger"] == "botocore.test" and warning["call_id"] == "call-7"
    assert plain["stage"] == "plain" and plain["level"] == "info"
    assert failure["level"] == "error" and failure["exception"] == "KeyError: 'k'"
    assert "Traceback" in failure["traceback"] and "raise KeyError" in failure["traceback"]


def test_formatter_survives_bad_format_args() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "needs %d", ("not a number",), None)
    formatted = json.loads(JsonFormatter().format(record))
    assert formatted["event"].startswith("needs %d")
    assert formatted["level"] == "info"


@pytest.mark.usefixtures("restore_root_logger")
def test_configure_logging_rejects_unknown_level() -> None:
    with pytest.raises(ValueError, match="unknown log level 'loud'"):
        configure_logging("loud")


def test_build_record_uses_given_env() -> None:
    record = logging_helper.build_record("s", "e", "debug", {"k": 1}, env={"OPENFAAS_NAME": "fn", "Http_X_Call_Id": "c"})
    assert record["function"] == "fn" and record["call_id"] == "c" and record["level"] == "debug"
