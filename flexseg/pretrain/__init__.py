"""Pretraining in miniature: the image-level task, model, loop and weight files that stand in
for ImageNet pretraining (FlexiViT, DeiT-III anchors) on the embedded data."""
from .data import DigitTagParams, DigitTags, pretraining_pool
from .export import save_big_vision_npz, save_timm_state_dict, timm_to_big_vision
from .model import TaggingModel

__all__ = ["DigitTagParams", "DigitTags", "pretraining_pool", "TaggingModel",
           "save_timm_state_dict", "save_big_vision_npz", "timm_to_big_vision"]
