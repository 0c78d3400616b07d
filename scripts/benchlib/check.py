"""`fave-lock check` on this repository's locks beside one warm `uv pip compile` of the base image's input.

`fave-lock check` reads fave-lock.toml and checks both images: the input hashes, then every locked project's
index page (asked of the index again: the check's default `--cache-ttl 0`) and the metadata it needs.
`--no-registry`: the published images live on ghcr.io, which this machine cannot reach. A row with `--no-apt`
too leaves out the Debian archive's indices (`apt.lock`), which the check reads since 2026-12-07: it is the
check the goal was set for. uv resolves
base-image/requirements.in on its warm cache, revalidating every page. Each cache is primed by an untimed run.
Goal: the check no slower than the warm uv resolve.
"""

from __future__ import annotations

from .context import Arm, Context, uv_compile
from .resolve import INPUT, image_target
from .stats import at_most
from .table import Row

CHECK_OK = (0, 1)  # 1: a finding (a stale lock) is an answer, not a failed run


def check(ctx: Context) -> list[Row]:
    name = "check"
    fave_cache = ctx.cache(name, "fave-lock")
    uv_cache = ctx.cache(name, "uv")
    base = [str(ctx.fave), "check", "--format", "json"]
    ok = lambda code: code in CHECK_OK  # noqa: E731
    arms = [
        Arm("check", "fave-lock", lambda _n: base + ["--no-registry"], cache=fave_cache, ok=ok),
        Arm("check --no-apt", "fave-lock", lambda _n: base + ["--no-registry", "--no-apt"], cache=fave_cache, ok=ok),
        Arm("check --offline", "fave-lock", lambda _n: base + ["--offline"], cache=fave_cache, ok=ok),
        Arm("check, pages cached", "fave-lock", lambda _n: base + ["--no-registry", "--cache-ttl", "600"],
            cache=fave_cache, ok=ok),
        Arm("uv", "uv", lambda _n: uv_compile(ctx.uv, INPUT, ctx.scratch(name) / "uv.txt", image_target()),
            cache=uv_cache),
    ]
    ctx.prime(name, [arms[0], arms[-1]])
    summary = ctx.compare(name, arms)
    uv = summary["uv"]
    return [
        Row("check --no-registry (pages asked again)", summary["check"], uv, "uv warm resolve",
            at_most("≤ 1.0× uv warm (wall)", wall=1.0)),
        Row("check --no-registry --no-apt", summary["check --no-apt"], uv, "uv warm resolve",
            at_most("≤ 1.0× uv warm (wall)", wall=1.0)),
        Row("check --offline", summary["check --offline"], uv, "uv warm resolve"),
        Row("check --no-registry --cache-ttl 600", summary["check, pages cached"], uv, "uv warm resolve"),
    ]
