#!/usr/bin/env python3
"""Benchmark fave-lock against uv on the repo's input (stdlib only).

Resolves base-image/requirements.in for CPython 3.11 on x86_64-manylinux_2_36 with the same exclude-newer,
with each tool, in three modes:

  cold     a fresh, empty cache dir for every run (FAVE_LOCK_CACHE_DIR / UV_CACHE_DIR)
  warm     a cache kept from an untimed priming run (for uv, its normal warm run)
  offline  --offline for both, on that warm cache

fave-lock runs with --no-check-abi: uv does not download wheels to check their binaries, so the
check would make this a comparison of different work (scripts/bench-abi.py measures the check).

For each run: wall time, CPU time (user+sys of the child, from os.wait4's rusage) and peak RSS
(ru_maxrss). Prints a Markdown table of medians and the fave-lock/uv ratio.

  scripts/bench.py [--runs N] [--tool both|fave-lock|uv] [--modes cold,warm,offline]

Needs the release binary (`cargo build --release`; $CARGO_TARGET_DIR respected) and .venv/tools/bin/uv
(scripts/setup/test-env.sh). Exits non-zero if a binary is missing or a tool run fails.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INPUT = "base-image/requirements.in"
PYTHON_VERSION = "3.11"
PLATFORM = "x86_64-manylinux_2_36"
EXCLUDE_NEWER = "2026-11-01T00:00:00Z"
INDEX_URL = "https://pypi.org/simple"
MODES = ("cold", "warm", "offline")
TOOLS = ("fave-lock", "uv")


@dataclass
class Sample:
    wall: float  # seconds
    cpu: float  # seconds, user + sys
    rss: float  # MiB


def fave_lock_binary() -> Path:
    target = Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target")
    if not target.is_absolute():
        target = ROOT / target
    return target / "release" / "fave-lock"


def uv_binary() -> Path:
    return ROOT / ".venv" / "tools" / "bin" / "uv"


def command(tool: str, out: Path, offline: bool) -> list[str]:
    if tool == "fave-lock":
        cmd = [str(fave_lock_binary()), "resolve", "-r", INPUT, "--python-version", PYTHON_VERSION,
               "--python-platform", PLATFORM, "--exclude-newer", EXCLUDE_NEWER, "--index-url", INDEX_URL,
               "-q", "-o", str(out),
               # uv has no numpy ABI check: compare resolving with resolving (scripts/bench-abi.py times it).
               "--no-check-abi"]
    else:
        cmd = [str(uv_binary()), "pip", "compile", INPUT, "--no-config", "--python-version", PYTHON_VERSION,
               "--python-platform", PLATFORM, "--exclude-newer", EXCLUDE_NEWER, "--index-url", INDEX_URL,
               "--only-binary", ":all:", "--no-header", "--no-annotate", "-q", "-o", str(out)]
    if offline:
        cmd.append("--offline")
    return cmd


def cache_env(tool: str, cache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UV_", "FAVE_LOCK_"))}
    env["FAVE_LOCK_CACHE_DIR" if tool == "fave-lock" else "UV_CACHE_DIR"] = str(cache)
    return env


def run_once(tool: str, cache: Path, out: Path, offline: bool, scratch: Path) -> Sample:
    """Run one resolution; exit the benchmark if it fails."""
    return spawn(command(tool, out, offline), cache_env(tool, cache), scratch)


def spawn(cmd: list[str], env: dict[str, str], scratch: Path, ok: tuple[int, ...] = (0,)) -> Sample:
    """Run `cmd` once, measured; exit the benchmark if its exit code is not in `ok`."""
    err = scratch / "stderr.txt"
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, "/dev/null", os.O_WRONLY, 0),
        (os.POSIX_SPAWN_OPEN, 2, str(err), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644),
    ]
    start = time.perf_counter()
    pid = os.posix_spawn(cmd[0], cmd, env, file_actions=actions)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code not in ok:
        sys.stderr.write(f"bench: exit {code}: {' '.join(cmd)}\n")
        sys.stderr.write(err.read_text(errors="replace")[-4000:])
        sys.exit(1)
    return Sample(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)


def pins(path: Path) -> set[str]:
    """`name==version` pins of a requirements file, names normalized."""
    text = re.sub(r"\\\r?\n", " ", path.read_text())
    found = set()
    for line in text.splitlines():
        line = line.split(" #")[0].split(" --hash")[0].split(";")[0].strip()
        if line and not line.startswith(("#", "-")) and "==" in line:
            name, version = line.split("==", 1)
            found.add(f"{re.sub(r'[-_.]+', '-', name.strip()).lower()}=={version.strip()}")
    return found


def bench(tool: str, mode: str, runs: int, scratch: Path) -> tuple[list[Sample], Path]:
    out = scratch / f"{tool}-{mode}.txt"
    samples = []
    warm_cache = scratch / f"cache-{tool}-{mode}"
    if mode != "cold":
        run_once(tool, warm_cache, out, False, scratch)  # priming, untimed
    for _ in range(runs):
        if mode == "cold":
            cache = Path(tempfile.mkdtemp(prefix=f"cold-{tool}-", dir=scratch))
        else:
            cache = warm_cache
        samples.append(run_once(tool, cache, out, mode == "offline", scratch))
        if mode == "cold":
            shutil.rmtree(cache, ignore_errors=True)
    return samples, out


def version(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5, help="timed runs per mode and tool (default 5)")
    ap.add_argument("--tool", choices=("both", *TOOLS), default="both", help="which tools to run")
    ap.add_argument("--modes", default=",".join(MODES), help="comma-separated subset of cold,warm,offline")
    args = ap.parse_args()
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if bad := [m for m in modes if m not in MODES]:
        ap.error(f"unknown mode(s): {', '.join(bad)}")
    if args.runs < 1:
        ap.error("--runs must be at least 1")
    tools = TOOLS if args.tool == "both" else (args.tool,)

    missing = []
    if "fave-lock" in tools and not os.access(fave_lock_binary(), os.X_OK):
        missing.append(f"{fave_lock_binary()} (build it: cargo build --release)")
    if "uv" in tools and not os.access(uv_binary(), os.X_OK):
        missing.append(f"{uv_binary()} (install it: scripts/setup/test-env.sh)")
    if missing:
        sys.stderr.write("bench: missing binaries:\n  " + "\n  ".join(missing) + "\n")
        return 2

    os.chdir(ROOT)
    results: dict[tuple[str, str], list[Sample]] = {}
    with tempfile.TemporaryDirectory(prefix="fave-bench-") as tmp:
        scratch = Path(tmp)
        outputs: dict[str, Path] = {}
        for mode in modes:
            for tool in tools:
                print(f"bench: {mode:7} {tool:9} x{args.runs} ...", file=sys.stderr, flush=True)
                results[(mode, tool)], outputs[tool] = bench(tool, mode, args.runs, scratch)
        if len(tools) == 2 and pins(outputs["fave-lock"]) != pins(outputs["uv"]):
            a, b = pins(outputs["fave-lock"]), pins(outputs["uv"])
            print(f"bench: WARNING: the tools' pins differ: only fave-lock {sorted(a - b)}, "
                  f"only uv {sorted(b - a)}", file=sys.stderr)

    med = lambda xs: statistics.median(xs)  # noqa: E731
    print(f"\n{PLATFORM}, CPython {PYTHON_VERSION}, `{INPUT}`, exclude-newer {EXCLUDE_NEWER}; "
          f"median of {args.runs} runs; {os.cpu_count()} cores")
    if "uv" in tools:
        print(f"uv: {version([str(uv_binary()), '--version'])}")
    if "fave-lock" in tools:
        print(f"fave-lock: {version([str(fave_lock_binary()), '--version'])}")
    print()
    print("| mode | tool | wall (s) | CPU user+sys (s) | peak RSS (MiB) |")
    print("| --- | --- | ---: | ---: | ---: |")
    for mode in modes:
        stats = {}
        for tool in tools:
            s = results[(mode, tool)]
            stats[tool] = (med([x.wall for x in s]), med([x.cpu for x in s]), med([x.rss for x in s]))
            print(f"| {mode} | {tool} | {stats[tool][0]:.3f} | {stats[tool][1]:.3f} | {stats[tool][2]:.1f} |")
        if len(tools) == 2:
            ratio = [f"{f / u:.2f}×" if u > 0 else "n/a" for f, u in zip(stats["fave-lock"], stats["uv"])]
            print(f"| {mode} | fave-lock/uv | {ratio[0]} | {ratio[1]} | {ratio[2]} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
