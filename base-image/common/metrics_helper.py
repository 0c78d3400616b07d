"""Runtime and memory measurements for FAVE functions.

- :class:`timer` measures a block or a function and reports the duration through
  :func:`logging_helper.log_event` (event ``"timing"``)::

      with timer("audio_stats", "analyze") as t:
          ...
      t.elapsed            # seconds, also logged as duration_s / duration_ms

      @timer("audio_stats", "load")
      def load(path): ...

- :func:`memory_limit_bytes` reads the container's memory limit from cgroup v2 (``memory.max``) or v1
  (``memory.limit_in_bytes``); ``None`` means unlimited or unknown.
- :func:`current_rss_bytes` / :func:`peak_rss_bytes` read this process's resident set size now and at its peak
  from ``/proc/self/status`` (``VmRSS``/``VmHWM``), falling back to ``/proc/self/statm`` and
  :func:`resource.getrusage`.
- :func:`memory_snapshot` gathers the three; :func:`log_memory` logs them.
"""

from __future__ import annotations

import os
import time
from contextlib import ContextDecorator
from pathlib import Path
from types import TracebackType
from typing import Any, Final

from logging_helper import log_event

__all__ = [
    "DEFAULT_CGROUP_ROOT",
    "V1_UNLIMITED_THRESHOLD",
    "current_rss_bytes",
    "log_memory",
    "memory_limit_bytes",
    "memory_snapshot",
    "peak_rss_bytes",
    "timer",
]

#: Where cgroup file systems are mounted in a container.
DEFAULT_CGROUP_ROOT: Final[Path] = Path("/sys/fs/cgroup")
#: cgroup v1 reports "no limit" as a huge number (PAGE_COUNTER_MAX pages, 0x7FFFFFFFFFFFF000 on 64-bit
#: kernels with 4 KiB pages). Any value at or above 2**62 bytes (4 EiB) is treated as that sentinel.
V1_UNLIMITED_THRESHOLD: Final[int] = 1 << 62


class timer(ContextDecorator):  # noqa: N801 - used like a function: ``with timer(...)`` / ``@timer(...)``
    """Time a block (context manager) or each call of a function (decorator) and log the duration.

    On exit it calls ``log_event(stage, "timing", name=name, duration_s=..., duration_ms=..., ok=...,
    **fields)``; when the block raised, ``ok`` is false, ``error_type`` names the exception, the level is
    ``warning``, and the exception propagates unchanged. :attr:`elapsed` holds the duration in seconds after
    exit (``None`` before). Used as a decorator each call gets a fresh timer, so recursion and threads are safe.
    """

    def __init__(self, stage: str, name: str, level: str = "info", **fields: Any) -> None:
        self.stage = stage
        self.name = name
        self.level = level
        self.fields = fields
        self.elapsed: float | None = None
        self._start: float | None = None

    def _recreate_cm(self) -> timer:
        return timer(self.stage, self.name, self.level, **self.fields)

    def __enter__(self) -> timer:
        self.elapsed = None
        self._start = time.perf_counter()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        start = self._start if self._start is not None else time.perf_counter()
        self.elapsed = time.perf_counter() - start
        payload: dict[str, Any] = dict(self.fields)
        payload.update(
            name=self.name,
            duration_s=round(self.elapsed, 6),
            duration_ms=round(self.elapsed * 1000.0, 3),
            ok=exc_type is None,
        )
        if exc_type is not None:
            payload["error_type"] = exc_type.__name__
        log_event(self.stage, "timing", level=self.level if exc_type is None else "warning", **payload)


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return None


def _own_cgroup_paths(proc_cgroup: Path) -> tuple[str | None, str | None]:
    """Return this process's (v2 unified path, v1 memory controller path) from ``/proc/self/cgroup``."""
    text = _read_text(proc_cgroup)
    unified: str | None = None
    memory_v1: str | None = None
    for line in (text or "").splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        hierarchy, controllers, path = parts
        if hierarchy == "0" and controllers == "":
            unified = path
        elif "memory" in controllers.split(","):
            memory_v1 = path
    return unified, memory_v1


def _candidates(base: Path, own_path: str | None) -> list[Path]:
    """``base/<own cgroup path>`` (host view) first, then ``base`` itself (a container's namespaced view)."""
    found: list[Path] = []
    if own_path and own_path.strip("/"):
        found.append(base / own_path.strip("/"))
    found.append(base)
    return found


def _parse_limit(text: str | None, *, v1: bool) -> tuple[bool, int | None]:
    """Return (recognised, limit). ``recognised`` is false for content that is not a limit at all."""
    if text is None:
        return False, None
    if text == "max":
        return True, None
    try:
        value = int(text)
    except ValueError:
        return False, None
    if value < 0 or (v1 and value >= V1_UNLIMITED_THRESHOLD):
        return True, None
    return True, value


def memory_limit_bytes(
    cgroup_root: str | os.PathLike[str] | None = None,
    proc_cgroup: str | os.PathLike[str] = "/proc/self/cgroup",
) -> int | None:
    """Return the memory limit of this process's cgroup in bytes, or ``None`` when unlimited or unknown.

    cgroup v2 (``<root>/memory.max``) is preferred; a value of ``max`` means unlimited. Otherwise cgroup v1
    (``<root>/memory/memory.limit_in_bytes``, or ``<root>/memory.limit_in_bytes`` when ``cgroup_root`` is the memory
    controller's own mount) is read; its "unlimited" sentinel (any value of at least 2**62) gives ``None``. For each
    version the process's own cgroup directory (from ``proc_cgroup``) is tried before the root, so the answer is
    also right outside a container. Missing or unreadable files give ``None``; this function does not raise.

    ``cgroup_root`` defaults to ``$FAVE_CGROUP_ROOT`` or ``/sys/fs/cgroup``; tests point it (and ``proc_cgroup``)
    at fake trees.
    """
    root = Path(cgroup_root if cgroup_root is not None else os.environ.get("FAVE_CGROUP_ROOT", DEFAULT_CGROUP_ROOT))
    unified, memory_v1 = _own_cgroup_paths(Path(proc_cgroup))

    for directory in _candidates(root, unified):
        recognised, limit = _parse_limit(_read_text(directory / "memory.max"), v1=False)
        if recognised:
            return limit

    for base in (root / "memory", root):
        for directory in _candidates(base, memory_v1):
            recognised, limit = _parse_limit(_read_text(directory / "memory.limit_in_bytes"), v1=True)
            if recognised:
                return limit
    return None


def _status_kib(field: str, status_path: Path) -> int | None:
    text = _read_text(status_path)
    for line in (text or "").splitlines():
        if line.startswith(field + ":"):
            parts = line.split()
            try:
                value = int(parts[1])
            except (IndexError, ValueError):
                return None
            unit = parts[2].lower() if len(parts) > 2 else "kb"
            return value * 1024 if unit == "kb" else value
    return None


def current_rss_bytes(status_path: str | os.PathLike[str] = "/proc/self/status") -> int | None:
    """Resident set size of this process now, in bytes (``VmRSS``; else ``/proc/self/statm``; else ``None``)."""
    value = _status_kib("VmRSS", Path(status_path))
    if value is not None:
        return value
    statm = _read_text(Path("/proc/self/statm"))
    if statm:
        try:
            return int(statm.split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (IndexError, ValueError, OSError):
            return None
    return None


def peak_rss_bytes(status_path: str | os.PathLike[str] = "/proc/self/status") -> int | None:
    """Peak resident set size of this process, in bytes (``VmHWM``; else ``getrusage().ru_maxrss``)."""
    value = _status_kib("VmHWM", Path(status_path))
    if value is not None:
        return value
    try:
        import resource
    except ImportError:  # not on POSIX
        return None
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes.
    return int(maxrss) if os.uname().sysname == "Darwin" else int(maxrss) * 1024


def memory_snapshot(cgroup_root: str | os.PathLike[str] | None = None) -> dict[str, int | None]:
    """Return ``{"limit_bytes", "rss_bytes", "peak_rss_bytes"}``."""
    return {
        "limit_bytes": memory_limit_bytes(cgroup_root),
        "rss_bytes": current_rss_bytes(),
        "peak_rss_bytes": peak_rss_bytes(),
    }


def log_memory(stage: str, event: str = "memory", **fields: Any) -> dict[str, int | None]:
    """Log :func:`memory_snapshot` (plus ``fields``) through ``log_event`` and return the snapshot."""
    snapshot = memory_snapshot()
    payload: dict[str, Any] = {**fields, **snapshot}
    log_event(stage, event, **payload)
    return snapshot
