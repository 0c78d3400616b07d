#!/usr/bin/env python3
"""Benchmark `fave-lock check` on the repo's locks beside one warm `uv pip compile` (stdlib only).

`fave-lock check` reads fave-lock.toml and checks both images (fave-base, fave-stt): the input hashes,
then every locked project's index page (yanks, hashes, newer releases, asked of the index again: the
check's default `--cache-ttl 0`) and the metadata of the packages it needs. `--no-registry`: the
published images live on ghcr.io, which this machine cannot reach. Beside it, uv resolves the same
fave-base input (base-image/requirements.in, CPython 3.11, x86_64-manylinux_2_36, the config's
exclude-newer) on its warm cache, revalidating every page as uv does. Each tool's cache is primed by one
untimed run. Rows:

  check           fave-lock check --no-registry            (pages asked of the index again)
  check --offline fave-lock check --offline                (local checks only)
  check, pages cached  fave-lock check --no-registry --cache-ttl 600
  uv warm         uv pip compile ... (warm cache)

For each run: wall time, CPU (user+sys, from os.wait4) and peak RSS; medians over --runs (default 5).

  scripts/bench-check.py [--runs N] [--uv PATH]

Needs the release binary (`cargo build --release`; $CARGO_TARGET_DIR respected) and .venv/tools/bin/uv
(scripts/setup/test-env.sh). Exits non-zero if a binary is missing or a run fails (check exit 2 or 3).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402  (bench.py: binaries, versions, the uv command, spawn)

ROOT = bench.ROOT


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5, help="timed runs per row (default 5)")
    ap.add_argument("--uv", type=Path, default=bench.uv_binary(),
                    help="the uv binary (default: .venv/tools/bin/uv, as scripts/bench.py)")
    args = ap.parse_args()
    if args.runs < 1:
        ap.error("--runs must be at least 1")
    fave, uv = bench.fave_lock_binary(), args.uv.resolve()
    missing = [str(p) for p in (fave, uv) if not os.access(p, os.X_OK)]
    if missing:
        sys.stderr.write("bench-check: missing binaries (cargo build --release; scripts/setup/test-env.sh):\n  "
                         + "\n  ".join(missing) + "\n")
        return 2

    os.chdir(ROOT)
    check = [str(fave), "check", "--format", "json"]
    rows = [
        ("check", "fave-lock", check + ["--no-registry"]),
        ("check --offline", "fave-lock", check + ["--offline"]),
        ("check, pages cached (--cache-ttl 600)", "fave-lock", check + ["--no-registry", "--cache-ttl", "600"]),
    ]
    results: dict[str, list[bench.Sample]] = {}
    with tempfile.TemporaryDirectory(prefix="fave-bench-check-") as tmp:
        scratch = Path(tmp)
        caches = {tool: scratch / f"cache-{tool}" for tool in bench.TOOLS}
        envs = {tool: bench.cache_env(tool, caches[tool]) for tool in bench.TOOLS}
        uv_cmd = [str(uv)] + bench.command("uv", scratch / "uv.txt", offline=False)[1:]
        rows.append(("uv pip compile, warm", "uv", uv_cmd))
        # Prime: fave-lock's cache as `resolve` leaves it (pages and metadata of every locked package),
        # uv's by one compile.
        bench.spawn(check + ["--no-registry"], envs["fave-lock"], scratch, (0, 1))
        bench.spawn(uv_cmd, envs["uv"], scratch, (0,))
        # Interleaved rounds, so that a slow patch of network or CPU hits every row alike.
        for _ in range(args.runs):
            for name, tool, cmd in rows:
                ok = (0, 1) if tool == "fave-lock" else (0,)
                results.setdefault(name, []).append(bench.spawn(cmd, envs[tool], scratch, ok))

    med = statistics.median
    uv_wall = med(s.wall for s in results["uv pip compile, warm"])
    print(f"\nfave-lock.toml (fave-base, fave-stt) vs uv on {bench.INPUT} ({bench.PLATFORM}, CPython "
          f"{bench.PYTHON_VERSION}, exclude-newer {bench.EXCLUDE_NEWER}); median of {args.runs} runs; "
          f"{os.cpu_count()} cores")
    print(f"uv: {bench.version([str(uv), '--version'])}; fave-lock: {bench.version([str(fave), '--version'])}")
    print()
    print("| run | wall (s) | CPU user+sys (s) | peak RSS (MiB) | wall / uv warm |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, _, _ in rows:
        samples = results[name]
        wall = med(s.wall for s in samples)
        cpu = med(s.cpu for s in samples)
        rss = med(s.rss for s in samples)
        print(f"| {name} | {wall:.3f} | {cpu:.3f} | {rss:.1f} | {wall / uv_wall:.2f}× |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
