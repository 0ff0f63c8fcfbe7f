"""Samples whose files cannot be read: one line naming the file, or skipped and counted.

mmcv and PIL report a truncated or empty file as ``image file is truncated`` or a failed
assertion, without its name, deep inside a data-loader worker. The tools route mmengine's
``BaseDataset.prepare_data`` through ``_prepare_data`` (``handle_unreadable_samples``): when
loading a sample fails and one of its files is missing or does not decode, the error names that
file. With ``skip_unreadable_samples = True`` in the config:

- a training dataset skips such a sample (mmengine then draws another, as for samples its
  pipeline rejects) with a warning counting the files skipped so far by that process;
- the multi-budget evaluation loops drop unreadable samples before the pass
  (``readable_subset``) and log how many, so metrics never silently cover fewer images; mmengine's
  own evaluation loops still stop with the error.

The same wrapper stops on a sample whose annotation does not match its image in size or holds
labels outside the classes and the ignore index (``sample_checks``), in one line naming the file.

Works in data-loader workers started by ``fork`` (the configs' ``mp_start_method``).
"""
from __future__ import annotations

import logging
import os

from mmengine.dataset import BaseDataset
from mmengine.logging import print_log
from PIL import Image

from .sample_checks import (CHECK_HINT, IMAGE_SUFFIXES, BrokenSampleError, label_problems,
                            size_mismatches)

CONFIG_KEY = "skip_unreadable_samples"
ORIGINAL_PREPARE_DATA = BaseDataset.prepare_data


class UnreadableSampleError(ValueError):
    """A sample's image or annotation file is missing, truncated or not an image."""


class _Settings:
    skip = False
    skipped: set[str] = set()  # files skipped by this process


def _decodes(path: str) -> bool:
    try:
        with Image.open(path) as image:
            image.load()
    except Exception:  # PIL raises OSError, SyntaxError, ValueError, zlib errors ...
        return False
    return True


def unreadable_files(info: dict) -> list[str]:
    """``'image PATH (missing)'``-style descriptions of the sample's local image files (its
    ``*_path`` entries) that are missing or do not decode."""
    found = []
    for key, path in info.items():
        if (not key.endswith("_path") or not isinstance(path, str) or "://" in path
                or not path.lower().endswith(IMAGE_SUFFIXES)):
            continue
        kind = "image" if key == "img_path" else "annotation"
        if not os.path.isfile(path):
            found.append(f"{kind} {path} (missing)")
        elif not _decodes(path):
            found.append(f"{kind} {path} (truncated, empty or not an image)")
    return found


def _prepare_data(self: BaseDataset, idx: int):
    try:
        result = ORIGINAL_PREPARE_DATA(self, idx)
    except Exception:
        info = self.get_data_info(idx)
        files = unreadable_files(info)
        if not files:
            _raise_if_broken(size_mismatches(info))
            raise
    else:
        if result is not None:
            _raise_if_broken(size_mismatches(self.get_data_info(idx))
                             + label_problems(self, result))
        return result
    if _Settings.skip and not self.test_mode:
        _Settings.skipped.update(files)
        print_log(f"skipping a training sample: cannot read {'; '.join(files)} "
                  f"({len(_Settings.skipped)} unreadable files skipped so far by process "
                  f"{os.getpid()})", logger="current", level=logging.WARNING)
        return None  # mmengine's dataset draws another sample
    raise UnreadableSampleError(f"cannot read {'; '.join(files)}; fix or remove it, or set "
                                f"{CONFIG_KEY}=True to skip such samples (in training and in "
                                "the multi-budget evaluation loops)") from None


def _raise_if_broken(problems: list[str]) -> None:
    if problems:
        raise BrokenSampleError(f"{'; '.join(problems)} ({CHECK_HINT})") from None


def handle_unreadable_samples(skip: bool) -> None:
    """Name unreadable files in loading errors; ``skip`` training samples that have one."""
    _Settings.skip = bool(skip)
    _Settings.skipped = set()
    BaseDataset.prepare_data = _prepare_data


def readable_subset(dataset: BaseDataset) -> list[str]:
    """Drop the samples with unreadable files from ``dataset`` in place; returns what each
    dropped sample could not read."""
    dataset.full_init()
    keep, dropped = [], []
    for index in range(len(dataset)):
        files = unreadable_files(dataset.get_data_info(index))
        if files:
            dropped.append("; ".join(files))
        else:
            keep.append(index)
    if dropped:
        dataset.get_subset_(keep)
    return dropped
