"""metrics_helper: timer, cgroup memory limits (fake v1/v2 trees), RSS."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

import metrics_helper
from metrics_helper import current_rss_bytes, memory_limit_bytes, peak_rss_bytes, timer


def _records(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


# ---------------------------------------------------------------------------------------------------------------
# timer
# ---------------------------------------------------------------------------------------------------------------


def test_timer_as_context_manager_logs_duration(capsys: pytest.CaptureFixture[str]) -> None:
    with timer("audio_stats", "analyze", key="in.wav") as t:
        time.sleep(0.05)
    assert t.elapsed is not None and 0.05 <= t.elapsed < 2
    (record,) = _records(capsys.readouterr().out)
    assert (record["stage"], record["event"], record["name"]) == ("audio_stats", "timing", "analyze")
    assert record["ok"] is True and record["key"] == "in.wav" and record["level"] == "info"
    assert record["duration_s"] == pytest.approx(t.elapsed, abs=1e-5)
    assert record["duration_ms"] == pytest.approx(t.elapsed * 1000, abs=1e-2)


def test_timer_as_decorator_logs_each_call_and_keeps_the_function(capsys: pytest.CaptureFixture[str]) -> None:
    @timer("stage", "square")
    def square(x: int) -> int:
        """Square x."""
        time.sleep(0.01)
        return x * x

    assert square(3) == 9
    assert square(4) == 16
    assert square.__name__ == "square" and square.__doc__ == "Square x."
    records = _records(capsys.readouterr().out)
    assert [r["name"] for r in records] == ["square", "square"]
    assert all(r["duration_s"] >= 0.01 for r in records)


def test_timer_reports_failure_and_reraises(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ZeroDivisionError):
        with timer("stage", "divide"):
            _ = 1 / 0
    (record,) = _records(capsys.readouterr().out)
    assert record["ok"] is False and record["error_type"] == "ZeroDivisionError" and record["level"] == "warning"


def test_timer_decorator_is_reentrant(capsys: pytest.CaptureFixture[str]) -> None:
    @timer("stage", "fib")
    def fib(n: int) -> int:
        return n if n < 2 else fib(n - 1) + fib(n - 2)

    assert fib(5) == 5
    records = _records(capsys.readouterr().out)
    assert len(records) == 15  # one per call, each with its own duration
    assert records[-1]["duration_s"] >= max(r["duration_s"] for r in records[:-1])


# ---------------------------------------------------------------------------------------------------------------
# memory limit
# ---------------------------------------------------------------------------------------------------------------


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture
def no_proc_cgroup(tmp_path: Path) -> Path:
    return tmp_path / "no-proc-cgroup"  # missing: only the root of the fake tree is looked at


def test_cgroup_v2_limit(tmp_path: Path, no_proc_cgroup: Path) -> None:
    _write(tmp_path / "cg" / "memory.max", "536870912\n")
    assert memory_limit_bytes(tmp_path / "cg", no_proc_cgroup) == 512 * 1024 * 1024


def test_cgroup_v2_max_means_unlimited(tmp_path: Path, no_proc_cgroup: Path) -> None:
    _write(tmp_path / "cg" / "memory.max", "max\n")
    # A v1 file next to it must not be consulted once v2 answered.
    _write(tmp_path / "cg" / "memory" / "memory.limit_in_bytes", "1048576\n")
    assert memory_limit_bytes(tmp_path / "cg", no_proc_cgroup) is None


def test_cgroup_v2_uses_own_cgroup_directory_first(tmp_path: Path) -> None:
    _write(tmp_path / "cg" / "memory.max", "max\n")
    _write(tmp_path / "cg" / "kubepods" / "pod1" / "memory.max", "268435456\n")
    proc = tmp_path / "proc-cgroup"
    _write(proc, "0::/kubepods/pod1\n")
    assert memory_limit_bytes(tmp_path / "cg", proc) == 256 * 1024 * 1024


def test_cgroup_v1_limit(tmp_path: Path, no_proc_cgroup: Path) -> None:
    _write(tmp_path / "cg" / "memory" / "memory.limit_in_bytes", "1073741824\n")
    assert memory_limit_bytes(tmp_path / "cg", no_proc_cgroup) == 1024 * 1024 * 1024


def test_cgroup_v1_unlimited_sentinel(tmp_path: Path, no_proc_cgroup: Path) -> None:
    _write(tmp_path / "cg" / "memory" / "memory.limit_in_bytes", "9223372036854771712\n")
    assert memory_limit_bytes(tmp_path / "cg", no_proc_cgroup) is None


def test_cgroup_v1_own_path_and_controller_mount(tmp_path: Path) -> None:
    _write(tmp_path / "cg" / "memory" / "docker" / "abc" / "memory.limit_in_bytes", "2147483648\n")
    _write(tmp_path / "cg" / "memory" / "memory.limit_in_bytes", "9223372036854771712\n")
    proc = tmp_path / "proc-cgroup"
    _write(proc, "12:cpu,cpuacct:/docker/abc\n11:memory:/docker/abc\n0::/\n")
    assert memory_limit_bytes(tmp_path / "cg", proc) == 2 * 1024 * 1024 * 1024
    # cgroup_root pointing at the memory controller's own mount
    _write(tmp_path / "memctl" / "memory.limit_in_bytes", "3145728\n")
    assert memory_limit_bytes(tmp_path / "memctl", tmp_path / "none") == 3 * 1024 * 1024


def test_no_cgroup_files_or_garbage_gives_none(tmp_path: Path, no_proc_cgroup: Path) -> None:
    assert memory_limit_bytes(tmp_path / "empty", no_proc_cgroup) is None
    _write(tmp_path / "bad" / "memory.max", "lots\n")
    assert memory_limit_bytes(tmp_path / "bad", no_proc_cgroup) is None


def test_cgroup_root_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_proc_cgroup: Path) -> None:
    _write(tmp_path / "cg" / "memory.max", "4096\n")
    monkeypatch.setenv("FAVE_CGROUP_ROOT", str(tmp_path / "cg"))
    assert memory_limit_bytes(proc_cgroup=no_proc_cgroup) == 4096


def test_real_machine_limit_does_not_raise() -> None:
    value = memory_limit_bytes()
    assert value is None or value > 0


# ---------------------------------------------------------------------------------------------------------------
# RSS
# ---------------------------------------------------------------------------------------------------------------


def test_rss_current_and_peak_grow_with_allocation() -> None:
    current = current_rss_bytes()
    peak = peak_rss_bytes()
    assert current is not None and peak is not None
    assert 1024 * 1024 < current <= peak
    block = bytearray(64 * 1024 * 1024)
    for i in range(0, len(block), 4096):  # touch every page so it is resident
        block[i] = 1
    grown = current_rss_bytes()
    assert grown is not None and grown >= current + 48 * 1024 * 1024
    peak_after = peak_rss_bytes()
    assert peak_after is not None and peak_after >= grown
    del block


def test_rss_parses_status_file(tmp_path: Path) -> None:
    status = tmp_path / "status"
    status.write_text("Name:\tpython\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\nThreads:\t1\n")
    assert current_rss_bytes(status) == 102400 * 1024
    assert peak_rss_bytes(status) == 204800 * 1024


def test_peak_rss_falls_back_to_getrusage(tmp_path: Path) -> None:
    import resource

    expected = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    value = peak_rss_bytes(tmp_path / "missing-status")
    assert value is not None and value >= expected


def test_log_memory(capsys: pytest.CaptureFixture[str]) -> None:
    snapshot = metrics_helper.log_memory("stage", job_id="j1")
    (record,) = _records(capsys.readouterr().out)
    assert record["event"] == "memory" and record["job_id"] == "j1"
    assert record["rss_bytes"] == snapshot["rss_bytes"] and record["rss_bytes"] > 0
    assert "limit_bytes" in record and "peak_rss_bytes" in record
