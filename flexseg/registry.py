"""Register flexseg modules in both OpenMMLab registries.

A type is looked up in its own library's registry and its parents, never in a sibling's, so a
backbone used by MMSegmentation and MMDetection configs must be registered in both.
"""
from typing import TypeVar

from mmdet.registry import MODELS as MMDET_MODELS
from mmseg.registry import MODELS as MMSEG_MODELS

T = TypeVar("T", bound=type)


def register_model(cls: T) -> T:
    """Class decorator: register ``cls`` under its own name for mmseg and mmdet configs."""
    MMSEG_MODELS.register_module(module=cls)
    MMDET_MODELS.register_module(module=cls)
    return cls
