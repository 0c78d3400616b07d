"""The dashboard under load: runs scripts/bench-serve.sh (loopback registry, the release server, wrk) and puts
its figures into the table with the goals of docs/serve.md: at least 10,000 req/s with p99 under 10 ms for the
cached page, and a 1,000-tag repository's first view under 2 s.

The load itself stays in the shell script (it starts Debian's docker-registry and the server on free ports and
stops them by PID); it needs root for its Debian tools (scripts/setup/serve-deps.sh) and builds the release
binary, so `serve` is not among the default scenarios. Its environment knobs (DURATION, CONNECTIONS, …) pass
through.
"""

from __future__ import annotations

import re
from pathlib import Path

from .context import ROOT, Arm, Context
from .stats import Goal
from .table import Row

SCRIPT = ROOT / "scripts" / "bench-serve.sh"
TIMEOUT = 1800.0  # it may build the release binary and install its tools first
PAGE_RPS, PAGE_P99_MS, FIRST_VIEW_S = 10_000, 10.0, 2.0


def milliseconds(text: str) -> float | None:
    """wrk's latency ("850.00us", "3.68ms", "1.20s") in ms."""
    m = re.fullmatch(r"\s*([\d.]+)\s*(us|ms|s)\s*", text)
    if not m:
        return None
    return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]


def rows_of(output: str) -> list[Row]:
    """The table rows of bench-serve.sh's Markdown output, each judged against its goal."""
    rows = []
    for line in output.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 7 and cells[3].isdigit():
            target, connections, _, rps, p50, p99, inner = cells
            text = f"{int(rps):,} req/s, p50 {p50}, p99 {p99} (server {inner}), {connections} conns"
            verdict = None
            goal = None
            if "dashboard" in target:
                p99_ms = milliseconds(p99)
                ok = int(rps) >= PAGE_RPS and p99_ms is not None and p99_ms < PAGE_P99_MS
                verdict = "met" if ok else "not met"
                goal = f"≥ {PAGE_RPS:,} req/s, p99 < {PAGE_P99_MS:g} ms"
            rows.append(_row(f"serve: {target.replace('`', '')}", text, goal, verdict))
        elif len(cells) == 2 and re.fullmatch(r"[\d.]+", cells[1]):
            seconds = float(cells[1])
            first_big = "cold" in cells[0] and "tags" in cells[0]
            rows.append(_row(f"serve: first view {cells[0].replace('`', '')}", f"{seconds:.3f} s",
                             f"< {FIRST_VIEW_S:g} s" if first_big else None,
                             ("met" if seconds < FIRST_VIEW_S else "not met") if first_big else None))
    return rows


def _row(name: str, text: str, goal: str | None, verdict: str | None) -> Row:
    return Row(name, fave_text=text, goal=Goal(goal, ()) if goal else None, verdict=verdict or "–")


def serve(ctx: Context) -> list[Row]:
    out = ctx.scratch("serve") / "bench-serve.md"
    arm = Arm("bench-serve.sh", "serve", lambda _n: ["bash", str(SCRIPT)], env=None)
    record = ctx.measure("serve", arm, 0, stdout=out, timeout=TIMEOUT)
    if not record.ok:
        return [Row("serve", verdict="n/a (bench-serve.sh failed: see the notes)")]
    output = Path(out).read_text(errors="replace")
    header = next((line for line in output.splitlines() if line.startswith("fave-lock serve")), "")
    if header:
        ctx.notes.append(f"serve: {header}")
    return rows_of(output) or [Row("serve", verdict="n/a (no table in bench-serve.sh's output)")]
