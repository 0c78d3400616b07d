"""Structured JSON logging for FAVE functions: one JSON object per line.

Every FAVE stage logs through :func:`log_event`::

    from logging_helper import log_event
    log_event("audio_stats", "downloaded", key="jobs/1/in.wav", bytes=48_044)

which writes one line such as::

    {"timestamp": "2026-11-27T08:00:00.123Z", "level": "info", "stage": "audio_stats",
     "event": "downloaded", "function": "orchestrator", "call_id": "5f0c...", "key": "jobs/1/in.wav",
     "bytes": 48044}

Fields, in this order:

``timestamp``
    UTC, ISO 8601 with milliseconds and a ``Z`` suffix.
``level``
    ``debug``, ``info``, ``warning``, ``error`` or ``critical`` (``warn`` and ``fatal`` are accepted as aliases).
``stage``, ``event``
    what the caller passed.
``function``, ``call_id``
    only when known (see below).
everything else
    the keyword arguments. A keyword that collides with one of the four fixed fields (``timestamp`` is the only
    one that can) is written as ``field_<name>``.

OpenFaaS context
----------------
The function name comes from ``OPENFAAS_NAME`` (set on function pods by current OpenFaaS providers) or, failing
that, ``faas_function`` (the label OpenFaaS puts on function pods; set it as an environment variable in
``stack.yml`` where the provider does not). The call id comes from ``Http_X_Call_Id``: the gateway adds an
``X-Call-Id`` header to every invocation, and the watchdog (classic, and of-watchdog in its forking ``streaming``
and ``serializing`` modes) passes each request header to the function process as an ``Http_<Header>`` variable.
In of-watchdog's ``http`` mode headers are not in the environment: pass ``call_id=request.headers["X-Call-Id"]``
to :func:`log_event` (an explicit ``function=``/``call_id=`` keyword always wins over the environment).

Where lines go
--------------
To ``sys.stdout`` as it is at the time of the call, unless ``FAVE_LOG_STREAM=stderr``. Functions run by a forking
watchdog must set ``FAVE_LOG_STREAM=stderr``: there stdout is the HTTP response body. ``FAVE_LOG_LEVEL`` (default
``debug``) drops events below that level.

Safety
------
:func:`log_event` never raises: values that JSON cannot hold (bytes, sets, paths, datetimes, NaN, numpy values,
arbitrary objects, cycles) are converted (``str``/``repr``, falling back to a placeholder when those raise too),
and a failure to write is swallowed.

Library logs (``logging``) come out in the same shape through :class:`JsonFormatter`; :func:`configure_logging`
installs it on the root logger.
"""

from __future__ import annotations

import datetime as _dt
import enum
import json
import logging
import math
import os
import sys
import threading
import traceback
from collections.abc import Mapping
from pathlib import PurePath
from typing import IO, Any, Final

__all__ = [
    "CALL_ID_ENV_VARS",
    "FUNCTION_NAME_ENV_VARS",
    "JsonFormatter",
    "build_record",
    "configure_logging",
    "json_safe",
    "log_event",
]

#: Environment variables read for the OpenFaaS function name, first present wins.
FUNCTION_NAME_ENV_VARS: Final[tuple[str, ...]] = ("OPENFAAS_NAME", "faas_function")
#: Environment variables read for the per-invocation call id, first present wins.
CALL_ID_ENV_VARS: Final[tuple[str, ...]] = ("Http_X_Call_Id",)

_LEVELS: Final[dict[str, int]] = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
}
_LEVEL_ALIASES: Final[dict[str, str]] = {"warn": "warning", "fatal": "critical", "exception": "error"}
_FIXED_FIELDS: Final[frozenset[str]] = frozenset({"timestamp", "level", "stage", "event"})
_MAX_DEPTH: Final[int] = 20
_write_lock = threading.Lock()


def utc_timestamp(when: _dt.datetime | float | None = None) -> str:
    """Format ``when`` (a datetime, a POSIX time, or now) as UTC ISO 8601 with milliseconds and ``Z``."""
    if when is None:
        moment = _dt.datetime.now(_dt.timezone.utc)
    elif isinstance(when, _dt.datetime):
        moment = when.astimezone(_dt.timezone.utc) if when.tzinfo else when.replace(tzinfo=_dt.timezone.utc)
    else:
        moment = _dt.datetime.fromtimestamp(when, tz=_dt.timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def normalize_level(level: object) -> str:
    """Return the canonical lower-case level name for ``level`` (a name or a ``logging`` number).

    Unknown names are kept (lower-cased) rather than rejected, so that logging never fails.
    """
    if isinstance(level, int) and not isinstance(level, bool):
        name = logging.getLevelName(level)
        return name.lower() if isinstance(name, str) and not name.startswith("Level ") else str(level)
    text = _safe_str(level).strip().lower()
    return _LEVEL_ALIASES.get(text, text)


def _safe_str(value: object) -> str:
    try:
        return str(value)
    except Exception:  # noqa: BLE001 - str() of arbitrary objects may raise anything
        try:
            return repr(value)
        except Exception:  # noqa: BLE001
            return f"<unrepresentable {type(value).__name__}>"


def _safe_repr(value: object) -> str:
    try:
        return repr(value)
    except Exception:  # noqa: BLE001
        return _safe_str(value) if _has_own_str(value) else f"<unrepresentable {type(value).__name__}>"


def json_safe(value: Any, _depth: int = 0, _seen: frozenset[int] = frozenset()) -> Any:
    """Return a copy of ``value`` that :func:`json.dumps` (with ``allow_nan=False``) accepts.

    - ``None``, ``bool``, ``int``, ``str`` and finite ``float`` pass through; NaN and infinities become the strings
      ``"NaN"``, ``"Infinity"``, ``"-Infinity"``.
    - Mappings become dicts with ``str`` keys; lists, tuples, sets and frozensets become lists (sets sorted by their
      string form so that output is stable).
    - ``bytes`` become their ``repr`` (``"b'\\x00...'"``); datetimes, dates and times their ISO form; paths ``str``;
      enums their value; objects with ``model_dump`` (pydantic) or ``tolist`` (numpy) what those return.
    - Anything else becomes ``str(value)``, or ``repr(value)`` when it has no ``__str__`` of its own, or a
      placeholder when both raise. A container that contains itself becomes ``"<cycle>"``.
    """
    try:
        return _json_safe(value, _depth, _seen)
    except Exception:  # noqa: BLE001 - last resort, json_safe must not raise
        return f"<unrepresentable {type(value).__name__}>"


def _json_safe(value: Any, depth: int, seen: frozenset[int]) -> Any:
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return float(value)
    if depth >= _MAX_DEPTH:
        return _safe_repr(value)
    if id(value) in seen:
        return "<cycle>"
    inner = seen | {id(value)}
    if isinstance(value, Mapping):
        return {_safe_str(k): _json_safe(v, depth + 1, inner) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v, depth + 1, inner) for v in value]
    if isinstance(value, (set, frozenset)):
        items = [_json_safe(v, depth + 1, inner) for v in value]
        return sorted(items, key=_safe_str)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _safe_repr(bytes(value))
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, _dt.timedelta):
        return value.total_seconds()
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, enum.Enum):
        return _json_safe(value.value, depth + 1, inner)
    if isinstance(value, BaseException):
        return f"{type(value).__name__}: {_safe_str(value)}"
    for method in ("model_dump", "tolist"):
        fn = getattr(value, method, None)
        if callable(fn):
            try:
                converted = fn(mode="json") if method == "model_dump" else fn()
            except Exception:  # noqa: BLE001 - fall through to str()
                break
            return _json_safe(converted, depth + 1, inner)
    if not _has_own_str(value):
        return _safe_repr(value)
    return _safe_str(value)


def _has_own_str(value: object) -> bool:
    """Whether ``value``'s class defines ``__str__`` (else ``str()`` would just give ``repr()``)."""
    return getattr(type(value), "__str__", None) is not getattr(object, "__str__")


def _env_context(env: Mapping[str, str] | None = None) -> dict[str, str]:
    source = os.environ if env is None else env
    context: dict[str, str] = {}
    for field, names in (("function", FUNCTION_NAME_ENV_VARS), ("call_id", CALL_ID_ENV_VARS)):
        for name in names:
            value = source.get(name)
            if value:
                context[field] = value
                break
    return context


def build_record(
    stage: object,
    event: object,
    level: object = "info",
    fields: Mapping[str, Any] | None = None,
    *,
    timestamp: _dt.datetime | float | None = None,
    env: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Build the JSON-safe dict that :func:`log_event` writes (exposed for formatters and tests)."""
    record: dict[str, Any] = {
        "timestamp": utc_timestamp(timestamp),
        "level": normalize_level(level),
        "stage": _safe_str(stage) if stage is not None else None,
        "event": _safe_str(event),
    }
    record.update(_env_context(env))
    for key, value in (fields or {}).items():
        name = _safe_str(key)
        if name in _FIXED_FIELDS:
            name = f"field_{name}"
        record[name] = json_safe(value)
    return record


def _dumps(record: Mapping[str, Any]) -> str:
    try:
        return json.dumps(record, ensure_ascii=False, allow_nan=False, separators=(", ", ": "))
    except Exception:  # noqa: BLE001 - build_record output is JSON-safe; this is belt and braces
        return json.dumps({k: _safe_str(v) for k, v in record.items()}, ensure_ascii=False)


def _output_stream() -> IO[str]:
    return sys.stderr if os.environ.get("FAVE_LOG_STREAM", "").strip().lower() == "stderr" else sys.stdout


def _min_level() -> int:
    name = normalize_level(os.environ.get("FAVE_LOG_LEVEL", "debug"))
    return _LEVELS.get(name, logging.DEBUG)


def log_event(stage: str, event: str, level: str = "info", **kwargs: Any) -> None:
    """Write one JSON line describing ``event`` of ``stage``, with ``kwargs`` as extra fields.

    See the module documentation for the fields and the environment variables read. Never raises.
    """
    try:
        level_name = normalize_level(level)
        if _LEVELS.get(level_name, logging.INFO) < _min_level():
            return
        line = _dumps(build_record(stage, event, level_name, kwargs)) + "\n"
        stream = _output_stream()
        with _write_lock:
            stream.write(line)
            stream.flush()
    except Exception:  # noqa: BLE001 - logging must never take the function down
        return


# Attributes every LogRecord has; anything else on a record came from ``extra=`` and becomes a field.
_STANDARD_RECORD_ATTRS: Final[frozenset[str]] = frozenset(
    vars(logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None)).keys()
    | {"message", "asctime", "taskName", "stage", "event"}
)


class JsonFormatter(logging.Formatter):
    """A :class:`logging.Formatter` that renders records in :func:`log_event`'s shape.

    ``stage`` is the record's ``stage`` attribute (``logger.info("...", extra={"stage": "x"})``) or else the logger
    name; ``event`` is the formatted message. The logger name is kept as ``logger``, fields given with ``extra=``
    are added, and an exception becomes ``exception`` (its type and message) plus ``traceback``.
    """

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        super().__init__()
        self._env = env

    def format(self, record: logging.LogRecord) -> str:
        try:
            fields: dict[str, Any] = {"logger": record.name}
            for key, value in vars(record).items():
                if key not in _STANDARD_RECORD_ATTRS and not key.startswith("_"):
                    fields[key] = value
            if record.exc_info and record.exc_info[1] is not None:
                exc = record.exc_info[1]
                fields["exception"] = f"{type(exc).__name__}: {_safe_str(exc)}"
                fields["traceback"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
            elif record.exc_text:
                fields["traceback"] = record.exc_text
            if record.stack_info:
                fields["stack"] = record.stack_info
            try:
                message = record.getMessage()
            except Exception:  # noqa: BLE001 - bad %-args must not lose the record
                message = f"{_safe_str(record.msg)} (args: {_safe_repr(record.args)})"
            stage = getattr(record, "stage", None) or record.name
            return _dumps(build_record(stage, message, record.levelname, fields, timestamp=record.created, env=self._env))
        except Exception:  # noqa: BLE001
            return json.dumps({"level": "error", "event": "log formatting failed", "logger": getattr(record, "name", "?")})


class _CurrentStreamHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A StreamHandler that writes to whatever ``sys.stdout``/``sys.stderr`` is at emit time."""

    def __init__(self) -> None:
        super().__init__(_output_stream())

    @property
    def stream(self) -> IO[str]:
        return _output_stream()

    @stream.setter
    def stream(self, value: IO[str]) -> None:  # StreamHandler.__init__ assigns it; the property wins
        pass


_HANDLER_MARK: Final[str] = "_fave_json_handler"


def configure_logging(level: int | str = "INFO", *, stream: IO[str] | None = None) -> logging.Handler:
    """Route the root logger through :class:`JsonFormatter` and set its level; return the handler.

    Idempotent: a handler installed by an earlier call is replaced, other handlers are left alone. Without
    ``stream`` the handler writes where :func:`log_event` does (stdout, or stderr with ``FAVE_LOG_STREAM=stderr``),
    looked up at each record. ``level`` may be a name (``"info"``) or a number.
    """
    root = logging.getLogger()
    for existing in list(root.handlers):
        if getattr(existing, _HANDLER_MARK, False):
            root.removeHandler(existing)
    handler: logging.Handler = logging.StreamHandler(stream) if stream is not None else _CurrentStreamHandler()
    setattr(handler, _HANDLER_MARK, True)
    handler.setFormatter(JsonFormatter())
    root.addHandler(handler)
    if isinstance(level, str):
        numeric = _LEVELS.get(normalize_level(level))
        if numeric is None:
            raise ValueError(f"unknown log level {level!r}: use one of {', '.join(_LEVELS)}")
        root.setLevel(numeric)
    else:
        root.setLevel(level)
    return handler
