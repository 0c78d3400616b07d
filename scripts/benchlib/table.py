"""The one table: a row per scenario case, fave-lock beside uv (or the row's named reference).

Cells read `wall / CPU / RSS`, the ratio column `fave-lock/reference` for the same three, then the issue's
goal and whether this run met it. Columns are padded so that the Markdown reads as a table in a terminal too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .stats import METRICS, Goal, Summary, ratio

HEAD = ("scenario", "fave-lock wall / CPU / RSS", "uv (or reference) wall / CPU / RSS",
        "fave-lock/uv wall, CPU, RSS", "goal", "verdict", "outputs")


@dataclass
class Row:
    """One line of the table. `fave_text`/`reference_text` replace the figures for rows measured otherwise
    (the dashboard's requests per second); `verdict` replaces the goal's judgement for them."""

    name: str
    fave: Summary | None = None
    reference: Summary | None = None
    reference_name: str = "uv"
    goal: Goal | None = None
    outputs: str = ""
    fave_text: str | None = None
    reference_text: str | None = None
    verdict: str | None = None

    def judged(self) -> str:
        if self.verdict is not None:
            return self.verdict
        return self.goal.judge(self.fave, self.reference) if self.goal else "–"


def seconds(value: float | None) -> str:
    if value is None:
        return "–"
    if value < 1:
        return f"{value:.3f} s"
    return f"{value:.2f} s" if value < 100 else f"{value:.0f} s"


def mebibytes(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.1f} MiB" if value < 100 else f"{value:.0f} MiB"


def figures(summary: Summary | None) -> str:
    if summary is None:
        return "–"
    text = f"{seconds(summary.wall)} / {seconds(summary.cpu)} / {mebibytes(summary.rss)}"
    if summary.failed:
        text += f" ({summary.failed} of {summary.runs} failed)"
    return text


def ratios(fave: Summary | None, reference: Summary | None) -> str:
    if fave is None or reference is None:
        return "–"
    parts = []
    for metric in METRICS:
        value = ratio(fave.get(metric), reference.get(metric))
        parts.append("–" if value is None else f"{value:.2f}×")
    return ", ".join(parts)


def cells(row: Row) -> tuple[str, ...]:
    reference = row.reference_text if row.reference_text is not None else figures(row.reference)
    if row.reference_name != "uv" and (row.reference is not None or row.reference_text is not None):
        reference = f"{row.reference_name}: {reference}"
    return (
        row.name,
        row.fave_text if row.fave_text is not None else figures(row.fave),
        reference,
        ratios(row.fave, row.reference),
        row.goal.text if row.goal else "–",
        row.judged(),
        row.outputs or "–",
    )


def escape(text: str) -> str:
    return text.replace("|", "\\|")


def render(rows: Sequence[Row]) -> str:
    """The Markdown table of `rows`, one line each, columns padded to their widest cell."""
    body = [tuple(escape(cell) for cell in cells(row)) for row in rows]
    widths = [max([len(HEAD[i]), *(len(line[i]) for line in body)]) for i in range(len(HEAD))]

    def line(values: Sequence[str]) -> str:
        return "| " + " | ".join(value.ljust(width) for value, width in zip(values, widths)) + " |"

    rule = "| " + " | ".join("-" * width for width in widths) + " |"
    return "\n".join([line(HEAD), rule, *(line(values) for values in body)])
