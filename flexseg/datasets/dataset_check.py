"""Scan the splits of a config before a long run: unreadable files, maps whose size differs from
their image, labels outside the classes and the ignore index, empty splits; and count how often
each class occurs (``tools/check_dataset.py``).

Labels are read as training reads them: by mmseg's ``LoadAnnotations``, which applies the
dataset's ``reduce_zero_label`` and label map. Detection datasets report instances per category
instead of pixels.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from .sample_checks import describe_labels, out_of_range_labels, size_mismatches
from .unreadable import unreadable_files

SPLITS = (("train", "train_dataloader"), ("val", "val_dataloader"), ("test", "test_dataloader"))


@dataclass
class SplitReport:
    """What scanning one dataset found. ``counts[c]``: labelled pixels (segmentation) or
    instances (detection) of class ``c``; ``images[c]``: samples holding class ``c``."""

    name: str
    description: str
    samples: int = 0
    problems: list[str] = field(default_factory=list)
    classes: tuple[str, ...] = ()
    unit: str = ""
    counts: np.ndarray | None = None
    images: np.ndarray | None = None


def configured_splits(cfg: Any, wanted: tuple[str, ...] = ("train", "val", "test")
                      ) -> list[tuple[str, dict]]:
    """(names, dataset config) of the config's dataloaders, one entry per distinct dataset
    (``val/test`` when the test split is the validation split)."""
    found: list[tuple[list[str], dict]] = []
    for name, key in SPLITS:
        loader = cfg.get(key)
        if name not in wanted or not loader:
            continue
        dataset = loader["dataset"]
        for names, seen in found:
            if seen == dataset:
                names.append(name)
                break
        else:
            found.append(([name], dataset))
    return [("/".join(names), dataset) for names, dataset in found]


def _label_loader() -> Callable[[dict], np.ndarray]:
    from mmseg.datasets.transforms import LoadAnnotations

    load = LoadAnnotations()

    def labels(info: dict) -> np.ndarray:
        load.reduce_zero_label = None  # each sample's own setting, as the dataset gives it
        return load({**info, "seg_fields": []})["gt_seg_map"]

    return labels


def _segmentation_counts(report: SplitReport, info: dict, labels: np.ndarray,
                         ignore_index: int) -> None:
    bad = out_of_range_labels(labels, len(report.classes), ignore_index)
    if bad:
        report.problems.append(f"{report.name}: " + describe_labels(
            info["seg_map_path"], bad, len(report.classes), ignore_index))
    valid = labels[labels < len(report.classes)]
    counts = np.bincount(valid.ravel(), minlength=len(report.classes))
    report.counts += counts
    report.images += counts > 0


def _detection_counts(report: SplitReport, info: dict) -> None:
    labels = [i["bbox_label"] for i in info.get("instances", []) if not i.get("ignore_flag", 0)]
    counts = np.bincount(np.asarray(labels, dtype=np.int64),
                         minlength=len(report.classes))[:len(report.classes)]
    report.counts += counts
    report.images += counts > 0


def scan_dataset(name: str, dataset: Any, progress: bool = True) -> SplitReport:
    """Check every sample of a built dataset (module doc); problems name the file."""
    classes = tuple((dataset.metainfo or {}).get("classes") or ())
    report = SplitReport(name, f"{type(dataset).__name__}, {getattr(dataset, 'data_root', '')}",
                         classes=classes)
    report.samples = len(dataset)
    if report.samples == 0:
        report.problems.append(f"{name}: the split is empty ({report.description})")
        return report
    ignore_index = getattr(dataset, "ignore_index", 255)
    labels_of = None
    if classes:
        report.counts = np.zeros(len(classes), dtype=np.int64)
        report.images = np.zeros(len(classes), dtype=np.int64)
    step = max(200, report.samples // 10)
    for index in range(report.samples):
        info = dataset.get_data_info(index)
        unreadable = unreadable_files(info)
        report.problems += [f"{name}: cannot read {what}" for what in unreadable]
        report.problems += [f"{name}: {what}" for what in size_mismatches(info)]
        if not unreadable and classes:
            if info.get("seg_map_path"):
                labels_of = labels_of or _label_loader()
                report.unit = "pixels"
                _segmentation_counts(report, info, labels_of(info), ignore_index)
            elif "instances" in info:
                report.unit = "instances"
                _detection_counts(report, info)
        if progress and (index + 1) % step == 0:
            print(f"{name}: {index + 1}/{report.samples} samples checked", file=sys.stderr,
                  flush=True)
    return report


def frequency_table(report: SplitReport) -> str:
    """Markdown table: class, count, share of all counted, samples holding it."""
    if report.counts is None or not report.unit:
        return ""
    total = max(int(report.counts.sum()), 1)
    lines = [f"| class | {report.unit} | % | samples |", "|---|---|---|---|"]
    for name, count, images in zip(report.classes, report.counts, report.images):
        lines.append(f"| {name} | {int(count)} | {100 * count / total:.2f} | {int(images)} |")
    return "\n".join(lines)
