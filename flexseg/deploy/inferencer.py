"""Run a trained flexible model on images at a budget chosen per call.

``FlexInferencer(config, checkpoint)`` is MMSegmentation's ``MMSegInferencer`` (segmentors and
depth estimators) or MMDetection's ``DetInferencer`` (detectors) with a budget: called as
``inferencer(image, budget='p8')``, ``gflops=0.3`` or ``latency_ms=20`` (with a latency
profile), it returns the usual predictions and visualisation plus the ``choice`` used.

The stock inferencers call ``model.test_step(data)`` and drop extra forward arguments, so the
choice travels as a forward keyword of this class (``forward_kwargs``) and is activated on the
backbone (``FlexibleBackbone.activate``) right before the batch runs, under a lock, so threads
sharing one inferencer never run a batch under another call's choice. Switching costs an
attribute assignment: whatever a choice derives from the weights (PI-resized kernels, position
embeddings, merged stitching maps) is cached per choice, and derived once for every choice at
the config's image size when the inferencer is built (``warmup``), so every call, switched or
not, computes exactly what a model pinned to that choice computes.
"""
from __future__ import annotations

import os
import threading
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from mmdet.apis import DetInferencer
from mmengine.config import Config
from mmengine.registry import DATASETS
from mmseg.apis import MMSegInferencer

from flexseg.budget.space import build_budget_space, default_image_hw
from flexseg.compat import allow_mmengine_checkpoints
from flexseg.compat.checkpoint_fit import check_checkpoint_fits
from flexseg.evaluation.export.dense_forward import DenseForward
from flexseg.models.contract import find_flexible

from .choose import check_profile_matches, pick_by_gflops, pick_by_latency, profile_ranking
from .latency import LatencyProfile

# Transforms of a test pipeline that read ground truth, which images given to an inferencer
# do not have (MMSegInferencer drops mmseg's own two; flexseg's depth loader too).
ANNOTATION_LOADERS = ("LoadAnnotations", "LoadDepthAnnotation", "LoadDepthMap")


def _load_config(config: str | os.PathLike | Config) -> Config:
    if isinstance(config, Config):
        return config
    if not Path(config).is_file():
        raise FileNotFoundError(f"config file not found: {config}")
    return Config.fromfile(str(config))


def _config_metainfo(cfg: Config) -> dict | None:
    """Classes and palette of the config's test dataset (for checkpoints saved without
    them), or None."""
    dataset = (cfg.get("test_dataloader") or {}).get("dataset") or {}
    name = dataset.get("type")
    if not isinstance(name, str):
        return None
    scoped = name if "." in name else f"{cfg.get('default_scope', 'mmseg')}.{name}"
    meta = dict(getattr(DATASETS.get(scoped), "METAINFO", None) or {})
    meta.update(dataset.get("metainfo") or {})
    return meta or None


class FlexInferencer:
    """``FlexInferencer(config, checkpoint=None, device='cpu', profile=None)``: a
    ``FlexSegInferencer`` or ``FlexDetInferencer`` by the config's scope (module docstring).

    Args:
        config: config file or ``Config`` of a model with a flexible backbone.
        checkpoint: its weights (refused in one line if they do not fit the model).
        device: where the model runs.
        profile: a ``LatencyProfile`` (or its JSON path) from ``tools/profile_latency.py``;
            needed for ``latency_ms``; its merged metric, if any, ranks the choices under a
            cap (else the most expensive that fits is taken). A profile measured elsewhere
            warns, naming each difference.
        warmup: derive every choice's weights now (else on each choice's first call).
        show_progress: the stock progress bar per call.
        **kwargs: passed to the stock inferencer (e.g. ``classes``, ``palette``).

    Attributes: ``space`` (``BudgetSpace``: the choices by GFLOPs at the config's image
    size), ``choice_ids``, ``gflops`` (id -> GFLOPs per image), ``profile``.
    """

    def __new__(cls, config, *args, **kwargs):
        if cls is FlexInferencer:
            detection = _load_config(config).get("default_scope") == "mmdet"
            cls = FlexDetInferencer if detection else FlexSegInferencer
        return super().__new__(cls)

    def __init__(self, config: str | os.PathLike | Config,
                 checkpoint: str | os.PathLike | None = None, device: str = "cpu",
                 profile: LatencyProfile | str | os.PathLike | None = None,
                 warmup: bool = True, show_progress: bool = False, **kwargs) -> None:
        cfg = _load_config(config)
        if checkpoint is not None and not Path(checkpoint).is_file():
            raise FileNotFoundError(f"checkpoint not found: {checkpoint}")
        allow_mmengine_checkpoints()
        self._checkpoint_path = checkpoint
        self._lock = threading.Lock()
        self._dense: DenseForward | None = None
        super().__init__(cfg, None if checkpoint is None else str(checkpoint), device=device,
                         **kwargs)
        self.show_progress = show_progress
        self.device = device
        self.backbone = find_flexible(self.model)
        self.space = build_budget_space(self.model, default_image_hw(self.cfg))
        self.choice_ids = self.space.ids()
        self.gflops = {entry.id: entry.gflops for entry in self.space}
        self.profile = self._check_profile(profile)
        self._ranking = profile_ranking(self.profile, self.space)
        if warmup:
            self.warmup(self.space.image_hw)

    # ----------------------------------------------------------------- set-up
    def _check_profile(self, profile) -> LatencyProfile | None:
        if profile is None:
            return None
        if not isinstance(profile, LatencyProfile):
            profile = LatencyProfile.load(profile)
        check_profile_matches(profile, self.space)
        for difference in profile.check_fingerprint("torch", torch.get_num_threads(),
                                                    self.device):
            warnings.warn(f"the latency profile was measured elsewhere ({difference}); its "
                          "latencies may not hold here", stacklevel=3)
        return profile

    def _load_weights_to_model(self, model, checkpoint: dict | None, cfg) -> None:
        """Refuse weights of another model in one line (the stock loader only warns), and
        take class names from the config when the checkpoint has none."""
        if checkpoint is not None:
            check_checkpoint_fits(model, self._checkpoint_path)
            meta = checkpoint.setdefault("meta", {})
            if "dataset_meta" not in meta and "CLASSES" not in meta:
                dataset_meta = _config_metainfo(cfg)
                if dataset_meta is not None:
                    meta["dataset_meta"] = dataset_meta
        super()._load_weights_to_model(model, checkpoint, cfg)

    def warmup(self, image_hw: Sequence[int]) -> None:
        """Run the backbone once per choice on an ``image_hw`` image, so that what each
        choice derives from the weights at that size is ready before the first call."""
        image = torch.zeros(1, 3, *image_hw, device=self.device)
        with self._lock, torch.no_grad():
            original = self.backbone.active_choice
            for entry in self.space:
                self.backbone.activate(entry.choice)
                self.backbone(image)
            self.backbone.activate(original)

    # ----------------------------------------------------------------- choosing
    def select(self, budget: str | None = None, gflops: float | None = None,
               latency_ms: float | None = None) -> str:
        """The choice id for a budget: ``budget`` (an id), ``gflops`` (a cap per image at the
        config's size) or ``latency_ms`` (a cap per call, from the profile); at most one
        (none: the most expensive choice). Bad budgets raise ValueError in one line."""
        given = [name for name, value in
                 (("budget", budget), ("gflops", gflops), ("latency_ms", latency_ms))
                 if value is not None]
        if len(given) > 1:
            raise ValueError(f"give one of budget, gflops and latency_ms, not "
                             f"{' and '.join(given)}")
        if budget is not None:
            return self.space.get(str(budget)).id
        if gflops is not None:
            return pick_by_gflops(self.space, gflops, self._ranking)
        if latency_ms is not None:
            if self.profile is None:
                raise ValueError("latency_ms needs a latency profile: FlexInferencer(..., "
                                 "profile='PROFILE.json'), written by tools/profile_latency.py")
            return pick_by_latency(self.space, self.profile, latency_ms, ranking=self._ranking)
        return self.space[-1].id

    # ----------------------------------------------------------------- running
    def __call__(self, inputs, budget: str | None = None, gflops: float | None = None,
                 latency_ms: float | None = None, **kwargs):
        """The stock inferencer's call at the selected choice; a dict result gets the key
        ``choice``, data samples the metainfo ``choice``."""
        choice = self.select(budget, gflops, latency_ms)
        results = super().__call__(inputs, choice=choice, **kwargs)
        if isinstance(results, dict):
            results["choice"] = choice
        return results

    @torch.no_grad()
    def forward(self, inputs, choice: str | None = None, **kwargs):
        """``model.test_step`` with ``choice`` active (the stock forward drops it)."""
        choice = choice or self.space[-1].id
        with self._lock:
            self.backbone.activate(choice)
            predictions = super().forward(inputs, **kwargs)
        for prediction in predictions:
            prediction.set_metainfo(dict(choice=choice))
        return predictions

    def preprocess_images(self, images: Sequence[str | np.ndarray]) -> torch.Tensor:
        """Images (paths or HxWx3 arrays as loaded, BGR) through the config's test pipeline
        and the model's data preprocessor: the batch ``run_pinned`` takes (all images of one
        size)."""
        data = self.collate_fn([self.pipeline(image) for image in self._inputs_to_list(images)])
        return self.model.data_preprocessor(data, False)["inputs"]

    def run_pinned(self, batch_inputs: torch.Tensor, choice_id: str) -> torch.Tensor:
        """Per-pixel outputs of a preprocessed batch at ``choice_id``: segmentation logits
        (N, classes, H, W) (``argmax(1)`` is the label map) or depth (N, 1, H, W); exactly what
        an exported graph of that choice computes (``DenseForward``)."""
        choice = self.select(budget=choice_id)
        if self._dense is None:
            self._dense = DenseForward(self.model)  # detectors: TypeError in one line
        with self._lock, torch.no_grad():
            self.backbone.activate(choice)
            return self._dense(batch_inputs.to(self.device))


class FlexSegInferencer(FlexInferencer, MMSegInferencer):
    """``MMSegInferencer`` with a budget per call: segmentors and depth estimators."""

    forward_kwargs = MMSegInferencer.forward_kwargs | {"choice"}

    def _init_pipeline(self, cfg):
        pipeline = [step for step in cfg.test_dataloader.dataset.pipeline
                    if step["type"] not in ANNOTATION_LOADERS]
        cfg.test_dataloader.dataset.pipeline = pipeline
        return super()._init_pipeline(cfg)


class FlexDetInferencer(FlexInferencer, DetInferencer):
    """``DetInferencer`` with a budget per call: detectors (``run_pinned`` does not apply)."""

    forward_kwargs = DetInferencer.forward_kwargs | {"choice"}
