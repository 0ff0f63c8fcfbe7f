"""Pictures of predictions: the input, the ground truth and one prediction per evaluated choice,
side by side and labelled, so a user sees what a cheaper budget loses.

Works on mmseg/mmdet data samples of every task flexseg trains: depth (``pred_depth_map``,
colour-mapped on one scale shared by the ground truth and every prediction of the picture, so
colours compare; pixels without ground truth are black), semantic segmentation
(``pred_sem_seg``, class colours over the image) and detection (``pred_instances``: masks and
boxes above a score threshold).
"""
from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

MIN_PANEL_HEIGHT = 192  # small images (DigitSeg: 64 px) are enlarged so labels stay readable
LABEL_HEIGHT = 22
GAP = 4
DEPTH_COLORMAP = cv2.COLORMAP_TURBO
OVERLAY_ALPHA = 0.5


def _array(data) -> np.ndarray:
    """A tensor, BitmapMasks or array as a NumPy array."""
    if hasattr(data, "to_ndarray"):
        return data.to_ndarray()
    if hasattr(data, "detach"):
        return data.detach().cpu().numpy()
    return np.asarray(data)


def depth_picture(depth: np.ndarray, max_depth: float, valid: np.ndarray | None = None
                  ) -> np.ndarray:
    """RGB picture of a depth map on the fixed scale [0, ``max_depth``] (near blue, far red);
    pixels outside ``valid`` black."""
    scaled = np.clip(depth / max(max_depth, 1e-6), 0.0, 1.0)
    bgr = cv2.applyColorMap(np.round(scaled * 255).astype(np.uint8), DEPTH_COLORMAP)
    rgb = bgr[..., ::-1].copy()
    if valid is not None:
        rgb[~valid] = 0
    return rgb


def label_picture(image: np.ndarray, labels: np.ndarray, palette: Sequence[Sequence[int]],
                  ignore_index: int = 255) -> np.ndarray:
    """Class colours blended over the image; ignored pixels keep the image."""
    colours = np.asarray(palette, dtype=np.float32)
    known = (labels != ignore_index) & (labels < len(colours))
    out = image.astype(np.float32)
    out[known] = (1 - OVERLAY_ALPHA) * out[known] + OVERLAY_ALPHA * colours[labels[known]]
    return out.round().astype(np.uint8)


def instances_picture(image: np.ndarray, instances, palette: Sequence[Sequence[int]],
                      score_thr: float = 0.3) -> np.ndarray:
    """Masks (if any) and boxes of the instances scoring at least ``score_thr``."""
    out = image.copy()
    labels = _array(instances.labels).astype(int)
    keep = (_array(instances.scores) >= score_thr if "scores" in instances
            else np.ones(len(labels), bool))
    colours = [tuple(int(c) for c in palette[label % len(palette)]) for label in labels]
    if "masks" in instances:
        for mask, colour, kept in zip(_array(instances.masks).astype(bool), colours, keep):
            if kept:
                out[mask] = ((1 - OVERLAY_ALPHA) * out[mask]
                             + OVERLAY_ALPHA * np.asarray(colour)).astype(np.uint8)
    for box, colour, kept in zip(_array(instances.bboxes), colours, keep):
        if kept:
            x1, y1, x2, y2 = (int(round(v)) for v in box)
            cv2.rectangle(out, (x1, y1), (x2, y2), colour, 1)
    return out


def _depth_scale(samples: Sequence) -> float:
    """The largest depth among the ground truth and the predictions of one picture."""
    maps = [_array(s.pred_depth_map.data) for s in samples]
    if "gt_depth_map" in samples[0]:
        maps.append(_array(samples[0].gt_depth_map.data))
    return float(max(m.max() for m in maps))


def _render(sample, field: str, image: np.ndarray, meta: dict, depth_scale: float,
            score_thr: float) -> np.ndarray:
    """``sample.<field>`` (``gt_``/``pred_`` + map or instances) drawn for its task."""
    data = sample.get(field)
    if field.endswith("depth_map"):
        depth = _array(data.data).squeeze(0)
        valid = depth > 0 if field.startswith("gt_") else None
        return depth_picture(depth, depth_scale, valid)
    if field.endswith("sem_seg"):
        return label_picture(image, _array(data.data).squeeze(0).astype(int),
                             meta.get("palette") or _grey_palette(meta))
    return instances_picture(image, data, meta.get("palette") or _grey_palette(meta), score_thr)


def _grey_palette(meta: dict) -> list[tuple[int, int, int]]:
    count = max(1, len(meta.get("classes", ())))
    return [(int(v), int(v), int(v)) for v in np.linspace(40, 255, count)]


def task_fields(sample) -> tuple[str, str]:
    """(ground-truth field, prediction field) of a data sample's task."""
    for gt_field, pred_field in (("gt_depth_map", "pred_depth_map"),
                                 ("gt_sem_seg", "pred_sem_seg"),
                                 ("gt_instances", "pred_instances")):
        if pred_field in sample:
            return gt_field, pred_field
    raise ValueError(f"cannot draw a data sample holding {', '.join(sample.keys())}: it has "
                     "no pred_depth_map, pred_sem_seg or pred_instances")


def _labelled(picture: np.ndarray, label: str, height: int) -> np.ndarray:
    """``picture`` scaled to ``height`` under a white strip holding ``label``."""
    width = max(1, round(picture.shape[1] * height / picture.shape[0]))
    interpolation = cv2.INTER_NEAREST if height > picture.shape[0] else cv2.INTER_AREA
    body = cv2.resize(picture, (width, height), interpolation=interpolation)
    strip = np.full((LABEL_HEIGHT, width, 3), 255, np.uint8)
    cv2.putText(strip, label, (3, LABEL_HEIGHT - 7), cv2.FONT_HERSHEY_SIMPLEX, 0.42,
                (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([strip, body], axis=0)


def side_by_side(panels: Sequence[tuple[str, np.ndarray]]) -> np.ndarray:
    """Labelled RGB panels in a row, at one height (at least ``MIN_PANEL_HEIGHT``)."""
    height = max(MIN_PANEL_HEIGHT, max(p.shape[0] for _, p in panels))
    row = []
    for label, picture in panels:
        row += [_labelled(picture, label, height),
                np.full((height + LABEL_HEIGHT, GAP, 3), 255, np.uint8)]
    return np.concatenate(row[:-1], axis=1)


def comparison_picture(image: np.ndarray, predictions: Sequence[tuple[str, object]],
                       meta: dict, score_thr: float = 0.3) -> np.ndarray:
    """Input, ground truth (when the samples hold it) and each labelled prediction of one
    image; ``predictions`` pairs a label with the data sample predicted under it."""
    samples = [sample for _, sample in predictions]
    gt_field, pred_field = task_fields(samples[0])
    scale = _depth_scale(samples) if pred_field == "pred_depth_map" else 0.0
    panels = [("input", image)]
    if gt_field in samples[0]:
        panels.append(("ground truth",
                       _render(samples[0], gt_field, image, meta, scale, score_thr)))
    panels += [(label, _render(sample, pred_field, image, meta, scale, score_thr))
               for label, sample in predictions]
    return side_by_side(panels)
