"""One measured run of a child process.

Wall time is taken around the child's whole life; CPU time (user + sys) and peak RSS (ru_maxrss) come from
the kernel's accounting of that child and its reaped descendants, read with os.wait4. The child starts in a
session (and process group) of its own, so a timeout kills it and everything it started, by its PID, and
never anything else.

ru_maxrss has a floor: on Linux a child keeps its parent's high-water mark across exec, so a value below this
process's own RSS reads as that floor. `floor_mib` measures it (`true`) for the report's header.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Measurement:
    """What one run of a child cost and how it ended."""

    argv: list[str]
    exit_code: int | None  # None when it was killed at the timeout
    wall: float  # seconds
    cpu: float  # seconds, user + sys
    rss: float  # MiB, peak resident set
    timed_out: bool


def run(argv: list[str], env: dict[str, str], timeout: float,
        stdout: Path | None = None, stderr: Path | None = None) -> Measurement:
    """Run `argv` once (PATH searched), its output to files (or /dev/null), measured; killed at `timeout` s."""
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, str(stdout or os.devnull), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644),
        (os.POSIX_SPAWN_OPEN, 2, str(stderr or os.devnull), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644),
    ]
    start = time.perf_counter()
    pid = os.posix_spawnp(argv[0], argv, env, file_actions=actions, setsid=True)
    lock = threading.Lock()
    state = {"exited": False, "killed": False}

    def kill() -> None:
        # Only while the child is unreaped: its PID (= its group's id) cannot have been reused yet.
        with lock:
            if not state["exited"]:
                state["killed"] = True
                _kill_group(pid)

    timer = threading.Timer(timeout, kill)
    timer.daemon = True
    timer.start()
    try:
        # Wait without reaping, so that the timer can never signal a reused PID.
        os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
    except BaseException:
        kill()
        os.wait4(pid, 0)
        raise
    finally:
        timer.cancel()
    wall = time.perf_counter() - start
    with lock:
        state["exited"] = True
        if state["killed"]:
            _kill_group(pid)  # what the killed child left behind in its group
    _, status, usage = os.wait4(pid, 0)
    timed_out = state["killed"]
    return Measurement(
        argv=list(argv),
        exit_code=None if timed_out else os.waitstatus_to_exitcode(status),
        wall=wall,
        cpu=usage.ru_utime + usage.ru_stime,
        rss=usage.ru_maxrss / 1024,
        timed_out=timed_out,
    )


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def floor_mib(env: dict[str, str]) -> float:
    """The peak RSS that `true` reports from here: the floor under every ru_maxrss of this run."""
    return run(["true"], env, timeout=10).rss
