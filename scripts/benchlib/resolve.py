"""Resolution against uv: the base image's input cold, warm, offline and with the ABI check on; sets that
need backtracking; the seed pins' diagnosis.

Like for like: both tools resolve for the same target (CPython 3.11, x86_64-manylinux_2_36, fave-lock.toml's
exclude-newer, PyPI), wheels only (`--only-binary :all:` for both), and write every file's hash (uv with
`--generate-hashes`). fave-lock runs with `--no-check-abi` except in resolve-cold-default: uv downloads no wheel
to look at its binaries, so the numpy ABI check is work uv does not do (the `abi` scenario times it alone).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from . import corpus
from .context import ROOT, TOOLS, Arm, Context, Target, config_exclude_newer, fave_resolve, same_pins, uv_compile
from .stats import at_most
from .table import Row

INPUT = ROOT / "base-image" / "requirements.in"
SEED = ROOT / "benches" / "seed-pins.in"
# Sets that resolve only after backtracking: two from the corpus, and issue 13's fastapi template.
BACKTRACK = (ROOT / "tests" / "corpus" / "netbox-base.txt", ROOT / "tests" / "corpus" / "prefect-2.x.txt",
             ROOT / "benches" / "fastapi-template.in")
NO_ABI = ("--no-check-abi",)


def image_target() -> Target:
    return Target("3.11", "x86_64-manylinux_2_36", config_exclude_newer())


def _empty(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)


def _arms(ctx: Context, scenario: str, requirements: Path, target: Target, cache_name: str, *, cold: bool,
          offline: bool = False, fave_extra: tuple[str, ...] = NO_ABI, ok=None) -> list[Arm]:
    """fave-lock and uv on `requirements`; a cache per tool (emptied before each run when `cold`)."""
    out = ctx.scratch(scenario)
    arms = []
    for tool in TOOLS:
        cache = ctx.cache(cache_name, tool)
        lock = out / f"{tool}.txt"
        if tool == "fave-lock":
            argv = fave_resolve(ctx.fave, requirements, lock, target, fave_extra)
        else:
            argv = uv_compile(ctx.uv, requirements, lock, target)
        if offline:
            argv.append("--offline")
        arm = Arm(tool, tool, lambda _n, argv=argv: argv, cache=cache,
                  before=(lambda _n, cache=cache: _empty(cache)) if cold else None)
        if ok is not None:
            arm.ok = ok
        arms.append(arm)
    return arms


def _row(ctx: Context, name: str, arms: list[Arm], goal, outputs_dir: Path | None = None) -> Row:
    summary = ctx.compare(name, arms)
    outputs = same_pins(outputs_dir / "fave-lock.txt", outputs_dir / "uv.txt") if outputs_dir else ""
    return Row(name, summary["fave-lock"], summary["uv"], goal=goal, outputs=outputs)


def cold_arms(ctx: Context, name: str, extra: tuple[str, ...] = ()) -> list[Arm]:
    """resolve-cold's two arms under scenario `name`, fave-lock given `extra` arguments."""
    return _arms(ctx, name, INPUT, image_target(), name, cold=True, fave_extra=NO_ABI + extra)


def resolve_cold(ctx: Context) -> list[Row]:
    name = "resolve-cold"
    arms = cold_arms(ctx, name)
    return [_row(ctx, name, arms, at_most("≤ 0.5× wall, ≤ 0.7× RSS", wall=0.5, rss=0.7), ctx.scratch(name))]


def resolve_cold_default(ctx: Context) -> list[Row]:
    name = "resolve-cold-default"
    arms = _arms(ctx, name, INPUT, image_target(), name, cold=True, fave_extra=())
    return [_row(ctx, name, arms, at_most("≤ 1.0× wall", wall=1.0), ctx.scratch(name))]


def _warm(ctx: Context, name: str, offline: bool, goal) -> list[Row]:
    # resolve-warm and resolve-offline share one warm cache per tool, primed once by an untimed online run.
    primer = _arms(ctx, name, INPUT, image_target(), "resolve-warm", cold=False)
    ctx.prime_once("resolve-warm", name, primer)
    arms = _arms(ctx, name, INPUT, image_target(), "resolve-warm", cold=False, offline=offline)
    return [_row(ctx, name, arms, goal, ctx.scratch(name))]


def resolve_warm(ctx: Context) -> list[Row]:
    ctx.notes.append("resolve-warm is not like for like: fave-lock uses a cached project page younger than "
                     "--cache-ttl (600 s) as is, uv revalidates every page with the index.")
    return _warm(ctx, "resolve-warm", False, at_most("≤ 0.2× wall (keep)", wall=0.2))


def resolve_offline(ctx: Context) -> list[Row]:
    return _warm(ctx, "resolve-offline", True, at_most("≤ 0.33× wall", wall=0.33))


def backtrack(ctx: Context) -> list[Row]:
    """Each backtracking set cold against uv cold, in ad hoc mode with the corpus's target and policy."""
    rows = []
    for requirements in BACKTRACK:
        name = f"backtrack: {requirements.name}"
        arms = _arms(ctx, name, requirements, corpus.TARGET, f"backtrack-{requirements.stem}", cold=True)
        rows.append(_row(ctx, name, arms, at_most("≤ 1.0× wall (no more than uv)", wall=1.0), ctx.scratch(name)))
    return rows


PROBLEM = re.compile(r"^\s*\d+\. \[", re.MULTILINE)


def diagnose_seed(ctx: Context) -> list[Row]:
    """The seed pins' full diagnosis (fave-lock reports every problem) against one uv run (uv stops at the
    first): both warm, both must fail."""
    name = "diagnose-seed"
    arms = _arms(ctx, name, SEED, image_target(), name, cold=False, fave_extra=(),
                 ok=lambda code: code not in (0, None))
    ctx.prime(name, arms)
    summary = ctx.compare(name, arms)
    last = next((r for r in reversed(ctx.records) if r.scenario == name and r.arm == "fave-lock"), None)
    problems = len(PROBLEM.findall(Path(last.stderr).read_text(errors="replace"))) if last else 0
    return [Row(name, summary["fave-lock"], summary["uv"], goal=at_most("≤ 1× one uv run (wall)", wall=1.0),
                outputs=f"fave-lock reports {problems} problems, uv 1")]
