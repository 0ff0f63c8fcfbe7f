"""Benchmark rows: a measured figure beside its goal, printed as Markdown and saved as JSON."""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

UNITS = {"x": "{:.3f}×", "rho": "ρ {:.2f}", "s": "{:.1f} s", "graphs": "{:.0f} graphs"}
SYMBOLS = {"<=": "≤", ">=": "≥"}
SUFFIXES = {"x": "×", "rho": "", "s": " s", "graphs": " graphs"}


@dataclass(frozen=True)
class Goal:
    """``value <= bound``, ``value >= bound`` or ``|value - 1| <= bound`` ('within')."""

    op: str
    bound: float
    unit: str = "x"

    def met(self, value: float) -> bool:
        if self.op == "<=":
            return value <= self.bound
        if self.op == ">=":
            return value >= self.bound
        return abs(value - 1) <= self.bound

    def __str__(self) -> str:
        if self.op == "within":
            return f"1 ± {self.bound:g}"
        return f"{SYMBOLS[self.op]} {self.bound:g}{SUFFIXES[self.unit]}"


@dataclass
class Row:
    """One measured figure. ``value`` is in ``unit`` ('x' a ratio, 'rho' a rank correlation,
    'graphs' a count of compiled graphs,
    's' seconds); ``note`` is the short context shown in the table; ``details`` go to JSON."""

    figure: str
    name: str
    value: float
    unit: str
    goal: Goal | None = None
    note: str = ""
    details: dict = field(default_factory=dict)

    @property
    def met(self) -> bool | None:
        if self.goal is None or not math.isfinite(self.value):
            return None
        return self.goal.met(self.value)

    def formatted_value(self) -> str:
        return UNITS[self.unit].format(self.value)


def to_markdown(rows: Sequence[Row], commands: dict[str, str]) -> str:
    """The rows as a Markdown table: figure, value, goal (and whether it is met), note,
    command reproducing the figure."""
    lines = ["| figure | value | goal | note | command |", "|---|---|---|---|---|"]
    for row in rows:
        goal = "–" if row.goal is None else f"{row.goal} {'✓' if row.met else '✗'}"
        lines.append(f"| {row.figure} {row.name} | {row.formatted_value()} | {goal} | "
                     f"{row.note} | `{commands[row.figure]}` |")
    return "\n".join(lines)


def write_json(rows: Sequence[Row], commands: dict[str, str], settings: dict,
               path: str | Path) -> None:
    """Every row with its details, the command of its figure and the run's settings."""
    document = dict(settings=settings, rows=[
        {**asdict(row), "goal": None if row.goal is None else str(row.goal), "met": row.met,
         "command": commands[row.figure]} for row in rows])
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")
