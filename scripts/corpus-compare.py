#!/usr/bin/env python3
"""Compare fave-lock with uv on the real-world requirement corpus (tests/corpus/).

For every entry file (a corpus file that no other corpus file pulls in with -r/-c), run

    uv pip compile FILE --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
        --exclude-newer T --no-header --no-annotate
    fave-lock resolve -r FILE --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
        --exclude-newer T -o OUT --no-check-abi

one after the other (never in parallel: the machine is shared), each with its own cache dir and a
per-run timeout, and record exit code, wall time, peak RSS and the resolved name==version set.

Outcome classes (the first matching one):
  fave-timeout     uv succeeded, fave-lock was killed at the timeout
  timeout          another run ran out of time (which tool is said)
  same             both ok, same name==version set
  different        both ok, different sets (the differing packages are listed)
  sdist-needed     uv ok, fave-lock failed because a package in the closure has no usable wheel
                   (uv builds the sdist; fave-lock refuses sdists today); never with --uv-only-binary
  fave-fail        uv ok, fave-lock failed for another reason: a bug
  uv-fail-fave-ok  uv failed, fave-lock resolved: check by hand
  both-fail        both failed; the row says whether fave-lock's report names every package
                   uv blames, and whether it fell back to [unexplained]

Exit status: 1 when any entry is fave-timeout, different, sdist-needed or fave-fail, else 0.
Usage errors exit 2.

Python 3.11, standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

EXCLUDE_NEWER = "2026-11-01T00:00:00Z"
PYTHON_VERSION = "3.11"
PLATFORM = "x86_64-manylinux_2_28"
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


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass
class Run:
    tool: str
    argv: list[str]
    exit_code: int | None  # None on timeout
    wall_s: float
    max_rss_kb: int
    timed_out: bool
    stderr: str
    pins: dict[str, str] = field(default_factory=dict)


@dataclass
class Result:
    file: str
    lines: int
    uv: Run
    fave: Run
    outcome: str
    detail: list[str] = field(default_factory=list)


def run_limited(argv: list[str], timeout: float, env: dict[str, str], stdout_path: Path) -> tuple[int | None, float, int, bool, str]:
    """Runs argv in its own session; kills that session (by our child's PID) on timeout.

    Output goes to files, not pipes, so a chatty child can never block on a full pipe while we
    wait for it.
    """
    stderr_path = stdout_path.with_suffix(".stderr")
    with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
        start = time.monotonic()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        timed_out = False
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid == proc.pid:
                break
            if time.monotonic() - start > timeout:
                timed_out = True
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.02)
        wall = time.monotonic() - start
    # Popen would otherwise try to reap the PID again.
    proc.returncode = 0
    code = None if timed_out else os.waitstatus_to_exitcode(status)
    stderr = stderr_path.read_text(errors="replace")
    # Keep the start (the error and the first problems) and the end of long reports.
    if len(stderr) > 60000:
        stderr = stderr[:50000] + "\n[... cut ...]\n" + stderr[-10000:]
    return code, wall, usage.ru_maxrss, timed_out, stderr


def parse_pins(text: str) -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in text.splitlines():
        m = PIN_RE.match(line)
        if m:
            pins[normalize(m.group(1))] = m.group(2)
    return pins


def entry_files(corpus: Path) -> list[Path]:
    files = sorted(p for p in corpus.rglob("*.txt") if p.is_file())
    included: set[Path] = set()
    for f in files:
        for line in f.read_text(errors="replace").splitlines():
            m = INCLUDE_RE.match(line)
            if m:
                included.add((f.parent / m.group(1)).resolve())
    return [f for f in files if f.resolve() not in included]


def uv_blamed(stderr: str) -> list[str]:
    names = []
    for m in [*UV_BUILD_RE.finditer(stderr), *UV_BLAME_RE.finditer(stderr)]:
        n = normalize(m.group(1))
        if n not in names and n not in {"you", "we", "the", "your", "it", "all", "version", "versions", "python", "supports"}:
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
    first = [l for l in fave.stderr.splitlines() if l.strip()][:6]
    if uv_ok:
        text = fave.stderr.lower()
        # With --uv-only-binary uv refused sdists too, so a wheel-only failure of fave-lock is a bug.
        sdist = not uv_only_binary and any(m in text for m in SDIST_MARKERS)
        kind = "sdist-needed" if sdist else "fave-fail"
        return kind, first
    if fave_ok:
        return "uv-fail-fave-ok", [l for l in uv.stderr.splitlines() if l.strip()][:6]
    # Both failed: does fave-lock's report name every package uv's derivation blames?
    blamed = uv_blamed(uv.stderr)
    fave_text = normalize(fave.stderr)
    missing = [n for n in blamed if n not in fave_text]
    unexplained = "[unexplained]" in fave.stderr
    longest = max((len(l) for l in fave.stderr.splitlines()), default=0)
    detail.append(
        f"uv blames: {', '.join(blamed) or '(none parsed)'}; fave-lock names all: {'yes' if not missing else 'no, missing ' + ', '.join(missing)}"
        f"; [unexplained]: {'yes' if unexplained else 'no'}; longest report line: {longest} chars"
    )
    detail.extend("fave: " + l for l in first)
    return "both-fail", detail


def run_uv(uv: str, path: Path, cache: Path, timeout: float, work: Path, only_binary: bool) -> Run:
    argv = [
        uv, "pip", "compile", str(path), "--python-version", PYTHON_VERSION, "--python-platform", PLATFORM,
        "--exclude-newer", EXCLUDE_NEWER, "--no-header", "--no-annotate", "--cache-dir", str(cache),
    ]
    if only_binary:
        argv += ["--only-binary", ":all:"]
    env = dict(os.environ, UV_NO_CONFIG="1", NO_COLOR="1")
    out = work / "uv.out"
    code, wall, rss, to, err = run_limited(argv, timeout, env, out)
    pins = parse_pins(out.read_text(errors="replace")) if code == 0 else {}
    return Run("uv", argv, code, wall, rss, to, err, pins)


def run_fave(fave: str, path: Path, cache: Path, timeout: float, work: Path) -> Run:
    lock = work / "fave-lock.txt"
    lock.unlink(missing_ok=True)
    argv = [
        fave, "resolve", "-r", str(path), "--python-version", PYTHON_VERSION, "--python-platform", PLATFORM,
        "--exclude-newer", EXCLUDE_NEWER, "-o", str(lock), "--no-check-abi", "--cache-dir", str(cache),
    ]
    env = dict(os.environ, NO_COLOR="1")
    code, wall, rss, to, err = run_limited(argv, timeout, env, work / "fave.out")
    pins = parse_pins(lock.read_text(errors="replace")) if code == 0 and lock.exists() else {}
    return Run("fave-lock", argv, code, wall, rss, to, err, pins)


def fmt_time(r: Run) -> str:
    return f">{r.wall_s:.1f}s" if r.timed_out else f"{r.wall_s:.2f}s"


def print_table(results: list[Result]) -> None:
    head = ("file", "lines", "uv", "fave", "ratio", "RSS uv/fave MB", "outcome")
    rows = []
    for r in results:
        ratio = r.fave.wall_s / r.uv.wall_s if r.uv.wall_s > 0 else float("inf")
        rows.append((
            r.file, str(r.lines), fmt_time(r.uv), fmt_time(r.fave), f"{ratio:.2f}",
            f"{r.uv.max_rss_kb / 1024:.0f}/{r.fave.max_rss_kb / 1024:.0f}", r.outcome,
        ))
    widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h) for i, h in enumerate(head)]
    line = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"
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
              f" sets where fave-lock's peak RSS is over uv's: {sum(1 for r in both_ok if r.fave.max_rss_kb > r.uv.max_rss_kb)}")
    print("outcomes: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    for r in results:
        if r.detail:
            print(f"\n{r.file} [{r.outcome}]")
            for d in r.detail:
                print("   " + d[:300])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--uv", default=os.environ.get("UV", "/work/main/.venv/tools/bin/uv"),
                    help="the uv binary (env UV; default %(default)s)")
    default_fave = os.environ.get("FAVE_LOCK") or str(Path(os.environ.get("CARGO_TARGET_DIR", "target")) / "debug" / "fave-lock")
    ap.add_argument("--fave-lock", default=default_fave,
                    help="the fave-lock binary (env FAVE_LOCK, else $CARGO_TARGET_DIR/debug/fave-lock)")
    ap.add_argument("--corpus", default=str(Path(__file__).resolve().parent.parent / "tests" / "corpus"),
                    help="folder of requirement files; every .txt no other one includes is run")
    ap.add_argument("--cache-root", default="/tmp/fave-corpus-cache", help="uv/ and fave-lock/ cache dirs go here")
    ap.add_argument("--fresh-cache", action="store_true", help="empty both cache dirs before the first run")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds per tool run")
    ap.add_argument("--runs", type=int, default=1, help="runs per tool and file; the last one is reported (2 = warm second run)")
    ap.add_argument("--only", action="append", default=[], help="run only files whose path contains this (repeatable)")
    ap.add_argument("--json", dest="json_out", help="write the raw results here")
    ap.add_argument("--uv-only-binary", action="store_true",
                    help="give uv `--only-binary :all:` (fave-lock's wheel-only policy of today): sets then must match exactly")
    args = ap.parse_args()

    corpus = Path(args.corpus)
    for tool, path in (("uv", args.uv), ("fave-lock", args.fave_lock)):
        if not (Path(path).is_file() and os.access(path, os.X_OK)):
            print(f"error: {tool} not found at {path} (give --{tool} or set the env var)", file=sys.stderr)
            return 2
    if not corpus.is_dir():
        print(f"error: corpus folder {corpus} does not exist", file=sys.stderr)
        return 2
    cache_uv = Path(args.cache_root) / "uv"
    cache_fave = Path(args.cache_root) / "fave-lock"
    if args.fresh_cache:
        shutil.rmtree(args.cache_root, ignore_errors=True)
    cache_uv.mkdir(parents=True, exist_ok=True)
    cache_fave.mkdir(parents=True, exist_ok=True)

    entries = entry_files(corpus)
    if args.only:
        entries = [e for e in entries if any(o in str(e) for o in args.only)]
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="corpus-compare-") as tmp:
        work = Path(tmp)
        for path in entries:
            rel = str(path.relative_to(corpus))
            text = path.read_bytes().decode("utf-8", errors="replace")
            lines = text.count("\n") + (0 if text.endswith("\n") or not text else 1)
            for _ in range(args.runs):
                uv = run_uv(args.uv, path, cache_uv, args.timeout, work, args.uv_only_binary)
            for _ in range(args.runs):
                fave = run_fave(args.fave_lock, path, cache_fave, args.timeout, work)
            outcome, detail = classify(uv, fave, args.uv_only_binary)
            results.append(Result(rel, lines, uv, fave, outcome, detail))
            print(f"{rel}: {outcome} (uv {fmt_time(uv)}, fave-lock {fmt_time(fave)})", file=sys.stderr, flush=True)

    print_table(results)
    if args.json_out:
        meta = {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "exclude_newer": EXCLUDE_NEWER,
                "python_version": PYTHON_VERSION, "platform": PLATFORM, "runs": args.runs, "timeout_s": args.timeout,
                "uv_only_binary": args.uv_only_binary}
        Path(args.json_out).write_text(json.dumps({"meta": meta, "results": [asdict(r) for r in results]}, indent=1))
    return 1 if any(r.outcome in FAILING for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
