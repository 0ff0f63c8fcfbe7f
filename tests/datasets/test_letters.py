"""DigitSeg with letters: the letter bank, its split, labels, dataset classes and pretraining."""
import cv2
import numpy as np
import pytest
from mmengine.registry import DefaultScope
from mmdet.registry import DATASETS as MMDET_DATASETS
from mmseg.registry import DATASETS
from sklearn.datasets import load_digits

from flexseg.datasets import DigitSegParams, generate_digitseg, render_scene, split_sources
from flexseg.datasets.digitseg_coco import coco_categories
from flexseg.datasets.letter_glyphs import (LETTERS, SOURCE_SIZE, VARIANTS_PER_LETTER,
                                            render_letter)
from flexseg.datasets.metainfo import LETTER_SEG_CLASSES, LETTER_SEG_PALETTE
from flexseg.pretrain.data import DigitTagParams, DigitTags

NUM_DIGIT_SOURCES = len(load_digits().target)
LETTER_SET = DigitSegParams(image_size=48, digits_per_image=(2, 4), digit_size=(14, 24),
                            num_train=20, num_val=10, seed=5, letters=True)
PREFIX = dict(img_path="images/validation", seg_map_path="annotations/validation")


@pytest.fixture(scope="module")
def letter_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("letters") / "digitseg"
    generate_digitseg(root, LETTER_SET, coco=False)
    return root


def _dataset(kind, root):
    with DefaultScope.overwrite_default_scope("mmseg"):
        return DATASETS.build(dict(type=kind, data_root=str(root), data_prefix=PREFIX,
                                   pipeline=[dict(type="LoadImageFromFile"),
                                             dict(type="LoadAnnotations")]))


def test_letter_styles_are_deterministic_distinct_and_on_the_digits_scale():
    first = render_letter(4, 0)
    assert first.shape == (SOURCE_SIZE, SOURCE_SIZE) and first.dtype == np.float32
    np.testing.assert_array_equal(first, render_letter(4, 0))
    styles = np.stack([render_letter(4, v) for v in range(VARIANTS_PER_LETTER)])
    assert styles.min() >= 0.0 and 12.0 < styles.max() <= 16.0
    flat = styles.reshape(len(styles), -1)
    distances = np.abs(flat[:, None] - flat[None]).sum(-1)
    assert (distances + np.eye(len(styles)) * 1e9).min() > 1.0  # no two styles alike


def test_letters_leave_the_digits_split_alone_and_every_class_in_both_pools():
    digits_only = split_sources(0, 0.2)
    with_letters = split_sources(0, 0.2, letters=True)
    for split, pool in with_letters.items():
        np.testing.assert_array_equal(pool[pool < NUM_DIGIT_SOURCES], digits_only[split])
        letter_classes = (pool[pool >= NUM_DIGIT_SOURCES] - NUM_DIGIT_SOURCES) // \
            VARIANTS_PER_LETTER
        assert set(letter_classes.tolist()) == set(range(len(LETTERS)))
    assert not set(with_letters["training"]) & set(with_letters["validation"])
    assert len(with_letters["training"]) + len(with_letters["validation"]) == \
        NUM_DIGIT_SOURCES + len(LETTERS) * VARIANTS_PER_LETTER


def test_letter_labels_follow_the_letter_images():
    """A pasted letter's label is 11 + its index, and its pixels are where the independently
    upscaled letter image exceeds the glyph threshold (unless a later glyph covers them)."""
    pool = split_sources(LETTER_SET.seed, LETTER_SET.val_source_fraction, True)["training"]
    letters_seen = 0
    for index in range(12):
        scene = render_scene(LETTER_SET, "training", index, pool)
        owner = np.full(scene.label.shape, -1)
        for k, glyph in enumerate(scene.digits):
            if glyph.source < NUM_DIGIT_SOURCES:
                image = load_digits().images[glyph.source].astype(np.float32)
                assert glyph.label == load_digits().target[glyph.source]
            else:
                letter, variant = divmod(glyph.source - NUM_DIGIT_SOURCES, VARIANTS_PER_LETTER)
                image = render_letter(letter, variant)
                assert glyph.label == 10 + letter
                letters_seen += 1
            big = cv2.resize(image, (glyph.size, glyph.size), interpolation=cv2.INTER_LINEAR)
            owner[glyph.y:glyph.y + glyph.size, glyph.x:glyph.x + glyph.size][big > 8.0] = k
        classes = np.array([g.label + 1 for g in scene.digits])
        np.testing.assert_array_equal(scene.label, np.where(owner >= 0, classes[owner], 0))
    assert letters_seen >= 10


def test_letter_sets_load_only_with_the_letters_dataset(letter_root, small_set):
    dataset = _dataset("DigitSegLettersDataset", letter_root)
    assert dataset.metainfo["classes"] == LETTER_SEG_CLASSES
    assert len(LETTER_SEG_CLASSES) == len(LETTER_SEG_PALETTE) == 37
    assert len({tuple(c) for c in LETTER_SEG_PALETTE}) == 37
    seen = set()
    for index in range(len(dataset)):
        seen |= set(np.unique(dataset[index]["gt_seg_map"]).tolist())
    assert max(seen) > 10 and seen <= set(range(37))
    with pytest.raises(ValueError, match="with letter classes; load it with "
                                         "type='DigitSegLettersDataset'"):
        _dataset("DigitSegDataset", letter_root)
    with pytest.raises(ValueError, match="without letter classes; load it with "
                                         "type='DigitSegDataset'"):
        _dataset("DigitSegLettersDataset", small_set.root)


def test_coco_dataset_refuses_a_letter_set_rather_than_drop_its_letters(tmp_path):
    root = tmp_path / "digitseg"
    generate_digitseg(root, DigitSegParams(image_size=32, digit_size=(12, 20), num_train=2,
                                           num_val=1, letters=True), coco=True)
    with DefaultScope.overwrite_default_scope("mmdet"), pytest.raises(
            ValueError, match="generated with letter classes"):
        MMDET_DATASETS.build(dict(type="DigitSegCocoDataset", data_root=str(root),
                                  ann_file="coco/instances_train.json",
                                  data_prefix=dict(img="images/training/"), pipeline=[]))


def test_coco_categories_carry_the_label_numbers():
    assert [c["id"] for c in coco_categories()] == list(range(1, 11))
    categories = coco_categories(letters=True)
    assert [c["name"] for c in categories] == list(LETTER_SEG_CLASSES[1:])
    assert [c["id"] for c in categories] == list(range(1, 37))


def test_pretraining_tags_cover_the_letters_too():
    params = DigitTagParams(scene=dict(image_size=32, digits_per_image=(2, 3),
                                       digit_size=(10, 16), seed=1, letters=True))
    tags = DigitTags(params)
    _, targets, labels = tags.render("training", range(8))
    assert targets.shape == (8, 36)
    for target, label in zip(targets, labels):
        visible = sorted(set(label.unique().tolist()) - {0})
        assert np.flatnonzero(target.numpy()).tolist() == [v - 1 for v in visible]
    assert labels.max() > 10


def test_letters_must_be_a_flag():
    with pytest.raises(ValueError, match="letters must be True or False"):
        DigitSegParams(letters=3)
