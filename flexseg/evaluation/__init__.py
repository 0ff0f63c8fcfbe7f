"""Multi-budget evaluation: one pass, one metric set per choice, tables, plot and selection.

Importing this package registers ``MultiBudgetValLoop`` and ``MultiBudgetTestLoop`` in mmengine's
root loop registry and ``BudgetVisualizationHook`` in its root hook registry, so mmseg- and
mmdet-scoped configs both find them, and ``FlexDepthMetric`` in mmseg's metric registry.
"""
from .depth_metric import FlexDepthMetric
from .loops import MultiBudgetTestLoop, MultiBudgetValLoop
from .pareto import pareto_front
from .reference import ReferencePoint, load_reference_points
from .report import to_csv, to_markdown, write_reports
from .results import ChoiceResult, MultiBudgetResults, load_results
from .selection import Selection, parse_budgets, parse_choices, select_choices
from .visualization_hook import BudgetVisualizationHook

__all__ = [
    "BudgetVisualizationHook", "ChoiceResult", "FlexDepthMetric", "MultiBudgetResults",
    "MultiBudgetTestLoop", "MultiBudgetValLoop", "ReferencePoint", "Selection",
    "load_reference_points", "load_results", "pareto_front", "parse_budgets", "parse_choices",
    "select_choices", "to_csv", "to_markdown", "write_reports",
]
