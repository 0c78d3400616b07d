#!/usr/bin/env python3
"""Benchmark `fave-lock verify` against the network's limit.

Downloads every x86_64 (and pure-Python) wheel of locks/fave-base four times per round:
  1. `fave-lock verify fave-base --platform linux/amd64` with an empty wheel cache (every wheel fetched,
     streamed to disk, hashed, METADATA read, compared with the index's pages, which are cached as they
     are after `fave-lock resolve`);
  2. the same with nothing cached (the 53 project pages, ~20 MB of JSON, fetched as well);
  3. the same URLs with `xargs -P 8 curl` (one process and connection per file), written to disk;
  4. the same URLs with one `curl --parallel --parallel-max 8` (HTTP/2 multiplexing on one connection,
     as fave-lock does), written to disk.
The faster curl is the network's limit. Each run's wall time and peak RSS (os.wait4's ru_maxrss: the
largest process of the run's tree) are measured; the order rotates each round so no run always meets a
warmer CDN. Prints a Markdown table of the medians and the ratio. Goal: verify within 1.3x the network
limit's time, peak RSS under 64 MiB.

Usage: scripts/bench-verify.py [--rounds N] [--bin target/release/fave-lock]   (python3.11+ stdlib only)
Build first: cargo build --release
"""

import argparse
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


def x86_64_wheels():
    """(filename, url, size) of each wheel the linux/amd64 target installs."""
    with open(LOCK, "rb") as file:
        lock = tomllib.load(file)
    wheels = []
    for package in lock.get("packages", []):
        marker = package.get("marker", "")
        if marker and "x86_64" not in marker:
            continue
        for wheel in package.get("wheels", []):
            if "aarch64" in wheel["name"]:
                continue
            wheels.append((wheel["name"], wheel["url"], wheel.get("size", 0)))
    return wheels


def run_measured(argv, env=None):
    """Run argv; return (wall seconds, peak RSS bytes, exit code) from os.wait4.

    ru_maxrss is the largest resident set of the child and its reaped descendants. On Linux a child
    starts from its parent's high-water mark (kept across exec), so values below this script's own RSS
    read as that floor; `main` prints the floor (`true`) beside the results.
    """
    log = open(os.path.join(tempfile.gettempdir(), "bench-verify.log"), "ab")
    started = time.monotonic()
    process = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.monotonic() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    log.close()
    return elapsed, usage.ru_maxrss * 1024, process.returncode


def verify_argv(binary, parallel):
    return [
        binary, "verify", "fave-base", "--platform", "linux/amd64", "-q", "--cache-ttl", "86400",
        "--concurrency", str(parallel), "--config", os.path.join(ROOT, "fave-lock.toml"),
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--bin", default=os.path.join(ROOT, "target", "release", "fave-lock"))
    parser.add_argument("--parallel", type=int, default=8)
    args = parser.parse_args()
    if not os.path.isfile(args.bin):
        sys.exit(f"no {args.bin}: run `cargo build --release` first (or pass --bin)")
    if shutil.which("curl") is None:
        sys.exit("curl is not installed")

    wheels = x86_64_wheels()
    total = sum(size for _, _, size in wheels)
    print(f"{len(wheels)} wheels, {total / 1e6:.1f} MB (x86_64 part of {os.path.relpath(LOCK, ROOT)})", file=sys.stderr)

    # "verify": empty wheel cache, project pages cached (as after `fave-lock resolve`); filled once here.
    pages_dir = tempfile.mkdtemp(prefix="bench-verify-pages-")
    pages_env = dict(os.environ, FAVE_LOCK_CACHE_DIR=pages_dir)
    if run_measured(verify_argv(args.bin, args.parallel), env=pages_env)[2] != 0:
        sys.exit(f"fave-lock verify failed (see {tempfile.gettempdir()}/bench-verify.log)")

    tools = ["verify", "verify-cold", "curl", "curl-parallel"]
    results = {tool: [] for tool in tools}
    try:
        for round_number in range(args.rounds):
            shift = round_number % len(tools)
            for tool in tools[shift:] + tools[:shift]:
                with tempfile.TemporaryDirectory(prefix="bench-verify-") as scratch:
                    elapsed, rss, code = run_tool(tool, args, wheels, scratch, pages_dir)
                if code != 0:
                    sys.exit(f"{tool} failed with exit code {code} (see {tempfile.gettempdir()}/bench-verify.log)")
                results[tool].append((elapsed, rss))
                print(f"round {round_number + 1}: {tool:13} {elapsed:6.2f} s  {rss / 2**20:6.1f} MiB", file=sys.stderr)
    finally:
        shutil.rmtree(pages_dir, ignore_errors=True)
    report(results, args, wheels, total)


def run_tool(tool, args, wheels, scratch, pages_dir):
    """One measured run of `tool` with `scratch` as its empty working folder."""
    if tool == "verify":
        shutil.rmtree(os.path.join(pages_dir, "wheels-v1"), ignore_errors=True)
        env = dict(os.environ, FAVE_LOCK_CACHE_DIR=pages_dir)
        return run_measured(verify_argv(args.bin, args.parallel), env=env)
    if tool == "verify-cold":
        env = dict(os.environ, FAVE_LOCK_CACHE_DIR=os.path.join(scratch, "cache"))
        return run_measured(verify_argv(args.bin, args.parallel), env=env)
    if tool == "curl-parallel":
        config = os.path.join(scratch, "curl.cfg")
        with open(config, "w") as file:
            file.writelines(f'url = "{url}"\noutput = "{os.path.join(scratch, name)}"\n' for name, url, _ in wheels)
        argv = ["curl", "-sSf", "--retry", "3", "--parallel", "--parallel-max", str(args.parallel), "--config", config]
        return run_measured(argv)
    pairs = os.path.join(scratch, "urls")
    with open(pairs, "w") as file:
        file.writelines(f"{url}\n{os.path.join(scratch, name)}\n" for name, url, _ in wheels)
    argv = [
        "xargs", "-a", pairs, "-P", str(args.parallel), "-n", "2",
        "sh", "-c", 'exec curl -sSf --retry 3 -o "$1" "$0"',
    ]
    return run_measured(argv)


def report(results, args, wheels, total):
    def median(tool):
        return statistics.median(sample[0] for sample in results[tool])

    def peak(tool):
        return max(sample[1] for sample in results[tool]) / 2**20

    limit = min(median("curl"), median("curl-parallel"))
    floor = run_measured(["true"])[1] / 2**20
    print()
    print(f"| run ({len(wheels)} wheels, {total / 1e6:.1f} MB, median of {args.rounds}) | wall time | throughput | "
          "peak RSS | vs network limit |")
    print("| --- | ---: | ---: | ---: | ---: |")
    rows = [
        ("curl", f"`xargs -P {args.parallel} curl` (a connection per file)"),
        ("curl-parallel", f"`curl --parallel --parallel-max {args.parallel}` (HTTP/2, one connection)"),
        ("verify", "`fave-lock verify`, empty wheel cache (pages cached, as after resolve)"),
        ("verify-cold", "`fave-lock verify`, nothing cached (also fetches 53 project pages)"),
    ]
    for tool, label in rows:
        wall = median(tool)
        print(f"| {label} | {wall:.2f} s | {total / wall / 1e6:.0f} MB/s | {peak(tool):.1f} MiB | "
              f"{wall / limit:.2f}x |")
    ratio = median("verify") / limit
    print()
    print(f"network limit = the faster curl. verify / limit: {ratio:.2f}x (goal <= 1.3x: "
          f"{'met' if ratio <= 1.3 else 'missed'}); fully cold: {median('verify-cold') / limit:.2f}x; verify peak RSS "
          f"{max(peak('verify'), peak('verify-cold')):.1f} MiB (goal < 64 MiB: "
          f"{'met' if max(peak('verify'), peak('verify-cold')) < 64 else 'missed'}); "
          f"RSS floor of this measurement (`true`): {floor:.1f} MiB")


if __name__ == "__main__":
    main()
