"""Performance figures, each measured beside its reference in one process
(``tools/benchmark.py``): one module per figure, a ``run(settings) -> rows`` function each.
They measure this repository's configs and data, so they live beside it, not in the installed
``flexseg`` package.

Shared pieces: ``settings`` (what a run is told), ``timing`` (interleaved rounds), ``fresh``
(a measurement in a process of its own), ``models`` (config models, batches, stock-ViT twins),
``report`` (rows, goals, the Markdown table and JSON).
"""
from .data import digitseg_root
from .figures import FIGURES, Figure, select_figures
from .report import Goal, Row, to_markdown, write_json
from .settings import Settings

__all__ = ["FIGURES", "Figure", "Goal", "Row", "Settings", "digitseg_root", "select_figures",
           "to_markdown", "write_json"]
