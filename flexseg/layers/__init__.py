"""Plain PyTorch building blocks of flexible ViTs (no OpenMMLab imports)."""
from .attention import Attention, explicit_attention
from .block import Block, ParallelBlock
from .drop_path import DropPath
from .eval_cache import EvalCache
from .flops import (BlockShape, attention_flops, block_flops, blocks_flops, hmlp_stem_flops,
                    importance_flops, linear_patch_embed_flops, mlp_flops, vit_flops,
                    windowed_block_flops)
from .grid import (fit_to_patch_grid, maps_at_stride, resample_to_stride, stride_grid_size,
                   to_2tuple, token_grid_size)
from .hmlp import HMLPStem
from .layer_scale import LayerScale
from .mlp import Mlp
from .norm import LayerNorm2d
from .patch_embed import FlexiPatchEmbed
from .pi_resize import bilinear_resize, bilinear_resize_matrix, pi_resize_kernel
from .pos_embed import resample_pos_embed
from .precision import float32_island
from .size import Size2d
from .token_keep import (KEEP_SCORES, KeptTokens, check_keep_options, check_keep_rule,
                         keep_count)
from .window import check_window_options

__all__ = [
    "KEEP_SCORES", "Attention", "BlockShape", "Block", "DropPath", "EvalCache", "FlexiPatchEmbed",
    "HMLPStem", "KeptTokens", "LayerNorm2d", "LayerScale", "Mlp", "ParallelBlock", "Size2d",
    "attention_flops", "bilinear_resize", "bilinear_resize_matrix", "block_flops", "blocks_flops",
    "check_keep_options", "check_keep_rule", "check_window_options", "explicit_attention",
    "fit_to_patch_grid", "float32_island", "hmlp_stem_flops", "importance_flops", "keep_count",
    "linear_patch_embed_flops", "maps_at_stride", "mlp_flops", "pi_resize_kernel",
    "resample_pos_embed", "resample_to_stride", "stride_grid_size", "to_2tuple", "token_grid_size",
    "vit_flops", "windowed_block_flops",
]
