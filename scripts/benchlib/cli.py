"""`scripts/bench`: every benchmark of fave-lock in one invocation, side by side with uv, one table.

Each scenario runs its arms (fave-lock, uv or another reference) interleaved, the order rotated per round, for
--runs rounds, and reports medians of wall time, CPU time (user+sys of the child, os.wait4) and peak RSS
(ru_maxrss), the fave-lock/uv ratio and the issue's goal for the row (met / not met). Goals are reported,
never asserted: the exit status is 0, or 2 for a usage error (or a missing binary).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import abi, chain, check, corpus, measure, resolve, serve, verify
from .context import ROOT, Context, config_exclude_newer, fave_lock_binary, uv_binary, version
from .table import Row, render


@dataclass(frozen=True)
class Scenario:
    name: str
    run: Callable[[Context], list[Row]]
    about: str
    default: bool = True


SCENARIOS = (
    Scenario("resolve-cold", resolve.resolve_cold,
             "base-image/requirements.in, empty caches each run; fave-lock --no-check-abi vs uv pip compile "
             "--only-binary :all: --generate-hashes (x86_64-manylinux_2_36, CPython 3.11, fave-lock.toml's "
             "exclude-newer). Goal (issue 16): ≤ 0.5× wall, ≤ 0.7× RSS"),
    Scenario("chain", chain.chain,
             "resolve-cold with -v: fave-lock's wall against the critical path of round trips its own log shows "
             "(input → dependency → …, each link a page and a metadata request), uv's beside it (issue 16 item 2)"),
    Scenario("resolve-warm", resolve.resolve_warm, "the same on warm caches (one untimed priming run). Goal: ≤ 0.2× (keep)"),
    Scenario("resolve-offline", resolve.resolve_offline, "the same with --offline on the warm caches. Goal: ≤ 0.33×"),
    Scenario("resolve-cold-default", resolve.resolve_cold_default,
             "resolve-cold with fave-lock's default numpy ABI check on. Goal: ≤ 1.0×"),
    Scenario("backtrack", resolve.backtrack,
             "sets that need backtracking, cold vs uv cold, ad hoc mode with the corpus's target and policy: "
             "tests/corpus/netbox-base.txt, tests/corpus/prefect-2.x.txt, benches/fastapi-template.in. "
             "Goal (issue 16 item 3): no more than uv"),
    Scenario("diagnose-seed", resolve.diagnose_seed,
             "benches/seed-pins.in warm: fave-lock's full diagnosis vs one uv run (both fail). "
             "Goal (issue 16 item 5): ≤ 1× one uv run"),
    Scenario("corpus", corpus.corpus_scenario,
             "every entry file of tests/corpus/ (--corpus to choose; --cold for empty caches each run, else warm "
             "after one untimed run), both tools in ad hoc mode, sdists allowed. Goals (issue 13): total ≤ uv's, "
             "no set over 3×, RSS under uv's on every set"),
    Scenario("abi", abi.abi, "the numpy ABI check over locks/fave-base (wheels cached; and not, reading the "
             "extension modules with range requests) vs verify's download of the same wheels and curl --parallel. "
             "Goals: ≤ 1.0× the download, the cached check < 50 ms"),
    Scenario("verify", verify.verify, "fave-lock verify fave-base (x86_64) vs the network's limit (the faster of "
             "xargs curl and curl --parallel). Goals: ≤ 1.3×, RSS < 64 MiB"),
    Scenario("check", check.check, "fave-lock check --no-registry (and --no-apt, --offline, pages cached) vs one warm uv "
             "resolve of the base image's input. Goal: ≤ 1.0×"),
    Scenario("serve", serve.serve, "scripts/bench-serve.sh: the dashboard under wrk (root, Debian tools; builds "
             "the release binary). Goals: ≥ 10,000 req/s with p99 < 10 ms, 1,000-tag first view < 2 s",
             default=False),
)
BY_NAME = {s.name: s for s in SCENARIOS}


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="scripts/bench", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="Scenarios (--list describes them): " + ", ".join(BY_NAME)
                                 + ". Without --only: all but serve.")
    ap.add_argument("--only", metavar="NAME,...", help="run these scenarios only (comma-separated)")
    ap.add_argument("--list", action="store_true", help="list the scenarios and exit")
    ap.add_argument("--runs", type=int, default=5, metavar="N", help="timed rounds per scenario (default 5)")
    ap.add_argument("--json", metavar="FILE", type=Path, help="write every raw run (and the table's rows) here")
    ap.add_argument("--corpus", metavar="A.txt,...",
                    help="corpus: only these entry files (a path under tests/corpus/ or a file name)")
    ap.add_argument("--cold", action="store_true", help="corpus: empty both tools' caches before each run")
    ap.add_argument("--timeout", type=float, default=300.0, metavar="S",
                    help="seconds before a run's process group is killed (default 300)")
    ap.add_argument("--work", type=Path, metavar="DIR",
                    help="keep caches, outputs and logs here (reused by the next run); default: a fresh folder "
                         "under .work/bench/, removed at the end")
    ap.add_argument("--fave-lock", type=Path, default=fave_lock_binary(),
                    help="the fave-lock binary (default: target/release/fave-lock under $CARGO_TARGET_DIR or ./target)")
    ap.add_argument("--uv", type=Path, default=uv_binary(), help="the uv binary (default: .venv/tools/bin/uv)")
    ap.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")
    return ap


def chosen(ap: argparse.ArgumentParser, only: str | None) -> list[Scenario]:
    if not only:
        return [s for s in SCENARIOS if s.default]
    names = [n.strip() for n in only.split(",") if n.strip()]
    unknown = [n for n in names if n not in BY_NAME]
    if unknown or not names:
        ap.error(f"unknown scenario(s): {', '.join(unknown) or '(none given)'}; --list shows them")
    return [BY_NAME[n] for n in names]


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def header(ctx: Context, scenarios: list[Scenario], load_start: str, started: float) -> list[str]:
    commit = version(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    return [
        f"scripts/bench {' '.join(sys.argv[1:])}".rstrip(),
        f"started {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(started))}, took "
        f"{(time.time() - started) / 60:.1f} min; {os.cpu_count()} cores; load average "
        f"{load_start} at the start, {loadavg()} at the end; commit {commit}{' (modified)' if dirty else ''}",
        f"fave-lock: {version([str(ctx.fave), '--version'])} ({ctx.fave}); uv: {version([str(ctx.uv), '--version'])}",
        f"rounds per scenario: {ctx.runs}, arms interleaved (order rotated per round); medians; CPU = user+sys of "
        f"the child (os.wait4), RSS = its peak (ru_maxrss; floor of this measurement, `true`: "
        f"{measure.floor_mib(dict(os.environ)):.1f} MiB)",
        f"resolve-*/diagnose-seed/check: CPython 3.11, x86_64-manylinux_2_36, exclude-newer {config_exclude_newer()}, "
        f"wheels only; backtrack/corpus: {corpus.TARGET.platform}, exclude-newer {corpus.TARGET.exclude_newer}, "
        f"sdists allowed for both{'; corpus caches emptied before each run' if ctx.cold else ''}",
        f"scenarios: {', '.join(s.name for s in scenarios)}",
    ]


def main(argv: list[str] | None = None) -> int:
    ap = parser()
    args = ap.parse_args(argv)
    if args.list:
        for s in SCENARIOS:
            print(f"{s.name:22} {'' if s.default else '(not by default) '}{s.about}")
        return 0
    if args.runs < 1:
        ap.error("--runs must be at least 1")
    scenarios = chosen(ap, args.only)
    sets = [n.strip() for n in (args.corpus or "").split(",") if n.strip()]
    _, unknown = corpus.select(corpus.entry_files(), sets)
    if unknown:
        ap.error(f"not an entry file of tests/corpus/: {', '.join(unknown)}")
    needed = [("fave-lock", args.fave_lock, "cargo build --release")]
    if any(s.name not in ("abi", "verify", "serve") for s in scenarios):
        needed.append(("uv", args.uv, "scripts/setup/test-env.sh"))
    missing = [f"{tool}: {path} (make it: {how})" for tool, path, how in needed if not os.access(path, os.X_OK)]
    if missing:
        print("scripts/bench: missing binaries:\n  " + "\n  ".join(missing), file=sys.stderr)
        return 2

    os.chdir(ROOT)
    load_start, started = loadavg(), time.time()
    if args.work:
        work, remove = args.work.resolve(), False
        work.mkdir(parents=True, exist_ok=True)
    else:
        (ROOT / ".work" / "bench").mkdir(parents=True, exist_ok=True)
        work, remove = Path(tempfile.mkdtemp(prefix="run-", dir=ROOT / ".work" / "bench")), True
    ctx = Context(args.fave_lock.resolve(), args.uv.resolve(), work, args.runs, args.timeout,
                  verbose=not args.quiet, cold=args.cold, corpus_sets=sets)
    rows: list[Row] = []
    try:
        for scenario in scenarios:
            ctx.log(f"scenario {scenario.name}")
            try:
                rows += scenario.run(ctx)
            except Exception as error:  # a broken scenario is reported in its row; the others still run
                ctx.notes.append(f"{scenario.name}: {type(error).__name__}: {error}")
                ctx.log(traceback.format_exc())
                rows.append(Row(scenario.name, verdict=f"n/a ({type(error).__name__})"))
        lines = header(ctx, scenarios, load_start, started)
        print("\n".join(lines) + "\n\n" + render(rows))
        if ctx.notes:
            print("\nNotes:\n" + "\n".join(f"- {note}" for note in ctx.notes))
        if args.json:
            args.json.write_text(json.dumps({
                "header": lines,
                "rows": [{"name": r.name, "verdict": r.judged(), "goal": r.goal.text if r.goal else None,
                          "outputs": r.outputs} for r in rows],
                "runs": ctx.json(), "notes": ctx.notes}, indent=1))
    finally:
        if remove:
            shutil.rmtree(work, ignore_errors=True)
    return 0
