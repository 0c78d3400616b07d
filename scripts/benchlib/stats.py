"""Medians, ratios and goals: the arithmetic behind the table, kept free of I/O so it can be tested.

A goal is a list of checks on a row: a ratio of fave-lock's median to the reference's (`wall ≤ 0.5×`), or an
absolute bound on fave-lock's median (`wall < 0.05 s`). A row meets its goal when every check holds; a
missing figure (a reference that failed, say) makes the verdict "n/a", never "met".
"""

from __future__ import annotations

import statistics
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

from .measure import Measurement

T = TypeVar("T")
METRICS = ("wall", "cpu", "rss")
UNITS = {"wall": "s", "cpu": "s", "rss": "MiB"}


@dataclass(frozen=True)
class Summary:
    """Medians of one arm's runs. A metric is None when it was not measured (a derived figure)."""

    wall: float | None
    cpu: float | None
    rss: float | None
    runs: int
    failed: int = 0  # runs that ended with an unexpected exit code or at the timeout

    def get(self, metric: str) -> float | None:
        return getattr(self, metric)

    def scaled(self, factor: float) -> Summary:
        """Wall and CPU times `factor` (a share of a run's work); RSS is not pro-rated."""
        return Summary(_mul(self.wall, factor), _mul(self.cpu, factor), self.rss, self.runs, self.failed)


def _mul(value: float | None, factor: float) -> float | None:
    return None if value is None else value * factor


def median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def summarize(runs: Sequence[Measurement], failed: int = 0) -> Summary:
    """Medians of wall, CPU and peak RSS over `runs` (every run counts, failed ones included)."""
    return Summary(
        wall=median([r.wall for r in runs]),
        cpu=median([r.cpu for r in runs]),
        rss=median([r.rss for r in runs]),
        runs=len(runs),
        failed=failed,
    )


def total(summaries: Sequence[Summary]) -> Summary:
    """A total row: wall and CPU summed, RSS the largest; None when any part lacks the figure."""
    def add(metric: str) -> float | None:
        values = [s.get(metric) for s in summaries]
        return None if not values or any(v is None for v in values) else sum(values)  # type: ignore[arg-type]

    rss = [s.rss for s in summaries]
    return Summary(add("wall"), add("cpu"), None if not rss or None in rss else max(rss),  # type: ignore[type-var]
                   sum(s.runs for s in summaries), sum(s.failed for s in summaries))


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or denominator is None or denominator <= 0:
        return None
    return numerator / denominator


@dataclass(frozen=True)
class Check:
    """One condition of a goal: fave-lock's `metric`, as a ratio to the reference or absolute, against `limit`."""

    metric: str  # wall | cpu | rss
    limit: float
    relative: bool = True  # a ratio to the reference; else fave-lock's own median in UNITS[metric]
    strict: bool = False  # `<` rather than `≤`

    def value(self, fave: Summary, reference: Summary | None) -> float | None:
        own = fave.get(self.metric)
        if not self.relative:
            return own
        return ratio(own, reference.get(self.metric) if reference else None)

    def holds(self, value: float) -> bool:
        return value < self.limit if self.strict else value <= self.limit

    def describe(self, value: float) -> str:
        figure = f"{value:.2f}×" if self.relative else f"{value:.3g} {UNITS[self.metric]}"
        bound = f"{self.limit:g}×" if self.relative else f"{self.limit:g} {UNITS[self.metric]}"
        return f"{self.metric} {figure} {'≥' if self.strict else '>'} {bound}"


@dataclass(frozen=True)
class Goal:
    """A row's goal as the issue states it (`text`), and the checks that decide it."""

    text: str
    checks: tuple[Check, ...]

    def judge(self, fave: Summary | None, reference: Summary | None) -> str:
        """'met', 'not met (wall 0.81× > 0.5×)', or 'n/a (…)' when a figure is missing or a run failed."""
        if fave is None:
            return "n/a (no fave-lock figure)"
        if fave.failed or (reference is not None and reference.failed):
            return "n/a (a run failed)"
        missed = []
        for check in self.checks:
            value = check.value(fave, reference)
            if value is None:
                return f"n/a (no {check.metric} figure)"
            if not check.holds(value):
                missed.append(check.describe(value))
        return "met" if not missed else f"not met ({'; '.join(missed)})"


def at_most(text: str, **ratios: float) -> Goal:
    """A goal of ratios bounded with ≤: `at_most("≤ 0.5× wall", wall=0.5)`."""
    return Goal(text, tuple(Check(metric, limit) for metric, limit in ratios.items()))


def interleaved(rounds: int, arms: Sequence[T]) -> Iterator[tuple[int, T]]:
    """Every arm once per round, the order rotated by one each round (A B, B A, A B, …), so that neither
    arm always runs first: a warmer CDN, a cached DNS answer or another job's burst hits both alike."""
    for number in range(rounds):
        shift = number % len(arms) if arms else 0
        for arm in [*arms[shift:], *arms[:shift]]:
            yield number, arm
