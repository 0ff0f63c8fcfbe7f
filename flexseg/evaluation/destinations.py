"""One destination per choice for metrics that write files.

Several choices evaluated in one pass each get their own copy of the configured metrics; a
metric that writes files would have every copy write to the same place, the last choice
overwriting the others. Each copy is pointed at its own destination instead:

- a file prefix (mmdet ``CocoMetric(outfile_prefix='out/coco')``): ``out/coco_<id>``, so its
  files are ``out/coco_<id>.bbox.json`` and so on;
- a results file (``DumpResults``/``DumpDetResults``, ``tools/test.py --out r.pkl``):
  ``r_<id>.pkl``;
- an output directory (mmseg ``IoUMetric(output_dir=...)``, ``--out DIR``): ``DIR/<id>/``.
"""
from __future__ import annotations

from pathlib import Path

from mmengine.evaluator import Evaluator


def _suffixed_file(path: str, choice_id: str) -> str:
    path = Path(path)
    return str(path.with_name(f"{path.stem}_{choice_id}{path.suffix}"))


def give_each_choice_its_destination(evaluator: Evaluator, choice_id: str) -> None:
    """Point every file-writing metric of ``evaluator`` (one choice's copy) at its own place."""
    for metric in evaluator.metrics:
        if getattr(metric, "outfile_prefix", None):
            metric.outfile_prefix = f"{metric.outfile_prefix}_{choice_id}"
            Path(metric.outfile_prefix).parent.mkdir(parents=True, exist_ok=True)
        if getattr(metric, "out_file_path", None):
            metric.out_file_path = _suffixed_file(metric.out_file_path, choice_id)
        if getattr(metric, "output_dir", None):
            metric.output_dir = str(Path(metric.output_dir) / choice_id)
            Path(metric.output_dir).mkdir(parents=True, exist_ok=True)
