"""Reference points for the plot: separately trained baselines given as JSON or CSV.

JSON: a list of objects; CSV: a header row. Each row has ``name``, ``gflops`` and any metric
columns, e.g. ``{"name": "ViT-T/8 alone", "gflops": 1.9, "mIoU": 31.2}``.
"""
from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ReferencePoint:
    name: str
    gflops: float
    metrics: dict[str, float]


def _point(row: dict, where: str) -> ReferencePoint:
    if "name" not in row or "gflops" not in row:
        raise ValueError(f"{where} needs 'name' and 'gflops', got {', '.join(row)}")
    try:
        metrics = {key: float(value) for key, value in row.items()
                   if key not in ("name", "gflops") and value not in (None, "")}
        return ReferencePoint(str(row["name"]), float(row["gflops"]), metrics)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{where}: gflops and metrics must be numbers ({error})") from None


def load_reference_points(path: str | os.PathLike) -> list[ReferencePoint]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"reference points file not found: {path}")
    if path.suffix == ".csv":
        with open(path, newline="") as file:
            rows = list(csv.DictReader(file))
    elif path.suffix == ".json":
        rows = json.loads(path.read_text())
        if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
            raise ValueError(f"{path} must hold a list of objects with name, gflops, metrics")
    else:
        raise ValueError(f"reference points must be a .json or .csv file, got {path}")
    return [_point(row, f"{path} row {index + 1}") for index, row in enumerate(rows)]
