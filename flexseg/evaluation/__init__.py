"""Multi-budget evaluation: one pass, one metric set per choice, tables, plot and selection.

Importing this package registers ``MultiBudgetValLoop`` and ``MultiBudgetTestLoop`` in mmengine's
root loop registry, so mmseg- and mmdet-scoped configs both find them.
"""
from .loops import MultiBudgetTestLoop, MultiBudgetValLoop
from .pareto import pareto_front
from .reference import ReferencePoint, load_reference_points
from .report import to_csv, to_markdown, write_reports
from .results import ChoiceResult, MultiBudgetResults, load_results
from .selection import Selection, parse_budgets, parse_choices, select_choices

__all__ = [
    "ChoiceResult", "MultiBudgetResults", "MultiBudgetTestLoop", "MultiBudgetValLoop",
    "ReferencePoint", "Selection", "load_reference_points", "load_results", "pareto_front",
    "parse_budgets", "parse_choices", "select_choices", "to_csv", "to_markdown",
    "write_reports",
]
