"""The real-world corpus (tests/corpus/) against uv: outcome classes and the timing per set.

For every entry file (a corpus file that no other corpus file pulls in with -r/-c), both tools resolve in ad hoc
mode with the same policy (sdists allowed: uv builds them, fave-lock too):

    uv pip compile FILE --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
        --exclude-newer T --generate-hashes --no-header --no-annotate
    fave-lock resolve -r FILE --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
        --exclude-newer T -o OUT --no-check-abi

Two users of this module:
  - `scripts/bench --only corpus`: per-set wall, CPU and peak RSS beside uv's, interleaved runs, the total row,
    issue 13's goals (`corpus_scenario`);
  - `scripts/corpus-compare.py`: the outcome of each set (`main`), one run per tool after the other.

Outcome classes (the first matching one):
  fave-timeout     uv succeeded, fave-lock was killed at the timeout
  timeout          another run ran out of time (which tool is said)
  same             both ok, same name==version set
  different        both ok, different sets (the differing packages are listed)
  sdist-needed     uv ok, fave-lock failed because a package in the closure has no usable wheel; never with
                   --uv-only-binary
  fave-fail        uv ok, fave-lock failed for another reason: a bug
  uv-fail-fave-ok  uv failed, fave-lock resolved: check by hand
  both-fail        both failed; the row says whether fave-lock's report names every package uv blames, and
                   whether it fell back to [unexplained]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .context import ROOT, Arm, Context, Target, fave_resolve, uv_compile
from .measure import Measurement
from .stats import Check, Goal, total
from .table import Row

CORPUS = ROOT / "tests" / "corpus"
# No --index-url: a file's own `-i` line counts, as it does for a user (paperless-ngx has one).
TARGET = Target("3.11", "x86_64-manylinux_2_28", "2026-11-01T00:00:00Z", index_url=None, only_binary=False)
FAILING = {"different", "sdist-needed", "fave-fail", "fave-timeout"}

# `-r file`, `--requirement=file`, `-c file`, `--constraint file`
INCLUDE_RE = re.compile(r"^\s*(?:-r|-c|--requirement|--constraint)(?:\s*=\s*|\s+)(\S+)")
PIN_RE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")
# Package names uv blames in its error text: "Because webrtcvad==2.0.10 has no wheels ...",
# "and only foo<1 is available", "we can conclude that bar>=2 ..."
UV_BLAME_RE = re.compile(
    r"(?:Because|and|that|of|depends on|requires|all versions of|only)\s+"
    r"([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?\s*(?:[<>=!~]=?|==|\s(?:was|has|is|are|cannot|depends))"
)
# "Failed to build `psycopg2==2.6`", "Failed to download and build `x==1`"
UV_BUILD_RE = re.compile(r"Failed to (?:download and )?build `([A-Za-z0-9][A-Za-z0-9._-]*)")
SDIST_MARKERS = ("an sdist exists", "sdist only", "only an sdist", "allow-sdist", "source distribution")
NOT_PACKAGES = {"you", "we", "the", "your", "it", "all", "version", "versions", "python", "supports"}


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass
class Run:
    """One tool's run on one set: its measurement, report and resolved pins."""

    tool: str
    measurement: Measurement
    stderr: str
    pins: dict[str, str] = field(default_factory=dict)

    @property
    def exit_code(self) -> int | None:
        return self.measurement.exit_code

    @property
    def timed_out(self) -> bool:
        return self.measurement.timed_out

    @property
    def wall_s(self) -> float:
        return self.measurement.wall

    @property
    def rss_mib(self) -> float:
        return self.measurement.rss


@dataclass
class Result:
    file: str
    lines: int
    uv: Run
    fave: Run
    outcome: str
    detail: list[str] = field(default_factory=list)


def parse_pins(text: str) -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in text.splitlines():
        m = PIN_RE.match(line)
        if m:
            pins[normalize(m.group(1))] = m.group(2)
    return pins


def entry_files(corpus: Path = CORPUS) -> list[Path]:
    """Every .txt of the corpus that no other one includes with -r/-c, sorted."""
    files = sorted(p for p in corpus.rglob("*.txt") if p.is_file())
    included: set[Path] = set()
    for f in files:
        for line in f.read_text(errors="replace").splitlines():
            m = INCLUDE_RE.match(line)
            if m:
                included.add((f.parent / m.group(1)).resolve())
    return [f for f in files if f.resolve() not in included]


def select(entries: list[Path], wanted: list[str], corpus: Path = CORPUS) -> tuple[list[Path], list[str]]:
    """The entries named in `wanted` (a path under the corpus or a file name), and the names that match none."""
    if not wanted:
        return entries, []
    chosen, unknown = [], []
    for name in wanted:
        hits = [e for e in entries if str(e.relative_to(corpus)) == name or e.name == name]
        if not hits:
            unknown.append(name)
        chosen += [h for h in hits if h not in chosen]
    return chosen, unknown


def uv_blamed(stderr: str) -> list[str]:
    names = []
    for m in [*UV_BUILD_RE.finditer(stderr), *UV_BLAME_RE.finditer(stderr)]:
        n = normalize(m.group(1))
        if n not in names and n not in NOT_PACKAGES:
            names.append(n)
    return names


def classify(uv: Run, fave: Run, uv_only_binary: bool = False) -> tuple[str, list[str]]:
    detail: list[str] = []
    uv_ok = uv.exit_code == 0
    fave_ok = fave.exit_code == 0
    if fave.timed_out and uv_ok:
        return "fave-timeout", [f"fave-lock killed after {fave.wall_s:.0f} s"]
    if uv.timed_out or fave.timed_out:
        who = " and ".join(t.tool for t in (uv, fave) if t.timed_out)
        return "timeout", [f"{who} killed at the timeout"]
    if uv_ok and fave_ok:
        if uv.pins == fave.pins:
            return "same", detail
        for name in sorted(set(uv.pins) | set(fave.pins)):
            a, b = uv.pins.get(name), fave.pins.get(name)
            if a != b:
                detail.append(f"{name}: uv {a or '-'} / fave-lock {b or '-'}")
        return "different", detail
    first = [line for line in fave.stderr.splitlines() if line.strip()][:6]
    if uv_ok:
        text = fave.stderr.lower()
        # With --uv-only-binary uv refused sdists too, so a wheel-only failure of fave-lock is a bug.
        sdist = not uv_only_binary and any(m in text for m in SDIST_MARKERS)
        return ("sdist-needed" if sdist else "fave-fail"), first
    if fave_ok:
        return "uv-fail-fave-ok", [line for line in uv.stderr.splitlines() if line.strip()][:6]
    # Both failed: does fave-lock's report name every package uv's derivation blames?
    blamed = uv_blamed(uv.stderr)
    fave_text = normalize(fave.stderr)
    missing = [n for n in blamed if n not in fave_text]
    unexplained = "[unexplained]" in fave.stderr
    longest = max((len(line) for line in fave.stderr.splitlines()), default=0)
    detail.append(
        f"uv blames: {', '.join(blamed) or '(none parsed)'}; fave-lock names all: "
        f"{'yes' if not missing else 'no, missing ' + ', '.join(missing)}"
        f"; [unexplained]: {'yes' if unexplained else 'no'}; longest report line: {longest} chars"
    )
    detail.extend("fave: " + line for line in first)
    return "both-fail", detail


def _stderr(path: Path) -> str:
    text = path.read_text(errors="replace")
    # Keep the start (the error and the first problems) and the end of long reports.
    return text if len(text) <= 60000 else text[:50000] + "\n[... cut ...]\n" + text[-10000:]


def arms(ctx: Context, path: Path, work: Path, uv_only_binary: bool = False) -> list[Arm]:
    """fave-lock and uv on one set, each with its corpus cache (emptied before each run with ctx.cold)."""
    result = []
    for tool in ("fave-lock", "uv"):
        cache = ctx.cache("corpus", tool)
        out = work / f"{tool}.txt"
        if tool == "fave-lock":
            argv = fave_resolve(ctx.fave, path, out, TARGET, ["--no-check-abi"])
        else:
            uv_target = Target(TARGET.python_version, TARGET.platform, TARGET.exclude_newer, TARGET.index_url,
                               only_binary=uv_only_binary)
            argv = uv_compile(ctx.uv, path, out, uv_target)

        def before(_n: int, cache: Path = cache, out: Path = out) -> None:
            out.unlink(missing_ok=True)
            if ctx.cold:
                shutil.rmtree(cache, ignore_errors=True)
                cache.mkdir(parents=True)

        # Any exit is an outcome here (both-fail sets fail by design); only the timeout is not.
        result.append(Arm(tool, tool, lambda _n, argv=argv: argv, cache=cache, before=before,
                          ok=lambda code: code is not None))
    return result


def outcome_of(ctx: Context, scenario: str, path: Path, work: Path, uv_only_binary: bool = False) -> Result:
    """The outcome of the last run of each tool on `path` (the records of `scenario`)."""
    runs = {}
    for tool in ("fave-lock", "uv"):
        record = next(r for r in reversed(ctx.records) if r.scenario == scenario and r.arm == tool)
        out = work / f"{tool}.txt"
        pins = parse_pins(out.read_text(errors="replace")) if record.measurement.exit_code == 0 and out.exists() else {}
        runs[tool] = Run(tool, record.measurement, _stderr(Path(record.stderr)), pins)
    outcome, detail = classify(runs["uv"], runs["fave-lock"], uv_only_binary)
    text = path.read_bytes().decode("utf-8", errors="replace")
    lines = text.count("\n") + (0 if text.endswith("\n") or not text else 1)
    return Result(str(path.relative_to(CORPUS)), lines, runs["uv"], runs["fave-lock"], outcome, detail)


SET_GOAL = Goal("≤ 3× wall, RSS < uv's", (Check("wall", 3.0), Check("rss", 1.0, strict=True)))
TOTAL_GOAL = Goal("total ≤ 1× uv's wall", (Check("wall", 1.0),))


def corpus_scenario(ctx: Context) -> list[Row]:
    """Per set: fave-lock's medians beside uv's, the outcome; then the total. Warm unless ctx.cold: one untimed
    run of each tool per set first (then both caches hold what the set needs)."""
    entries, _ = select(entry_files(), ctx.corpus_sets)
    rows, faves, uvs = [], [], []
    for path in entries:
        rel = str(path.relative_to(CORPUS))
        name = f"corpus: {rel}"
        work = ctx.scratch(name)
        set_arms = arms(ctx, path, work)
        if not ctx.cold:
            ctx.prime(name, set_arms)
        summary = ctx.compare(name, set_arms)
        result = outcome_of(ctx, name, path, work)
        # A set's outcome is expected to fail for both tools at times; a timeout is the failure that counts.
        rows.append(Row(name, summary["fave-lock"], summary["uv"], goal=SET_GOAL, outputs=result.outcome))
        faves.append(summary["fave-lock"])
        uvs.append(summary["uv"])
        if result.outcome in FAILING:
            ctx.notes.append(f"{name}: {result.outcome}: " + "; ".join(result.detail)[:300])
    mode = "cold" if ctx.cold else "warm"
    if not ctx.cold:
        ctx.notes.append("corpus, warm: not like for like: fave-lock uses cached project pages younger than "
                         "--cache-ttl (600 s) as they are, uv revalidates every page; --cold compares empty caches.")
    rows.append(Row(f"corpus: total of {len(entries)} sets ({mode}; RSS: the largest)", total(faves), total(uvs),
                    goal=TOTAL_GOAL,
                    outputs=f"{sum(1 for r in rows if r.judged() == 'met')} of {len(entries)} sets meet theirs"))
    return rows


# ---- scripts/corpus-compare.py --------------------------------------------------------------------------------


def print_table(results: list[Result]) -> None:
    head = ("file", "lines", "uv", "fave", "ratio", "RSS uv/fave MB", "outcome")
    rows = []
    for r in results:
        ratio = r.fave.wall_s / r.uv.wall_s if r.uv.wall_s > 0 else float("inf")
        rows.append((r.file, str(r.lines), _time(r.uv), _time(r.fave), f"{ratio:.2f}",
                     f"{r.uv.rss_mib:.0f}/{r.fave.rss_mib:.0f}", r.outcome))
    widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h) for i, h in enumerate(head)]

    def line(cells: tuple[str, ...]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"

    print(line(head))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print(line(row))
    uv_total = sum(r.uv.wall_s for r in results)
    fave_total = sum(r.fave.wall_s for r in results)
    counts: dict[str, int] = {}
    for r in results:
        counts[r.outcome] = counts.get(r.outcome, 0) + 1
    print()
    print(f"files: {len(results)}; total wall: uv {uv_total:.1f} s, fave-lock {fave_total:.1f} s"
          f" (ratio {fave_total / uv_total if uv_total else float('inf'):.2f})")
    both_ok = [r for r in results if r.uv.exit_code == 0 and r.fave.exit_code == 0]
    if both_ok:
        print(f"where both succeed ({len(both_ok)}): uv {sum(r.uv.wall_s for r in both_ok):.1f} s,"
              f" fave-lock {sum(r.fave.wall_s for r in both_ok):.1f} s;"
              f" sets over 3x uv's time: {sum(1 for r in both_ok if r.fave.wall_s > 3 * r.uv.wall_s)};"
              f" sets where fave-lock's peak RSS is over uv's: {sum(1 for r in both_ok if r.fave.rss_mib > r.uv.rss_mib)}")
    print("outcomes: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    for r in results:
        if r.detail:
            print(f"\n{r.file} [{r.outcome}]")
            for d in r.detail:
                print("   " + d[:300])


def _time(r: Run) -> str:
    return f">{r.wall_s:.1f}s" if r.timed_out else f"{r.wall_s:.2f}s"


def main(argv: list[str] | None = None) -> int:
    """scripts/corpus-compare.py: the outcome of every set. Exit 1 when any set is fave-timeout, different,
    sdist-needed or fave-fail, 2 on a usage error, else 0."""
    ap = argparse.ArgumentParser(prog="corpus-compare.py",
                                 description="Compare fave-lock with uv on the real-world corpus (tests/corpus/).")
    ap.add_argument("--uv", default=os.environ.get("UV", "/work/main/.venv/tools/bin/uv"),
                    help="the uv binary (env UV; default %(default)s)")
    default_fave = os.environ.get("FAVE_LOCK") or str(
        Path(os.environ.get("CARGO_TARGET_DIR", "target")) / "debug" / "fave-lock")
    ap.add_argument("--fave-lock", default=default_fave,
                    help="the fave-lock binary (env FAVE_LOCK, else $CARGO_TARGET_DIR/debug/fave-lock)")
    ap.add_argument("--cache-root", default="/tmp/fave-corpus-cache", help="uv/ and fave-lock/ cache dirs go here")
    ap.add_argument("--fresh-cache", action="store_true", help="empty both cache dirs before the first run")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds per tool run")
    ap.add_argument("--runs", type=int, default=1,
                    help="runs per tool and file; the last one is reported (2 = warm second run)")
    ap.add_argument("--only", action="append", default=[], help="run only files whose path contains this (repeatable)")
    ap.add_argument("--json", dest="json_out", help="write the raw results here")
    ap.add_argument("--uv-only-binary", action="store_true",
                    help="give uv `--only-binary :all:`: sets then must match fave-lock's wheel-only result exactly")
    args = ap.parse_args(argv)

    for tool, path in (("uv", args.uv), ("fave-lock", args.fave_lock)):
        if not (Path(path).is_file() and os.access(path, os.X_OK)):
            print(f"error: {tool} not found at {path} (give --{tool} or set the env var)", file=sys.stderr)
            return 2
    if args.fresh_cache:
        shutil.rmtree(args.cache_root, ignore_errors=True)
    cache_root = Path(args.cache_root)
    entries = entry_files()
    if args.only:
        entries = [e for e in entries if any(o in str(e) for o in args.only)]
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="corpus-compare-") as tmp:
        ctx = Context(Path(args.fave_lock).resolve(), Path(args.uv).resolve(), Path(tmp), args.runs, args.timeout,
                      verbose=False)
        for tool in ("fave-lock", "uv"):
            # The cache root holds uv/ and fave-lock/ across invocations, as it always did.
            (cache_root / tool).mkdir(parents=True, exist_ok=True)
            (ctx.work / "caches" / "corpus").mkdir(parents=True, exist_ok=True)
            link = ctx.work / "caches" / "corpus" / tool
            if not link.exists():
                link.symlink_to((cache_root / tool).resolve())
        for path in entries:
            rel = str(path.relative_to(CORPUS))
            work = ctx.scratch(rel)
            set_arms = arms(ctx, path, work, args.uv_only_binary)
            for arm in (set_arms[1], set_arms[0]):  # uv first, then fave-lock, as before
                for number in range(args.runs):
                    ctx.measure(rel, arm, number)
            result = outcome_of(ctx, rel, path, work, args.uv_only_binary)
            results.append(result)
            print(f"{rel}: {result.outcome} (uv {_time(result.uv)}, fave-lock {_time(result.fave)})",
                  file=sys.stderr, flush=True)
    print_table(results)
    if args.json_out:
        meta = {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "exclude_newer": TARGET.exclude_newer,
                "python_version": TARGET.python_version, "platform": TARGET.platform, "runs": args.runs,
                "timeout_s": args.timeout, "uv_only_binary": args.uv_only_binary}
        Path(args.json_out).write_text(json.dumps({"meta": meta, "results": [asdict(r) for r in results]}, indent=1))
    return 1 if any(r.outcome in FAILING for r in results) else 0

