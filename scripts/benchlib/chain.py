"""The chain of round trips behind a cold resolve: how deep it is, and how close a run comes to it (issue 16
item 2).

A package's project page can only be asked for once the metadata of some package that requires it has
arrived, and its metadata only once its page has. So a cold resolve cannot finish before the slowest
discovery chain, input line → dependency → … → deepest package, each link one page and one metadata round
trip. The chain is read off a real run: the lock's `# via` lines give who requires whom, and `resolve -v`'s
log gives each request's time to its response head. A package is reached through its earliest parent (the
one whose own chain finishes first); the critical path is the longest such chain. Its length in round trips
is a floor for any client on the same network path (body transfer, parsing and the solver come on top), so
`wall / critical path` says how much of a cold run is not waiting on the chain.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from . import resolve
from .context import Context
from .stats import Summary
from .table import Row

GET = re.compile(r"DEBUG GET url=(?P<url>\S+) status=(?P<status>\d+) ms=(?P<ms>\d+)")
PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>\S+)")
INPUT_PARENT = "-r"


def normalize(name: str) -> str:
    """PEP 503's normal form, also applied to a wheel's or sdist's name part."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Lock:
    """A requirements.txt lock as a graph: pinned versions and each package's parents (`-r` = an input)."""

    versions: dict[str, str]
    parents: dict[str, set[str]]


def read_lock(text: str) -> Lock:
    """The pins and `# via` parents of a pip-tools style lock (one-line `# via x` or the indented list)."""
    versions: dict[str, str] = {}
    parents: dict[str, set[str]] = {}
    current: str | None = None
    in_via = False
    for line in text.splitlines():
        pin = PIN.match(line)
        if pin:
            current = normalize(pin["name"])
            versions[current] = pin["version"].rstrip("\\ ").strip()
            parents.setdefault(current, set())
            in_via = False
            continue
        stripped = line.strip()
        if current is None or not stripped.startswith("#"):
            continue
        body = stripped.lstrip("#").strip()
        if body.startswith("via"):
            rest = body[3:].strip()
            in_via = not rest
            if rest:
                parents[current].add(_parent(rest))
        elif in_via and body:
            parents[current].add(_parent(body))
    return Lock(versions, parents)


def _parent(text: str) -> str:
    text = text.strip()
    if text.startswith(("-r", "-c")):
        return INPUT_PARENT
    return normalize(text.split()[0].split("[")[0])


def request_costs(log: str, lock: Lock) -> dict[str, float]:
    """Milliseconds of round trips each locked package needs on its own: its project page, plus every request
    for its locked version's file (the `.metadata` file, or the range reads of the wheel when that is
    missing). Requests for other versions (prefetches, rejected candidates) are not on the chain."""
    costs: dict[str, float] = {}
    for match in GET.finditer(log):
        url, ms = match["url"], float(match["ms"])
        page = re.search(r"/simple/([^/]+)/?$", url)
        if page:
            name = normalize(page[1])
            if name in lock.versions:
                costs[name] = costs.get(name, 0.0) + ms
            continue
        filename = url.rsplit("/", 1)[-1].split("#")[0]
        parts = filename.split("-")
        if len(parts) < 2:
            continue
        name = normalize(parts[0])
        if lock.versions.get(name) == parts[1]:
            costs[name] = costs.get(name, 0.0) + ms
    return costs


@dataclass(frozen=True)
class Chain:
    milliseconds: float
    packages: list[str]  # from the input line to the deepest package


def critical_path(lock: Lock, costs: dict[str, float]) -> Chain:
    """The longest earliest-discovery chain: each package reached through the parent whose chain ends first."""
    done: dict[str, Chain] = {}
    visiting: set[str] = set()

    def finish(name: str) -> Chain:
        if name in done:
            return done[name]
        if name in visiting:  # a cycle (a → b → a): the edge back adds nothing
            return Chain(float("inf"), [])
        visiting.add(name)
        best: Chain | None = None
        for parent in lock.parents.get(name, ()):
            before = Chain(0.0, []) if parent == INPUT_PARENT else finish(parent)
            if best is None or before.milliseconds < best.milliseconds:
                best = before
        visiting.discard(name)
        if best is None or best.milliseconds == float("inf"):
            best = Chain(0.0, [])  # a pin nobody requires: reached from the input
        chain = Chain(best.milliseconds + costs.get(name, 0.0), [*best.packages, name])
        done[name] = chain
        return chain

    chains = [finish(name) for name in lock.versions]
    return max(chains, key=lambda c: c.milliseconds, default=Chain(0.0, []))


def depth(lock: Lock) -> int:
    """Links on the longest shortest-discovery chain, counting packages (an input line's package is 1)."""
    level: dict[str, int] = {}
    frontier = [n for n, ps in lock.parents.items() if INPUT_PARENT in ps or not ps]
    for name in frontier:
        level[name] = 1
    while frontier:
        following = []
        for name, parents in lock.parents.items():
            if name not in level and any(p in level for p in parents):
                following.append(name)
        for name in following:
            level[name] = 1 + min(level[p] for p in lock.parents[name] if p in level)
        frontier = following
    return max(level.values(), default=0)


def chain(ctx: Context) -> list[Row]:
    """resolve-cold's run with `-v`, fave-lock and uv interleaved; fave-lock's wall against the critical path
    its own log shows, and uv's beside it."""
    name = "chain"
    arms = resolve.cold_arms(ctx, name, extra=("-v",))
    summary = ctx.compare(name, arms)
    lock_path = ctx.scratch(name) / "fave-lock.txt"
    lock = read_lock(lock_path.read_text()) if lock_path.exists() else Lock({}, {})
    paths: list[float] = []
    longest = Chain(0.0, [])
    for record in ctx.records:
        if record.scenario == name and record.arm == "fave-lock" and record.ok:
            found = critical_path(lock, request_costs(Path(record.stderr).read_text(errors="replace"), lock))
            paths.append(found.milliseconds / 1000)
            longest = max(longest, found, key=lambda c: c.milliseconds)
    paths.sort()
    median_path = paths[len(paths) // 2] if paths else None
    reference = Summary(median_path, None, None, len(paths))
    uv_wall = summary["uv"].wall
    outputs = (f"depth {depth(lock)}; slowest chain {' → '.join(longest.packages)}; uv "
               + (f"{uv_wall / median_path:.2f}× the path" if uv_wall and median_path else "n/a"))
    return [Row(name, summary["fave-lock"], reference, reference_name="critical path", outputs=outputs)]
