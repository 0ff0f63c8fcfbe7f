"""A detector needs an instance dataset and a segmentor a segmentation dataset.

Given the other kind, the runner fails late and deep (a missing annotation file or sample key
inside a loss); this check names the keys at fault before anything is built.
"""
from __future__ import annotations

from mmengine.config import Config

SPLITS = ("train_dataloader", "val_dataloader", "test_dataloader")


def _tasks() -> dict[str, tuple]:
    """Per task: its model and dataset registries, their base classes and an example dataset."""
    from mmdet.datasets import BaseDetDataset
    from mmdet.models.detectors import BaseDetector
    from mmdet.registry import DATASETS as DET_DATASETS
    from mmdet.registry import MODELS as DET_MODELS
    from mmseg.datasets import BaseSegDataset
    from mmseg.models.segmentors import BaseSegmentor
    from mmseg.registry import DATASETS as SEG_DATASETS
    from mmseg.registry import MODELS as SEG_MODELS

    return {
        "detection": (DET_MODELS, BaseDetector, DET_DATASETS, BaseDetDataset,
                      "an instance dataset with boxes and masks, e.g. DigitSegCocoDataset"),
        "segmentation": (SEG_MODELS, BaseSegmentor, SEG_DATASETS, BaseSegDataset,
                         "a segmentation dataset, e.g. DigitSegDataset"),
    }


def _task_of(type_name: object, kind: int) -> str | None:
    """The task whose registry (models: kind 0, datasets: kind 2) holds ``type_name`` as a
    subclass of that task's base class; None when no task claims it."""
    for task, entry in _tasks().items():
        registry, base = entry[kind], entry[kind + 1]
        cls = type_name if isinstance(type_name, type) else None
        if isinstance(type_name, str):
            try:
                cls = registry.get(type_name)
            except KeyError:  # a scope prefix that names no registry
                cls = None
        if cls is not None and issubclass(cls, base):
            return task
    return None


def check_dataset_task(cfg: Config) -> None:
    """Raise a one-line ValueError when a dataloader's dataset is of another task than the
    model (a detector given a segmentation dataset, or the reverse)."""
    model_task = _task_of(cfg.get("model", {}).get("type"), 0)
    if model_task is None:
        return
    for split in SPLITS:
        dataset = (cfg.get(split) or {}).get("dataset") or {}
        dataset_task = _task_of(dataset.get("type"), 2)
        if dataset_task is not None and dataset_task != model_task:
            raise ValueError(
                f"{split}.dataset.type {dataset.get('type')!r} is a {dataset_task} dataset but "
                f"model.type {cfg.model.type!r} is a {model_task} model; it needs "
                f"{_tasks()[model_task][4]}")
