"""Write DigitSeg to disk and reuse an existing copy made with the same parameters.

Layout under ``root`` (ADE20K's): ``images/{training,validation}/*.jpg`` and
``annotations/{training,validation}/*.png`` (uint8 labels, 0 = background, d + 1 = digit d),
optionally ``coco/instances_{train,val}.json`` whose ``file_name`` is relative to
``images/{training,validation}/``, ``digits_{training,validation}.json`` (what was pasted where)
and ``meta.json``. The depth variant under ``nyu_root`` follows mmseg's NYUv2 layout:
``images/{train,test}/*.jpg`` and ``annotations/{train,test}/*.png`` (uint16 millimetres).

``meta.json`` is written last and a partial-marker file exists while writing, so an interrupted
run is never taken for a complete set.
"""
import contextlib
import fcntl
import json
import os
import shutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .digitseg_coco import coco_annotations, coco_document, coco_image
from .digitseg_params import DigitSegParams
from .digitseg_scene import SPLITS, Digit, render_scene, split_sources

GENERATOR_VERSION = 3
DEFAULT_ROOT = "data/digitseg"
META_FILE = "meta.json"
PARTIAL_MARKER = ".digitseg-partial"
JPEG_QUALITY = 95

SHORT_SPLIT = {"training": "train", "validation": "val"}
NYU_SPLIT = {"training": "train", "validation": "test"}
_ADE_MANAGED = ("images", "annotations", "coco", *(f"digits_{s}.json" for s in SPLITS))
_NYU_MANAGED = ("images", "annotations")

Progress = Callable[..., Iterable[int]]
"""tqdm-like wrapper, called as ``progress(range(n), total=n, desc=split)``."""


def image_stem(split: str, index: int) -> str:
    """File name without suffix of image ``index`` of ``split`` (shared by every layout)."""
    return f"digitseg_{SHORT_SPLIT[split]}_{index:06d}"


def coco_file(root: str | os.PathLike, split: str) -> Path:
    """Path of the COCO instances file of ``split``."""
    return Path(root) / "coco" / f"instances_{SHORT_SPLIT[split]}.json"


def read_meta(root: str | os.PathLike) -> dict[str, Any] | None:
    """The metadata of a COMPLETE DigitSeg folder, or None (absent, partial or foreign)."""
    root = Path(root)
    meta_path = root / META_FILE
    if (root / PARTIAL_MARKER).exists() or not meta_path.is_file():
        return None
    try:
        meta = json.loads(meta_path.read_text())
    except json.JSONDecodeError:
        return None
    return meta if isinstance(meta, dict) and meta.get("dataset") == "DigitSeg" else None


def has_letters(root: str | os.PathLike) -> bool:
    """Whether the DigitSeg folder was generated with letter classes (``--letters``)."""
    meta = read_meta(root)
    return bool(meta and meta.get("params", {}).get("letters", False))


def check_generator_version(root: str | os.PathLike) -> None:
    """Refuse a DigitSeg folder made by another generator version than this checkout's: its
    images differ from the ones every documented figure was measured on. Folders without
    DigitSeg metadata (a user's own data) pass."""
    meta = read_meta(root)
    if meta is not None and meta.get("version") != GENERATOR_VERSION:
        raise ValueError(f"{root} was made by DigitSeg generator version {meta.get('version')}, "
                         f"this checkout's is {GENERATOR_VERSION}; regenerate it with: python "
                         f"tools/generate_digitseg.py --root {root}")


def read_digit_records(root: str | os.PathLike, split: str) -> dict[str, list[Digit]]:
    """Per image stem, the digits pasted on it in painting order (sources, boxes, colours)."""
    data = json.loads((Path(root) / f"digits_{split}.json").read_text())
    return {stem: [Digit(**{**d, "color": tuple(d["color"])}) for d in digits]
            for stem, digits in data.items()}


def _matches(root: str | os.PathLike, params: DigitSegParams, layout: str,
             need_coco: bool = False) -> bool:
    meta = read_meta(root)
    return (meta is not None and meta.get("version") == GENERATOR_VERSION
            and meta.get("layout") == layout and meta.get("params") == params.to_json()
            and (meta.get("coco", False) or not need_coco))


def ensure_digitseg(root: str | os.PathLike = DEFAULT_ROOT, *, coco: bool = True,
                    nyu_root: str | os.PathLike | None = None, force: bool = False,
                    progress: Progress | None = None, **params: Any) -> bool:
    """Generate DigitSeg unless a complete copy made with the same parameters exists.

    ``params`` are :class:`DigitSegParams` fields. Returns True if it (re)generated the data.
    """
    wanted = DigitSegParams(**params)
    with _one_writer(Path(root)):
        if not force and _matches(root, wanted, "ade20k", need_coco=coco) and (
                nyu_root is None or _matches(nyu_root, wanted, "nyu")):
            return False
        generate_digitseg(root, wanted, coco=coco, nyu_root=nyu_root, progress=progress)
        return True


@contextlib.contextmanager
def _one_writer(root: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``root`` (a file beside it): processes started together (two
    study jobs, ranks) wait for the first one's data instead of deleting it as it is written."""
    lock = root.parent / f".{root.name}.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def generate_digitseg(root: str | os.PathLike = DEFAULT_ROOT,
                      params: DigitSegParams | None = None, *, coco: bool = True,
                      nyu_root: str | os.PathLike | None = None,
                      progress: Progress | None = None) -> dict[str, Any]:
    """Generate DigitSeg (replacing an earlier copy) and return a summary of what was written."""
    params = params or DigitSegParams()
    root = Path(root)
    nyu = Path(nyu_root) if nyu_root is not None else None
    if nyu is not None and nyu.resolve() == root.resolve():
        raise ValueError(f"nyu_root must differ from root ({root}): their layouts collide")
    _prepare(root, _ADE_MANAGED)
    if nyu is not None:
        _prepare(nyu, _NYU_MANAGED)
    sources = split_sources(params.seed, params.val_source_fraction, params.letters)
    wrap = progress or (lambda iterable, **_: iterable)
    summary: dict[str, Any] = {"root": str(root), "images": {}, "coco": [], "nyu_root": None}
    for split in SPLITS:
        count = params.num_train if split == "training" else params.num_val
        summary["images"][split] = count
        _write_split(root, nyu, split, count, params, sources[split], coco,
                     wrap(range(count), total=count, desc=split))
        if coco:
            summary["coco"].append(str(coco_file(root, split)))
    meta = {"dataset": "DigitSeg", "version": GENERATOR_VERSION, "params": params.to_json()}
    if nyu is not None:
        _finish(nyu, {**meta, "layout": "nyu", "depth_unit": "mm", "rgb_root": str(root)})
        summary["nyu_root"] = str(nyu)
    _finish(root, {**meta, "layout": "ade20k", "coco": coco,
                   "source_indices": {s: v.tolist() for s, v in sources.items()}})
    return summary


def _write_split(root: Path, nyu: Path | None, split: str, count: int, params: DigitSegParams,
                 pool: np.ndarray, coco: bool, indices: Iterable[int]) -> None:
    """Render ``count`` scenes of ``split`` and write every requested layout of them."""
    img_dir, ann_dir = _make_dirs(root, "images", "annotations", split)
    if nyu is not None:
        nyu_img_dir, nyu_depth_dir = _make_dirs(nyu, "images", "annotations", NYU_SPLIT[split])
    records: dict[str, list[dict[str, Any]]] = {}
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    for index in indices:
        scene = render_scene(params, split, index, pool)
        stem = image_stem(split, index)
        jpeg = _encode(".jpg", np.ascontiguousarray(scene.image[..., ::-1]),
                       [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        (img_dir / f"{stem}.jpg").write_bytes(jpeg)
        (ann_dir / f"{stem}.png").write_bytes(_encode(".png", scene.label))
        records[stem] = [asdict(d) for d in scene.digits]
        if nyu is not None:
            (nyu_img_dir / f"{stem}.jpg").write_bytes(jpeg)
            (nyu_depth_dir / f"{stem}.png").write_bytes(_encode(".png", scene.depth_mm()))
        if coco:
            images.append(coco_image(index + 1, f"{stem}.jpg", scene))
            annotations += coco_annotations(scene, index + 1, len(annotations) + 1)
    (root / f"digits_{split}.json").write_text(json.dumps(records))
    if coco:
        path = coco_file(root, split)
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(coco_document(images, annotations, f"DigitSeg {split}",
                                                   params.letters)))


def _make_dirs(root: Path, img: str, ann: str, split: str) -> tuple[Path, Path]:
    dirs = (root / img / split, root / ann / split)
    for d in dirs:
        d.mkdir(parents=True, exist_ok=True)
    return dirs


def _encode(ext: str, array: np.ndarray, flags: list[int] | None = None) -> bytes:
    ok, buffer = cv2.imencode(ext, array, flags or [])
    if not ok:
        raise OSError(f"OpenCV could not encode a {array.dtype} {array.shape} array as {ext}")
    return buffer.tobytes()


def _prepare(root: Path, managed: Iterable[str]) -> None:
    """Mark ``root`` as being written and remove a previous generation's files from it.

    A non-empty folder that is neither a DigitSeg set nor an interrupted one is left alone:
    pointing the generator at real data by mistake must not delete it.
    """
    ours = (root / PARTIAL_MARKER).exists() or read_meta(root) is not None
    if root.exists() and any(root.iterdir()) and not ours:
        raise FileExistsError(f"{root} is not empty and is not a DigitSeg folder; refusing to "
                              "overwrite it (choose another root or empty it)")
    root.mkdir(parents=True, exist_ok=True)
    (root / PARTIAL_MARKER).touch()
    (root / META_FILE).unlink(missing_ok=True)
    for name in managed:
        path = root / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()


def _finish(root: Path, meta: dict[str, Any]) -> None:
    """Write ``meta.json`` atomically, then drop the partial marker: the set is complete."""
    tmp = root / f"{META_FILE}.tmp"
    tmp.write_text(json.dumps(meta, indent=1))
    os.replace(tmp, root / META_FILE)
    (root / PARTIAL_MARKER).unlink()
