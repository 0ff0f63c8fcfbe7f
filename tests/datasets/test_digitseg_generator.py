"""DigitSeg generator: layout, determinism, disjoint handwriting, labels, idempotence."""
import json
import os
import runpy
import sys
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
from sklearn.datasets import load_digits

from flexseg.datasets import digitseg
from flexseg.datasets import (DigitSegParams, ensure_digitseg, generate_digitseg, image_stem,
                              read_digit_records, read_meta, render_scene, split_sources)
from flexseg.datasets.digitseg_scene import INK_LEVELS, PAPER_LEVELS

SPLIT_COUNTS = {"training": "num_train", "validation": "num_val"}
TOOL = Path(__file__).resolve().parents[2] / "tools" / "generate_digitseg.py"
TINY = dict(image_size=32, digit_size=(12, 20), num_train=3, num_val=2)


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_ade_layout_and_formats(small_set):
    root, params = small_set.root, small_set.params
    height, width = params.image_size
    meta = read_meta(root)
    assert meta is not None and meta["params"] == params.to_json()
    for split, count_field in SPLIT_COUNTS.items():
        count = getattr(params, count_field)
        images = sorted((root / "images" / split).iterdir())
        labels = sorted((root / "annotations" / split).iterdir())
        assert [p.name for p in images] == [f"{image_stem(split, i)}.jpg" for i in range(count)]
        assert [p.stem for p in labels] == [p.stem for p in images]
        for img_path, label_path in zip(images, labels):
            assert img_path.read_bytes()[:2] == b"\xff\xd8"  # JPEG
            assert label_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
            image = cv2.imread(str(img_path), cv2.IMREAD_UNCHANGED)
            label = cv2.imread(str(label_path), cv2.IMREAD_UNCHANGED)
            assert image.shape == (height, width, 3) and image.dtype == np.uint8
            assert label.shape == (height, width) and label.dtype == np.uint8


def test_same_seed_is_byte_identical_and_other_seed_differs(small_set, tmp_path):
    generate_digitseg(tmp_path / "again", small_set.params, coco=True)
    reference = _files(small_set.root)
    again = _files(tmp_path / "again")
    assert again.keys() == reference.keys()
    assert all(again[name] == reference[name] for name in reference)

    other = replace(small_set.params, seed=small_set.params.seed + 1)
    generate_digitseg(tmp_path / "other", other, coco=False)
    labels = [n for n in reference if n.startswith("annotations/")]
    changed = [n for n in labels if (tmp_path / "other" / n).read_bytes() != reference[n]]
    assert len(changed) == len(labels)
    assert read_meta(tmp_path / "other")["source_indices"] != read_meta(
        small_set.root)["source_indices"]


def test_source_pools_are_disjoint_and_cover_every_class(small_set):
    pools = {s: set(v) for s, v in read_meta(small_set.root)["source_indices"].items()}
    targets = load_digits().target
    assert not pools["training"] & pools["validation"]
    assert pools["training"] | pools["validation"] == set(range(len(targets)))
    for pool in pools.values():
        assert set(targets[sorted(pool)]) == set(range(10))
    share = len(pools["validation"]) / len(targets)
    assert abs(share - small_set.params.val_source_fraction) < 0.01


def test_records_draw_only_from_their_split_and_respect_params(small_set):
    params = small_set.params
    pools = read_meta(small_set.root)["source_indices"]
    targets = load_digits().target
    height, width = params.image_size
    for split in SPLIT_COUNTS:
        records = read_digit_records(small_set.root, split)
        stems = sorted(p.stem for p in (small_set.root / "images" / split).iterdir())
        assert sorted(records) == stems
        used = set()
        for digits in records.values():
            assert params.digits_per_image[0] <= len(digits) <= params.digits_per_image[1]
            for d in digits:
                assert d.label == targets[d.source]
                assert params.digit_size[0] <= d.size <= params.digit_size[1]
                assert 0 <= d.x <= width - d.size and 0 <= d.y <= height - d.size
                used.add(d.source)
        assert used <= set(pools[split])


def test_labels_and_images_show_the_recorded_digits(small_set, owner_map):
    """Label maps equal an independent repaint of the recorded glyphs, every visible digit's
    label is present, and the image shows each digit's ink in its recorded colour."""
    colour_checked = 0
    for split in SPLIT_COUNTS:
        for stem, digits in read_digit_records(small_set.root, split).items():
            label = cv2.imread(str(small_set.root / "annotations" / split / f"{stem}.png"),
                               cv2.IMREAD_UNCHANGED)
            image = cv2.imread(str(small_set.root / "images" / split / f"{stem}.jpg"))[..., ::-1]
            owner = owner_map(digits, label.shape)
            classes = np.array([d.label + 1 for d in digits])
            np.testing.assert_array_equal(label, np.where(owner >= 0, classes[owner], 0))
            assert label.max() <= 10
            assert (owner == len(digits) - 1).sum() > 0  # the last digit is never hidden
            for k, d in enumerate(digits):
                visible = owner == k
                if visible.any():
                    assert d.label + 1 in label[visible]
                # inner ink pixels: away from edges blurred by JPEG's chroma subsampling
                core = cv2.erode(visible.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
                if core.sum() >= 10:
                    ink = np.median(image[core].astype(float), axis=0)
                    assert np.abs(ink - d.color).max() < 60, (stem, k)
                    colour_checked += 1
    assert colour_checked > 20


def test_digits_are_dark_ink_on_light_paper():
    """Every digit's colour is darker, in every channel, than any paper colour, and the rendered
    background (noise included) stays far above the ink on average."""
    pool = split_sources(0, 0.2)["training"]
    for index in range(20):
        scene = render_scene(DigitSegParams(seed=3), "training", index, pool)
        assert all(max(d.color) < INK_LEVELS[1] <= PAPER_LEVELS[0] for d in scene.digits)
        paper = scene.image[scene.label == 0].astype(float)
        assert paper.min(axis=1).mean() > PAPER_LEVELS[0] - 10
        ink = scene.image[scene.label > 0].astype(float)
        assert ink.max(axis=1).mean() < paper.min(axis=1).mean() - 40


def test_ensure_reuses_regenerates_and_detects_interruption(tmp_path):
    root = tmp_path / "ds"
    assert ensure_digitseg(root, coco=False, **TINY) is True
    stamp = (root / "meta.json").stat().st_mtime_ns
    assert ensure_digitseg(root, coco=False, **TINY) is False
    assert (root / "meta.json").stat().st_mtime_ns == stamp

    assert ensure_digitseg(root, coco=True, **TINY) is True  # COCO was missing
    assert ensure_digitseg(root, coco=False, **TINY) is False  # a superset is fine

    assert ensure_digitseg(root, coco=False, nyu_root=tmp_path / "nyu", **TINY) is True
    assert ensure_digitseg(root, coco=False, nyu_root=tmp_path / "nyu", **TINY) is False

    assert ensure_digitseg(root, coco=False, **{**TINY, "num_val": 1}) is True
    assert len(list((root / "images" / "validation").iterdir())) == 1  # stale files removed
    assert not (root / "coco").exists()

    (root / ".digitseg-partial").touch()  # as left by an interrupted run
    assert read_meta(root) is None
    assert ensure_digitseg(root, coco=False, **{**TINY, "num_val": 1}) is True
    assert read_meta(root) is not None

    assert ensure_digitseg(root, coco=False, force=True, **{**TINY, "num_val": 1}) is True


def _ensure_in_a_child(root: Path, started: Path | None) -> int:
    """Fork a process that runs ``ensure_digitseg`` (first touching ``started`` and pausing a
    second inside the generation, if given); its exit status says what it returned."""
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        if started is not None:
            write_split = digitseg._write_split

            def slow_write_split(*args, **kwargs):
                started.touch()
                time.sleep(1.0)
                return write_split(*args, **kwargs)

            digitseg._write_split = slow_write_split
        code = 10 if ensure_digitseg(root, coco=True, **TINY) else 11
    finally:
        os._exit(code)


def test_processes_started_together_generate_once(tmp_path):
    """The second waits for the first's data instead of deleting it as it is written."""
    root, started = tmp_path / "ds", tmp_path / "started"
    first = _ensure_in_a_child(root, started)
    deadline = time.monotonic() + 60
    while not started.exists():
        assert os.waitpid(first, os.WNOHANG) == (0, 0), "the first process ended before writing"
        assert time.monotonic() < deadline, "the first process never started writing"
        time.sleep(0.01)
    second = _ensure_in_a_child(root, None)
    codes = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in (first, second)]
    assert codes == [10, 11]  # generated, then found up to date
    assert read_meta(root)["params"]["num_train"] == TINY["num_train"]
    assert len(list((root / "images" / "training").iterdir())) == TINY["num_train"]


def test_refuses_to_overwrite_a_foreign_folder(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "keep.jpg").write_bytes(b"x")
    with pytest.raises(FileExistsError, match=str(tmp_path)):
        ensure_digitseg(tmp_path, **TINY)
    assert (tmp_path / "images" / "keep.jpg").read_bytes() == b"x"


@pytest.mark.parametrize("bad", [dict(digit_size=(10, 40), image_size=32),
                                 dict(digits_per_image=(2, 1)), dict(val_source_fraction=1.0),
                                 dict(image_size=(1, 2, 3)), dict(clutter_opacity=1.5)])
def test_invalid_params_raise(bad):
    with pytest.raises(ValueError):
        DigitSegParams(**bad)


def test_cli_writes_then_reports_up_to_date(tmp_path, monkeypatch, capsys):
    root = tmp_path / "cli"
    argv = [str(TOOL), "--root", str(root), "--num-train", "3", "--num-val", "2",
            "--image-size", "32", "40", "--digit-size", "12", "20", "--no-coco",
            "--nyu-root", str(tmp_path / "nyu")]
    monkeypatch.setattr(sys, "argv", argv)
    runpy.run_path(str(TOOL), run_name="__main__")
    assert "wrote 3 training and 2 validation images" in capsys.readouterr().out
    meta = json.loads((root / "meta.json").read_text())
    assert meta["params"]["image_size"] == [32, 40] and meta["coco"] is False
    assert len(list((tmp_path / "nyu" / "annotations" / "test").iterdir())) == 2
    runpy.run_path(str(TOOL), run_name="__main__")
    assert "up to date" in capsys.readouterr().out


def test_clutter_is_blended_linearly_and_never_touches_labels():
    """Background clutter scales with its opacity; digits, their places and labels do not move."""
    pool = split_sources(0, 0.2)["training"]
    scenes = {o: render_scene(DigitSegParams(seed=5, clutter_opacity=o), "training", 1, pool)
              for o in (0.0, 0.2, 1.0)}
    places = {o: [(d.source, d.x, d.y, d.size) for d in s.digits] for o, s in scenes.items()}
    assert places[0.0] == places[0.2] == places[1.0]
    for scene in scenes.values():
        np.testing.assert_array_equal(scene.label, scenes[0.0].label)
    background = scenes[0.0].label == 0
    full = scenes[1.0].image.astype(float) - scenes[0.0].image
    faint = scenes[0.2].image.astype(float) - scenes[0.0].image
    assert np.abs(full[background]).mean() > 1.0  # visible: grey levels change
    ratio = np.abs(faint[background]).sum() / np.abs(full[background]).sum()
    assert 0.15 < ratio < 0.25
