#!/usr/bin/env python3
"""Benchmark the numpy ABI check's range reads (issue 16 item 4): two fave-lock binaries side by side.

  1. wall time and peak RSS of a cold ad hoc resolve with the ABI check on (the default), and the new
     binary with `--no-check-abi` for the floor:
     `fave-lock resolve -r base-image/requirements.in` for CPython 3.11 on x86_64-manylinux_2_36, each
     run from an empty cache, the binaries (and uv's `pip compile`, for the ratio) interleaved, the order
     rotating per round; the outputs must be byte-identical between the binaries;
  2. bytes received by each binary's `fave-lock abi locks/fave-base --format json --no-cache` from an
     empty cache (the 13 wheels of both architectures), counted under strace as the sum of `recvfrom`
     results (TLS records included), and the reports compared: they must be identical.

Usage: scripts/bench-abi-ranges.py --before BIN --after BIN [--rounds N] [--uv PATH]   (stdlib only)
"""

import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
INPUT = os.path.join(ROOT, "base-image", "requirements.in")
LOCK = os.path.join(ROOT, "locks", "fave-base")
PLATFORM = "x86_64-manylinux_2_36"
EXCLUDE_NEWER = "2026-11-01T00:00:00Z"


def run(argv, env=None):
    """Wall seconds and peak RSS (MiB) of one child."""
    started = time.monotonic()
    child = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.monotonic() - started
    stderr = child.stderr.read().decode()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{' '.join(argv)} failed:\n{stderr}")
    return elapsed, usage.ru_maxrss / 1024


def resolve_argv(tool, binary, cache, out):
    extra = ["--no-check-abi"] if tool.endswith("--no-check-abi") else []
    if tool == "uv":
        return [binary, "pip", "compile", INPUT, "--no-config", "--python-version", "3.11",
                "--python-platform", PLATFORM, "--exclude-newer", EXCLUDE_NEWER, "--only-binary",
                ":all:", "--generate-hashes", "--cache-dir", cache, "-q", "-o", out]
    return [binary, "resolve", "-r", INPUT, "--python-version", "3.11", "--python-platform", PLATFORM,
            "--exclude-newer", EXCLUDE_NEWER, "--cache-dir", cache, "-q", "-o", out, *extra]


def received_bytes(binary, scratch):
    """Bytes the ABI check of the base image's lock receives from an empty cache, and its report."""
    cache = os.path.join(scratch, "abi-cache")
    shutil.rmtree(cache, ignore_errors=True)
    trace = os.path.join(scratch, "strace.log")
    report = subprocess.run(
        ["strace", "-f", "-e", "trace=recvfrom", "-o", trace, binary, "abi", LOCK, "--format",
         "json", "--no-cache", "--cache-dir", cache],
        stdin=subprocess.DEVNULL, capture_output=True, check=True).stdout
    total = 0
    with open(trace) as lines:
        for line in lines:
            match = re.search(r"recvfrom\(\d+,.*\) = (\d+)$", line)
            if match:
                total += int(match.group(1))
    return total, report


def abi_wheel_bytes():
    """The sizes of the lock's wheels the check scans (those of packages that depend on numpy)."""
    with open(os.path.join(LOCK, "pylock.toml"), "rb") as file:
        lock = tomllib.load(file)
    return sum(wheel.get("size", 0)
               for package in lock.get("packages", [])
               if any(dep.get("name") == "numpy" for dep in package.get("dependencies", []))
               for wheel in package.get("wheels", []))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True)
    parser.add_argument("--after", required=True)
    parser.add_argument("--uv", default=os.path.join(ROOT, ".venv", "tools", "bin", "uv"))
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    tools = [("before", args.before), ("after", args.after),
             ("after --no-check-abi", args.after)]
    if os.access(args.uv, os.X_OK):
        tools.append(("uv", args.uv))
    scratch = tempfile.mkdtemp(prefix="bench-abi-ranges-")
    times = {name: [] for name, _ in tools}
    rss = {name: [] for name, _ in tools}
    outputs = {}
    print(f"load average before: {open('/proc/loadavg').read().strip()}")
    for round_ in range(args.rounds):
        order = tools[round_ % len(tools):] + tools[:round_ % len(tools)]
        for name, binary in order:
            cache = os.path.join(scratch, f"cache-{name}")
            shutil.rmtree(cache, ignore_errors=True)
            # One path for both binaries: the file's header repeats the command line.
            out = os.path.join(scratch, "requirements.txt" if name in ("before", "after") else "other.txt")
            elapsed, peak = run(resolve_argv(name, binary, cache, out))
            times[name].append(elapsed)
            rss[name].append(peak)
            with open(out, "rb") as file:
                outputs[name] = file.read()
    print(f"load average after: {open('/proc/loadavg').read().strip()}")
    if outputs["before"] != outputs["after"]:
        sys.exit("the two binaries wrote different requirements files")
    print("\n| run (cold) | wall, median | runs | peak RSS | wall / uv |")
    print("| --- | ---: | --- | ---: | ---: |")
    uv = statistics.median(times["uv"]) if "uv" in times else None
    for name, _ in tools:
        median = statistics.median(times[name])
        runs = ", ".join(f"{t:.2f}" for t in times[name])
        ratio = f"{median / uv:.2f}×" if uv else "n/a"
        print(f"| {name} | {median:.2f} s | {runs} | {statistics.median(rss[name]):.0f} MiB | {ratio} |")
    wheels = abi_wheel_bytes()
    print(f"\nABI check of {LOCK} from an empty cache; the wheels it scans: {wheels / 2**20:.1f} MiB")
    reports = {}
    for name, binary in tools[:2]:
        received, reports[name] = received_bytes(binary, scratch)
        print(f"| {name} | {received / 2**20:.1f} MiB received | {received / wheels:.2f} of the wheels |")
    if reports["before"] != reports["after"]:
        sys.exit("the two binaries' ABI reports differ")
    print("reports identical")
    shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
