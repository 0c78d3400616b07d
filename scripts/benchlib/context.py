"""What every scenario shares: the binaries, the work folder with one cache dir per tool, the targets, the
resolve commands of both tools, and the record of every raw run (for `--json`).

No run reads or writes the user's caches: each tool gets `<work>/caches/<name>/<tool>` through
FAVE_LOCK_CACHE_DIR or UV_CACHE_DIR, and XDG_CACHE_HOME/XDG_DATA_HOME point into the work folder too.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import measure
from .measure import Measurement
from .stats import Summary, interleaved, summarize

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ("fave-lock", "uv")


def fave_lock_binary() -> Path:
    """target/release/fave-lock under $CARGO_TARGET_DIR (relative to the repository), else ./target."""
    target = Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target")
    if not target.is_absolute():
        target = ROOT / target
    return target / "release" / "fave-lock"


def uv_binary() -> Path:
    """The tools venv's uv (scripts/setup/test-env.sh makes it)."""
    return ROOT / ".venv" / "tools" / "bin" / "uv"


def config_exclude_newer() -> str:
    """fave-lock.toml's exclude-newer, so that the bench resolves what the committed locks resolve."""
    with open(ROOT / "fave-lock.toml", "rb") as file:
        value = str(tomllib.load(file)["exclude-newer"])
    return value if "T" in value else f"{value}T00:00:00Z"


@dataclass(frozen=True)
class Target:
    """One resolution target, the same for both tools."""

    python_version: str
    platform: str  # uv's --python-platform spelling, which fave-lock shares
    exclude_newer: str
    index_url: str | None = "https://pypi.org/simple"  # None: the tools' default, or the file's own `-i`
    only_binary: bool = True  # False: both may build sdists (ad hoc mode's default, uv's default)


def fave_resolve(fave: Path, requirements: Path | str, out: Path, target: Target, extra: Sequence[str] = ()) -> list[str]:
    argv = [str(fave), "resolve", "-r", str(requirements), "--python-version", target.python_version,
            "--python-platform", target.platform, "--exclude-newer", target.exclude_newer, "-q", "-o", str(out)]
    if target.index_url:
        argv += ["--index-url", target.index_url]
    if target.only_binary:
        argv += ["--only-binary", ":all:"]
    return argv + list(extra)


def uv_compile(uv: Path, requirements: Path | str, out: Path, target: Target, extra: Sequence[str] = ()) -> list[str]:
    """`uv pip compile` as fave-lock's like: hashes for every file, no header or annotations, no config."""
    argv = [str(uv), "pip", "compile", str(requirements), "--no-config", "--python-version", target.python_version,
            "--python-platform", target.platform, "--exclude-newer", target.exclude_newer,
            "--generate-hashes", "--no-header", "--no-annotate", "-q", "-o", str(out)]
    if target.index_url:
        argv += ["--index-url", target.index_url]
    if target.only_binary:
        argv += ["--only-binary", ":all:"]
    return argv + list(extra)


def pins(path: Path) -> set[str]:
    """`name==version` pins of a requirements file, names normalized (markers and hashes dropped)."""
    try:
        text = re.sub(r"\\\r?\n", " ", path.read_text(errors="replace"))
    except OSError:
        return set()
    found = set()
    for line in text.splitlines():
        line = line.split(" #")[0].split(" --hash")[0].split(";")[0].strip()
        if line and not line.startswith(("#", "-")) and "==" in line:
            name, version = line.split("==", 1)
            found.add(f"{re.sub(r'[-_.]+', '-', name.strip()).lower()}=={version.strip()}")
    return found


def same_pins(fave_out: Path, uv_out: Path) -> str:
    """'same N pins' or what differs, for the table's outputs column."""
    a, b = pins(fave_out), pins(uv_out)
    if not a and not b:
        return "no lock"
    if a == b:
        return f"same {len(a)} pins"
    return f"pins differ: only fave-lock {len(a - b)}, only uv {len(b - a)}"


def version(argv: list[str]) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, check=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"


@dataclass
class Arm:
    """One side of a comparison: a label for the record and the table, and how to run it.

    `argv(round)` gives the command of that round; `before(round)` prepares it (an emptied cache) outside the
    measurement; `ok(exit_code)` says whether the exit was the expected one."""

    label: str
    tool: str  # fave-lock | uv | another command's name: picks the env
    argv: Callable[[int], list[str]]
    cache: Path | None = None
    before: Callable[[int], None] | None = None
    ok: Callable[[int | None], bool] = lambda code: code == 0
    env: dict[str, str] | None = None


@dataclass
class Record:
    """One raw run, as `--json` writes it."""

    scenario: str
    arm: str
    round: int
    measurement: Measurement
    ok: bool
    stderr: str  # the path of its stderr in the work folder
    stderr_tail: str = ""


@dataclass
class Context:
    fave: Path
    uv: Path
    work: Path
    runs: int
    timeout: float
    verbose: bool = True
    cold: bool = False  # corpus: empty both tools' caches before each run
    corpus_sets: list[str] = field(default_factory=list)  # corpus: these entry files only (empty: all)
    primed: set[str] = field(default_factory=set)  # cache names already primed in this invocation
    records: list[Record] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def cache(self, name: str, tool: str, empty: bool = False) -> Path:
        path = self.work / "caches" / name / tool
        if empty:
            shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True, exist_ok=True)
        return path

    def scratch(self, name: str) -> Path:
        path = self.work / "out" / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def env(self, tool: str, cache: Path | None) -> dict[str, str]:
        """The parent's environment without either tool's settings; the tool's cache set to `cache`."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("UV_", "FAVE_LOCK_"))}
        env.update(NO_COLOR="1", UV_NO_CONFIG="1", UV_PYTHON_DOWNLOADS="never",
                   XDG_CACHE_HOME=str(self.work / "xdg-cache"), XDG_DATA_HOME=str(self.work / "xdg-data"))
        if cache is not None:
            env["UV_CACHE_DIR" if tool == "uv" else "FAVE_LOCK_CACHE_DIR"] = str(cache)
        return env

    def log(self, message: str) -> None:
        if self.verbose:
            print(f"bench: {message}", file=sys.stderr, flush=True)

    def measure(self, scenario: str, arm: Arm, number: int, stdout: Path | None = None,
                timeout: float | None = None) -> Record:
        """One run of `arm`, measured and recorded; its stderr kept in the work folder."""
        if arm.before:
            arm.before(number)
        logs = self.work / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        stderr = logs / f"{re.sub(r'[^A-Za-z0-9._-]+', '_', scenario + '-' + arm.label)}-{number}.stderr"
        env = arm.env if arm.env is not None else self.env(arm.tool, arm.cache)
        result = measure.run(arm.argv(number), env, timeout or self.timeout, stdout=stdout, stderr=stderr)
        ok = arm.ok(result.exit_code) and not result.timed_out
        tail = "" if ok else stderr.read_text(errors="replace")[-2000:]
        record = Record(scenario, arm.label, number, result, ok, str(stderr), tail)
        self.records.append(record)
        state = "timeout" if result.timed_out else f"exit {result.exit_code}"
        when = "priming" if number < 0 else f"round {number + 1}"
        self.log(f"{scenario:28} {arm.label:24} {when}: {result.wall:7.3f} s "
                 f"{result.rss:6.1f} MiB {state}{'' if ok else ' (unexpected)'}")
        if not ok:
            self.notes.append(f"{scenario}, {arm.label}, {when}: {state}; stderr ends: "
                              + " ".join(tail.split())[-300:])
        return record

    def compare(self, scenario: str, arms: Sequence[Arm], rounds: int | None = None) -> dict[str, Summary]:
        """`rounds` interleaved rounds of every arm (order rotated per round); each arm's medians."""
        done: dict[str, list[Record]] = {arm.label: [] for arm in arms}
        for number, arm in interleaved(rounds or self.runs, arms):
            done[arm.label].append(self.measure(scenario, arm, number))
        return {label: summarize([r.measurement for r in records], sum(not r.ok for r in records))
                for label, records in done.items()}

    def prime(self, scenario: str, arms: Sequence[Arm]) -> None:
        """One untimed run of each arm (a warm cache for what follows); recorded as round -1."""
        for arm in arms:
            self.measure(f"{scenario} (priming)", arm, -1)

    def prime_once(self, cache_name: str, scenario: str, arms: Sequence[Arm]) -> None:
        """`prime` unless the caches called `cache_name` were primed earlier in this invocation."""
        if cache_name not in self.primed:
            self.prime(scenario, arms)
            self.primed.add(cache_name)

    def json(self) -> list[dict]:
        return [dict(asdict(r), measurement=asdict(r.measurement)) for r in self.records]
