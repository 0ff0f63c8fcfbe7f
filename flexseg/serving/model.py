"""What the server needs of a model: its choices as measured (latency, metric, GFLOPs), a way to
turn an image into an input, and a way to run a prepared input at a choice.

``ServedModel`` is that contract; ``InferencerModel`` fulfils it with ``FlexInferencer`` and a
latency profile, and the tests fulfil it with fakes of known timing, so the controller, the
worker and the HTTP layer are tested without a network in the loop.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, Sequence

import cv2
import numpy as np

from flexseg.deploy.latency import LatencyProfile

from .controller import Option


@dataclass(frozen=True)
class ServedChoice:
    """One choice as measured: latency per call of one image, its metric (None: unmeasured)."""

    id: str
    gflops: float
    median_ms: float
    p95_ms: float
    metric: float | None = None


class ServedModel(Protocol):
    """A model with several choices behind the server (module docstring)."""

    choices: Sequence[ServedChoice]  # cheapest first
    metric_name: str | None
    higher_is_better: bool
    input_hw: tuple[int, int]
    palette: Sequence[Sequence[int]]  # RGB per class

    def prepare(self, image: np.ndarray) -> object:
        """An HxWx3 BGR uint8 image as the input ``run`` takes."""

    def run(self, prepared: object, choice: str) -> np.ndarray:
        """The label map (H, W) of one prepared image at ``choice``, at ``input_hw``."""


def default_slo_ms(choices: Sequence[ServedChoice], margin_ms: float) -> float:
    """The deadline of requests that give none: twice the slowest choice's p95, plus the
    margin (an idle server answers with any choice, a queue of one still fits)."""
    return 2 * max(choice.p95_ms for choice in choices) + margin_ms


def test_images(cfg) -> Path | None:
    """The folder of the config's test images, if it exists (samples for the web page)."""
    dataset = cfg.test_dataloader.dataset
    folder = Path(dataset.get("data_root", "")) / (dataset.get("data_prefix") or {}).get(
        "img_path", "")
    return folder if folder.is_dir() else None


def controller_options(model: ServedModel) -> list[Option]:
    """The choices as the controller ranks them: by metric (oriented so that higher is
    better) when every choice has one, else by GFLOPs (dearer is assumed better)."""
    measured = all(choice.metric is not None and math.isfinite(choice.metric)
                   for choice in model.choices)
    sign = 1.0 if model.higher_is_better else -1.0
    return [Option(choice.id, choice.p95_ms,
                   sign * choice.metric if measured else choice.gflops, choice.median_ms)
            for choice in model.choices]


def choices_from_profile(profile: LatencyProfile,
                         keep: Sequence[str] | None = None) -> list[ServedChoice]:
    """The profile's choices (cheapest first), or only those named in ``keep``."""
    if profile.batch != 1:
        raise ValueError(f"the latency profile was measured at batch {profile.batch}; the "
                         "server runs one image per call: profile with --batch 1")
    merged = profile.metric_values()
    values = merged[2] if merged else {}
    ids = profile.ids()
    unknown = [key for key in keep or () if key not in ids]
    if unknown:
        raise ValueError(f"unknown choice {', '.join(unknown)}; the profile has "
                         f"{', '.join(ids)}")
    return [ServedChoice(key, profile.choices[key].gflops, profile.choices[key].median_ms,
                         profile.choices[key].p95_ms, values.get(key))
            for key in ids if keep is None or key in keep]


class InferencerModel:
    """``FlexInferencer`` behind the ``ServedModel`` contract. Images are resized to the
    profile's shape (the size its latencies hold for) and run through the config's
    preprocessing; ``run`` is the inferencer's tensor path (``run_pinned``)."""

    def __init__(self, inferencer, profile: LatencyProfile,
                 keep: Sequence[str] | None = None) -> None:
        self.inferencer = inferencer
        self.choices = choices_from_profile(profile, keep)
        merged = profile.metric_values()
        self.metric_name = merged[0] if merged else None
        self.higher_is_better = merged[1] if merged else True
        self.input_hw = (int(profile.shape[0]), int(profile.shape[1]))
        meta = inferencer.model.dataset_meta or {}
        self.classes = list(meta.get("classes") or [])
        self.palette = [list(map(int, color)) for color in meta.get("palette") or []]

    def prepare(self, image: np.ndarray) -> object:
        height, width = self.input_hw
        if image.shape[:2] != (height, width):
            image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
        return self.inferencer.preprocess_images([image])

    def run(self, prepared: object, choice: str) -> np.ndarray:
        logits = self.inferencer.run_pinned(prepared, choice)
        return logits.argmax(1)[0].to("cpu").numpy().astype(np.uint8)
