#!/usr/bin/env python3
"""Benchmark the numpy ABI check over the base image's lock.

Per round:
  1. `fave-lock abi locks/fave-base --no-cache` with every wheel already in the wheel cache: each
     extension module of the 13 wheels that depend on numpy (both architectures) inflated and searched;
  2. the same with the result cache (goal: under 50 ms);
  3. verify's download of the same wheels: `fave-lock verify fave-base --no-check-abi` into an empty
     wheel cache (all 69 files; pages cached), pro-rated to the bytes of the wheels the check scans;
  4. the same wheels with one `curl --parallel --parallel-max 8` (the network's limit).
Goal: (1) no slower than (3). Prints a Markdown table of the medians.

Usage: scripts/bench-abi.py [--rounds N] [--bin target/release/fave-lock]   (python3.11+ stdlib only)
Build first: cargo build --release
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOCK = os.path.join(ROOT, "locks", "fave-base", "pylock.toml")
CACHE = os.environ.get("FAVE_LOCK_CACHE_DIR", os.path.join(ROOT, ".cache", "fave-lock"))


def timed(argv, env=None):
    started = time.monotonic()
    done = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE)
    elapsed = time.monotonic() - started
    if done.returncode != 0:
        sys.exit(f"{' '.join(argv)} exited {done.returncode}:\n{done.stderr.decode()}")
    return elapsed


def lock_files():
    """filename → (url, size) for every wheel of the lock."""
    with open(LOCK, "rb") as file:
        lock = tomllib.load(file)
    return {
        wheel["name"]: (wheel["url"], wheel.get("size", 0))
        for package in lock.get("packages", [])
        for wheel in package.get("wheels", [])
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--bin", default=os.path.join(ROOT, "target", "release", "fave-lock"))
    args = parser.parse_args()
    binary = args.bin
    env = dict(os.environ, FAVE_LOCK_CACHE_DIR=CACHE)
    config = os.path.join(ROOT, "fave-lock.toml")

    # Warm up: every wheel in the cache, results cached; learn which wheels the check scans.
    subprocess.run([binary, "verify", "fave-base", "-q", "--config", config], env=env, check=True)
    report = json.loads(subprocess.run(
        [binary, "abi", LOCK, "--format", "json"], env=env, check=True, capture_output=True).stdout)[0]
    files = lock_files()
    scanned = [wheel["filename"] for wheel in report["wheels"]]
    scanned_bytes = sum(files[name][1] for name in scanned)
    all_bytes = sum(size for _, size in files.values())
    modules = sum(report["counts"].values())

    rows = {"scan": [], "cached": [], "verify": [], "curl": []}
    for round_ in range(args.rounds):
        rows["scan"].append(timed([binary, "abi", LOCK, "--no-cache", "--summary"], env))
        rows["cached"].append(timed([binary, "abi", LOCK, "--summary"], env))
        with tempfile.TemporaryDirectory() as empty:
            # Pages from the warm cache, wheels from the network.
            shutil.copytree(os.path.join(CACHE, "simple-v2"), os.path.join(empty, "simple-v2"))
            fresh = dict(env, FAVE_LOCK_CACHE_DIR=empty)
            elapsed = timed([binary, "verify", "fave-base", "-q", "--no-check-abi", "--cache-ttl",
                             "86400", "--config", config], fresh)
            rows["verify"].append(elapsed * scanned_bytes / all_bytes)
        with tempfile.TemporaryDirectory() as out:
            argv = ["curl", "-sSf", "--parallel", "--parallel-max", "8"]
            for name in scanned:
                argv += ["-o", os.path.join(out, name), files[name][0]]
            rows["curl"].append(timed(argv))
        print(f"round {round_ + 1}: " + ", ".join(f"{k} {v[-1]:.3f}s" for k, v in rows.items()),
              file=sys.stderr)

    median = {key: statistics.median(values) for key, values in rows.items()}
    mib = scanned_bytes / 2**20
    print(f"\n{len(scanned)} wheels ({mib:.1f} MiB of {all_bytes / 2**20:.1f} MiB), {modules} extension "
          f"modules; medians of {args.rounds} rounds, {os.cpu_count()} cores\n")
    print("| run | time | vs verify's download |")
    print("|---|---|---|")
    print(f"| ABI check, wheels cached, no result cache | {median['scan']:.3f} s | "
          f"{median['scan'] / median['verify']:.2f}x |")
    print(f"| ABI check, result cache | {median['cached'] * 1000:.0f} ms | "
          f"{median['cached'] / median['verify']:.3f}x |")
    print(f"| verify's download of the same wheels (pro-rated by bytes) | {median['verify']:.3f} s | 1.00x |")
    print(f"| curl --parallel of the same wheels | {median['curl']:.3f} s | "
          f"{median['curl'] / median['verify']:.2f}x |")


if __name__ == "__main__":
    main()
