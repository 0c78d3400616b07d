"""`fave-lock verify` against the network's limit: every x86_64 (and pure-Python) wheel of locks/fave-base.

Arms, interleaved (order rotated per round, so no arm always meets a warmer CDN):
  verify         `fave-lock verify fave-base --platform linux/amd64` with an empty wheel cache (every wheel
                 fetched, streamed to disk, hashed, METADATA read), project pages cached as after `resolve`;
  verify-cold    the same with nothing cached (the project pages fetched as well);
  curl           `xargs -P 8 curl` (a process and connection per file);
  curl-parallel  one `curl --parallel --parallel-max 8` (HTTP/2 on one connection, as fave-lock does).
The faster curl is the network's limit. Goals: verify within 1.3× the limit's time, peak RSS under 64 MiB.
"""

from __future__ import annotations

import shutil

from . import locked
from .context import Arm, Context
from .stats import Check, Goal, Summary
from .table import Row

PARALLEL = 8
RSS_GOAL = Check("rss", 64, relative=False, strict=True)


def verify(ctx: Context) -> list[Row]:
    name = "verify"
    wheels = locked.wheels(x86_64_only=True)
    total = sum(w.size for w in wheels)
    pages = ctx.cache("verify-pages", "fave-lock")
    cold = ctx.cache("verify-cold", "fave-lock")
    curl_dir = ctx.scratch("verify-curl")
    argv = [str(ctx.fave), "verify", "fave-base", "--platform", "linux/amd64", "-q", "--cache-ttl", "86400",
            "--concurrency", str(PARALLEL), "--config", str(locked.CONFIG)]
    # The page cache as `fave-lock resolve` leaves it: filled once by an untimed run.
    ctx.prime(name, [Arm("verify", "fave-lock", lambda _n: argv, cache=pages)])

    def empty(path):
        def clear(_n: int) -> None:
            shutil.rmtree(path, ignore_errors=True)
            path.mkdir(parents=True)
        return clear

    pairs = curl_dir / "urls"

    def url_pairs(number: int) -> None:
        empty(curl_dir)(number)
        pairs.write_text("".join(f"{w.url}\n{curl_dir / w.name}\n" for w in wheels))

    arms = [
        Arm("verify", "fave-lock", lambda _n: argv, cache=pages,
            before=lambda _n: shutil.rmtree(pages / "wheels-v1", ignore_errors=True)),
        Arm("verify-cold", "fave-lock", lambda _n: argv, cache=cold, before=empty(cold)),
        Arm("curl", "curl", lambda _n: ["xargs", "-a", str(pairs), "-P", str(PARALLEL), "-n", "2", "sh", "-c",
                                        'exec curl -sSf --retry 3 -o "$1" "$0"'],
            before=url_pairs),
        Arm("curl-parallel", "curl", lambda _n: locked.curl_parallel(wheels, curl_dir, PARALLEL),
            before=empty(curl_dir)),
    ]
    summary = ctx.compare(name, arms)
    walls = {label: summary[label].wall for label in ("curl", "curl-parallel")}
    limit_label = min(walls, key=lambda label: walls[label] if walls[label] is not None else float("inf"))
    limit: Summary = summary[limit_label]
    limit_name = f"network limit ({'curl --parallel' if limit_label == 'curl-parallel' else 'xargs curl'})"
    size = f"{len(wheels)} wheels, {total / 1e6:.0f} MB"
    return [
        Row("verify: empty wheel cache, pages cached", summary["verify"], limit, limit_name,
            Goal("≤ 1.3× the network's wall, RSS < 64 MiB", (Check("wall", 1.3), RSS_GOAL)), outputs=size),
        Row("verify: nothing cached", summary["verify-cold"], limit, limit_name,
            Goal("RSS < 64 MiB", (RSS_GOAL,)), outputs=size),
    ]
