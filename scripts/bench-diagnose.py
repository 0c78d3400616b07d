#!/usr/bin/env python3
"""Time to fave-lock's full diagnosis of the seed plan's pins, beside one uv run on them (stdlib only).

uv stops at the first problem, so its user needs one run per problem; fave-lock reports all three, each
with checked fixes, in one run. Both run warm (caches primed by an untimed run) on benches/seed-pins.in
for CPython 3.11 on x86_64-manylinux_2_36 with the same exclude-newer; both must fail (exit 1 / non-zero).

  scripts/bench-diagnose.py [--runs N]

Prints a Markdown table of medians (wall, CPU, peak RSS) and the fave-lock/uv ratio. Goal: at most 2x.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import fave_lock_binary, uv_binary  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "benches" / "seed-pins.in"
CUTOFF = "2026-11-01T00:00:00Z"
PLATFORM = "x86_64-manylinux_2_36"


def commands(out: Path) -> dict[str, list[str]]:
    return {
        "fave-lock": [str(fave_lock_binary()), "resolve", "-q", "-r", str(SEED), "--python-version", "3.11",
                      "--python-platform", PLATFORM, "--exclude-newer", CUTOFF, "-o", str(out / "fl.txt")],
        "uv": [str(uv_binary()), "pip", "compile", "-q", str(SEED), "--python-version", "3.11",
               "--python-platform", PLATFORM, "--exclude-newer", CUTOFF, "--only-binary", ":all:",
               "--index-url", "https://pypi.org/simple", "-o", str(out / "uv.txt")],
    }


def run(cmd: list[str], env: dict[str, str]) -> tuple[float, float, float, int, str]:
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status), stderr


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch)
        env = dict(os.environ, FAVE_LOCK_CACHE_DIR=str(out / "fl-cache"), UV_CACHE_DIR=str(out / "uv-cache"))
        rows = {}
        for tool, cmd in commands(out).items():
            run(cmd, env)  # prime the cache
            samples = [run(cmd, env) for _ in range(args.runs)]
            for _, _, _, code, stderr in samples:
                if code == 0:
                    print(f"{tool} unexpectedly resolved the seed pins", file=sys.stderr)
                    return 2
            problems = samples[-1][4].count("\n1. [") + samples[-1][4].count("\n2. [") + samples[-1][4].count("\n3. [")
            rows[tool] = (statistics.median(s[0] for s in samples), statistics.median(s[1] for s in samples),
                          statistics.median(s[2] for s in samples), problems if tool == "fave-lock" else 1)
    print(f"| tool (warm, {args.runs} runs, median) | problems reported | wall s | CPU s | peak RSS MiB |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for tool, (wall, cpu, rss, problems) in rows.items():
        print(f"| {tool} | {problems} | {wall:.2f} | {cpu:.2f} | {rss:.0f} |")
    fl, uv = rows["fave-lock"], rows["uv"]
    print(f"| ratio fave-lock/uv | | {fl[0] / uv[0]:.2f} | {fl[1] / uv[1]:.2f} | {fl[2] / uv[2]:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
