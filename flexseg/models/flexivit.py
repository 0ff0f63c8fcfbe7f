"""FlexiViT: one ViT that runs at any patch size from a set, for dense prediction.

Strides and sizes, for an H x W input and active patch size p = (p_h, p_w):

- The image is fitted to the patch grid (``fit='pad'``: zero-padded bottom/right, grid
  ``ceil(H/p_h) x ceil(W/p_w)``; ``fit='crop'``: remainder dropped, grid ``floor(..)``).
- The transformer runs on that token grid (stride p).
- ``forward`` returns one map per ``out_indices`` entry, each ``embed_dim`` channels at the
  fixed stride ``out_stride`` (size ``ceil(H/s) x ceil(W/s)``) whatever p is; cell (i, j)
  covers pixels ``[i s, (i+1) s) x [j s, (j+1) s)`` (see ``layers.grid.resample_to_stride``).
  ``forward_intermediates`` gives the raw token-grid maps (stride p) instead.

Prefix tokens (class token, optional register tokens) take part in attention but never in the
output maps. Position embeddings cover only the patch grid (they are stored on
``pos_embed_grid`` and resampled bilinearly); a checkpoint whose position embedding also covers
prefix tokens has those entries folded into the tokens, which is equivalent.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Hashable, Iterator, Sequence

import torch
import torch.nn as nn
from mmengine.logging import print_log
from mmengine.model import BaseModule

from flexseg.layers import (Block, EvalCache, FlexiPatchEmbed, HMLPStem, KeptTokens,
                            ParallelBlock, check_keep_options, check_keep_rule,
                            check_window_options, fit_to_patch_grid, maps_at_stride,
                            pi_resize_kernel, resample_pos_embed, to_2tuple, vit_flops)
from flexseg.layers.checks import check_int, check_list, check_number, check_size
from flexseg.layers.grid import (FIT_MODES, check_resize_mode, effective_patch, resample_flops,
                                 resize_input, scaled_size, stride_grid_size, token_grid_size,
                                 token_map)
from flexseg.layers.size import Size2d
from flexseg.models.checkpoint import StateDict, load_pretrained
from flexseg.models.contract import (Choice, FlexibleBackbone, check_resolutions, format_ids,
                                    with_keep_rate)
from flexseg.models.prefix_tree import (KEEP_OP, PassState, TreeStats, block_step,
                                        keep_block_ops, keep_step, run_ops,
                                        shared_prefix_outputs)
from flexseg.registry import register_model

PAPER_PATCH_SIZES = (8, 10, 12, 15, 16, 20, 24, 30, 40, 48)


@dataclass(frozen=True)
class PatchChoice(Choice):
    """Run the backbone at patch size ``patch_hw`` on the input resized to ``resolution`` of
    its size, keeping ``keep_rate`` of the tokens at each keep point; id ``p16`` or ``p12x16``
    (height x width), ``p16-r0.75`` at another resolution, ``p16-k0.7`` with keeping."""

    patch_hw: Size2d
    keep_rate: float = 1.0
    resolution: float = 1.0

    @property
    def id(self) -> str:
        height, width = self.patch_hw
        return with_keep_rate(f"p{height}" if height == width else f"p{height}x{width}",
                              self.keep_rate, self.resolution)


def _check_sizes(**settings) -> None:
    """The numeric constructor arguments, each with the values it may take."""
    for name in ("in_chans", "embed_dim", "depth", "num_heads", "num_parallel"):
        check_int(name, settings[name], 1)
    check_int("num_reg_tokens", settings["num_reg_tokens"], 0)
    if settings["embed_dim"] % settings["num_heads"]:
        raise ValueError(f"embed_dim {settings['embed_dim']} must be divisible by num_heads "
                         f"{settings['num_heads']}")
    check_number("mlp_ratio", settings["mlp_ratio"], positive=True)
    check_number("drop_path_rate", settings["drop_path_rate"], 0, 0.99)
    for name in ("img_size", "patch_size", "hmlp_patch_size"):
        check_size(name, settings[name])
    if settings["pos_embed_grid"] is not None:
        check_size("pos_embed_grid", settings["pos_embed_grid"])
    if settings["out_stride"] is not None:
        check_int("out_stride", settings["out_stride"], 1)


def _sorted_sizes(sizes: Sequence[int | Size2d]) -> list[Size2d]:
    return sorted(dict.fromkeys(to_2tuple(s) for s in sizes), key=lambda hw: (hw[0] * hw[1], hw))


@register_model
class FlexiViT(FlexibleBackbone, BaseModule):
    """Flexible-patch-size ViT backbone (FlexiViT) for MMSegmentation and MMDetection.

    Args:
        img_size: nominal training image size; bounds the default patch sizes and the default
            position-embedding grid. Inputs of any size are accepted.
        patch_size: size at which the linear patch-embedding kernel is stored (FlexiViT: 32);
            every other size uses its PI-resized version (linear stem only).
        patch_sizes: the sizes the backbone may run at (its ``space()``). Default: the FlexiViT
            paper's {8, 10, 12, 15, 16, 20, 24, 30, 40, 48} that
            fit in ``img_size``. Rectangular sizes are (height, width) pairs.
        pos_embed_grid: grid the position embedding is stored on (FlexiViT: 7x7). Default:
            ``img_size // native patch size``.
        layer_scale_init: initial layer-scale value; None disables layer scale.
        num_parallel: attention (and MLP) branches per block; 1 is the usual sequential block.
        stem: 'linear' (PI-resized conv) or 'hmlp' (hierarchical MLP; every patch mapped to
            the stem's native size, ``layers.hmlp``).
        hmlp_norm: norm of the hMLP stem, 'bn' or 'ln'.
        hmlp_patch_size: the hMLP stem's native patch size (multiple of 4 per side; paper: 16).
        fit: 'pad' or 'crop' for inputs that are not a whole number of patches (module doc).
        out_indices: blocks whose outputs are returned (negative values count from the end);
            blocks after the last one are not run, and their parameters are frozen.
        out_stride: stride of every returned map, whatever the patch size; None returns the
            token grid at its own stride (the patch size), so necks and heads cost less at
            larger patches.
        final_norm: apply the final norm to the last block's output map. Otherwise ``norm``
            serves only ``forward_features``/``forward_intermediates`` and is frozen.
        frozen: freeze all backbone parameters and keep it in eval mode.
        attn_only: train only the attention weights (qkv, proj) and the position embedding
            (attention-only fine-tuning); whatever follows the backbone is unaffected.
        keep_points: blocks after which only the most important patch tokens go on (token
            keeping, ``layers.token_keep``); dropped tokens return, with the value they had,
            in every output map.
        keep_rates: fractions kept at each keep point; the space is every patch size times
            every resolution times every rate (ids ``p16``, ``p16-k0.7``).
        resolutions: input resolutions, as fractions of the input size: the backbone resizes
            its input (bilinear, ``layers.grid.resize_input``) before the patch embedding, and
            its maps still line up with the original image (ids ``p16-r0.75``).
        resize_mode: how the input is resized: 'antialias' (bilinear, anti-aliased when
            shrinking) or 'align_corners' (SuperViT's bilinear resize, corners aligned).
        keep_score: token importance, 'cls' (class-token attention) or 'received'.
        keep_site: where a keep point prunes: 'attention' (inside the block, between its
            attention and MLP, SuperViT) or 'block' (after the whole block).
        keep_base: what a rate counts: 'tokens' (``ceil(r (n + prefix))`` patch tokens stay,
            SuperViT) or 'patches' (``ceil(r n)``).
        window_size: windowed attention (ViTDet) within squares of this many tokens in every
            block but ``global_indices``, at every patch size (``layers.window``: padding
            masked, prefix tokens shared). None: every block global.
        global_indices: blocks that keep global attention when ``window_size`` is set. Token
            keeping then drops tokens from global blocks only, and keep points must be global.
        with_cp: activation checkpointing of every block in training (memory for compute).
        init_cfg: ``dict(type='Pretrained', checkpoint=PATH[, prefix=..., strict=False])``
            loads timm/DeiT/FlexiViT PyTorch files or big_vision .npz files (see
            ``checkpoint_filter``); other mmengine init configs behave as usual.
    """

    def __init__(self, img_size: int | Size2d = 240, patch_size: int | Size2d = 32,
                 patch_sizes: Sequence[int | Size2d] | None = None, in_chans: int = 3,
                 embed_dim: int = 768, depth: int = 12, num_heads: int = 12,
                 mlp_ratio: float = 4.0, qkv_bias: bool = True, class_token: bool = True,
                 num_reg_tokens: int = 0, pos_embed_grid: int | Size2d | None = None,
                 drop_path_rate: float = 0.0, layer_scale_init: float | None = None,
                 num_parallel: int = 1, stem: str = "linear", hmlp_norm: str = "bn",
                 hmlp_patch_size: int | Size2d = 16,
                 fit: str = "pad", out_indices: Sequence[int] = (-1,),
                 out_stride: int | None = 16,
                 final_norm: bool = False, frozen: bool = False, attn_only: bool = False,
                 keep_points: Sequence[int] = (), keep_rates: Sequence[float] = (1.0,),
                 keep_score: str = "cls", keep_site: str = "attention",
                 keep_base: str = "tokens", resolutions: Sequence[float] = (1.0,),
                 resize_mode: str = "antialias", window_size: int | None = None,
                 global_indices: Sequence[int] = (), with_cp: bool = False,
                 init_cfg: dict | list | None = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if stem not in ("linear", "hmlp"):
            raise ValueError(f"stem must be 'linear' or 'hmlp', got {stem!r}")
        if fit not in FIT_MODES:
            raise ValueError(f"fit must be one of {FIT_MODES}, got {fit!r}")
        _check_sizes(img_size=img_size, patch_size=patch_size, in_chans=in_chans,
                     embed_dim=embed_dim, depth=depth, num_heads=num_heads,
                     mlp_ratio=mlp_ratio, num_reg_tokens=num_reg_tokens,
                     pos_embed_grid=pos_embed_grid, drop_path_rate=drop_path_rate,
                     num_parallel=num_parallel, out_stride=out_stride,
                     hmlp_patch_size=hmlp_patch_size)
        img_size = to_2tuple(img_size)
        self.stem = stem
        self.fit = fit
        self.in_chans = in_chans
        self.embed_dim = embed_dim
        self.depth = depth
        self.mlp_hidden_dim = int(embed_dim * mlp_ratio)
        self.num_parallel = num_parallel
        self.out_stride = out_stride
        self.final_norm = final_norm
        self.frozen = frozen
        self.attn_only = attn_only
        self.out_indices = self._resolve_indices(out_indices)
        self.keep_points, keep_rates = check_keep_options(keep_points, keep_rates, depth,
                                                          keep_score, class_token)
        self.keep_score = keep_score
        check_keep_rule(keep_site, keep_base)
        self.keep_site, self.keep_base = keep_site, keep_base
        self.window_size, self.global_indices = check_window_options(
            window_size, global_indices, depth, self.keep_points)
        self.with_cp = with_cp
        self.resize_mode = check_resize_mode(resize_mode)
        self._space = self._build_space(patch_sizes, img_size, check_resolutions(resolutions),
                                        keep_rates)

        if stem == "linear":
            self.patch_embed = FlexiPatchEmbed(to_2tuple(patch_size), in_chans, embed_dim)
        else:
            self.patch_embed = HMLPStem(in_chans, embed_dim, hmlp_norm,
                                        to_2tuple(hmlp_patch_size))
        native = self.patch_embed.patch_size
        self.pos_embed_grid = (to_2tuple(pos_embed_grid) if pos_embed_grid is not None else
                               (max(1, img_size[0] // native[0]), max(1, img_size[1] // native[1])))
        self.pos_embed = nn.Parameter(
            torch.zeros(1, self.pos_embed_grid[0] * self.pos_embed_grid[1], embed_dim))
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim)) if class_token else None
        self.reg_token = (nn.Parameter(torch.zeros(1, num_reg_tokens, embed_dim))
                          if num_reg_tokens else None)
        self.num_prefix_tokens = int(class_token) + num_reg_tokens
        self._pos_cache = EvalCache()
        self.register_load_state_dict_post_hook(lambda module, _: module._pos_cache.clear())

        rates = torch.linspace(0, drop_path_rate, depth).tolist()
        windows = [None if index in self.global_indices else self.window_size
                   for index in range(depth)]
        if num_parallel == 1:
            blocks = [Block(embed_dim, num_heads, self.mlp_hidden_dim, qkv_bias, rate,
                            layer_scale_init, window) for rate, window in zip(rates, windows)]
        else:
            blocks = [ParallelBlock(embed_dim, num_heads, self.mlp_hidden_dim, num_parallel,
                                    qkv_bias, rate, layer_scale_init, window)
                      for rate, window in zip(rates, windows)]
        self.blocks = nn.ModuleList(blocks)
        self.norm = nn.LayerNorm(embed_dim, eps=1e-6)

        self._init_parameters()
        self._freeze()
        reference = out_stride or self.patch_embed.patch_size[0]
        self._active = min(self._space, key=lambda c: abs(c.patch_hw[0] * c.patch_hw[1]
                                                          - reference ** 2))

    # ----------------------------------------------------------------- configuration
    def _resolve_indices(self, indices: Sequence[int]) -> list[int]:
        allowed = f"block indices from {-self.depth} to {self.depth - 1}"
        indices = check_list("out_indices", indices, allowed)
        for index in indices:
            check_int("out_indices entries", index, -self.depth, self.depth - 1)
        if not indices:
            raise ValueError(f"out_indices must name at least one block ({allowed})")
        return [index % self.depth for index in indices]

    def _build_space(self, patch_sizes: Sequence[int | Size2d] | None, img_size: Size2d,
                     resolutions: Sequence[float],
                     keep_rates: Sequence[float]) -> list[PatchChoice]:
        if patch_sizes is None:
            patch_sizes = [s for s in PAPER_PATCH_SIZES if s <= min(img_size)]
            if not patch_sizes:
                defaults = ", ".join(map(str, PAPER_PATCH_SIZES))
                raise ValueError(f"no default patch size ({defaults}) "
                                 f"fits img_size {img_size}; set patch_sizes")
        what = "patch sizes (integers >= 1 or (H, W) pairs)"
        for size in check_list("patch_sizes", patch_sizes, what):
            check_size("patch_sizes entries", size)
        sizes = _sorted_sizes(patch_sizes)
        if not sizes:
            raise ValueError(f"patch_sizes must be a non-empty list of {what}")
        return [PatchChoice(size, rate, resolution) for size in sizes
                for resolution in resolutions for rate in keep_rates]

    def _init_parameters(self) -> None:
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        for token in (self.cls_token, self.reg_token):
            if token is not None:
                nn.init.normal_(token, std=1e-6)
        for module in self.blocks.modules():
            if isinstance(module, nn.Linear):
                nn.init.trunc_normal_(module.weight, std=0.02)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)

    def _used_by_forward(self, name: str) -> bool:
        """Whether the dense ``forward`` uses a parameter (not: the final norm unless
        ``final_norm`` reaches it, blocks after the last out index)."""
        run_depth = max(self.out_indices) + 1
        if name.startswith("norm."):
            return self.final_norm and run_depth == self.depth
        if name.startswith("blocks."):
            return int(name.split(".")[1]) < run_depth
        return True

    def _freeze(self) -> None:
        """Set ``requires_grad``: parameters ``forward`` never uses are frozen too, so every
        trainable parameter gets a gradient (DDP needs no ``find_unused_parameters``)."""
        for name, param in self.named_parameters():
            trainable = not self.frozen and self._used_by_forward(name)
            if self.attn_only:
                trainable = trainable and (".attn." in name or name == "pos_embed")
            param.requires_grad_(trainable)

    def train(self, mode: bool = True) -> FlexiViT:
        """Frozen backbones stay in eval mode; attn-only keeps the stem's norms in eval."""
        self._pos_cache.clear()
        super().train(mode and not self.frozen)
        if mode and self.attn_only:
            self.patch_embed.eval()
        return self

    # ----------------------------------------------------------------- contract
    def space(self) -> list[Choice]:
        return list(self._space)

    def activate(self, choice: Choice | str) -> None:
        self._active = self.choice(choice)

    @property
    def active_choice(self) -> PatchChoice:
        return self._active

    def flops(self, choice: Choice | str, image_hw: tuple[int, int]) -> int:
        """Multiply-adds of ``forward`` for one image (conventions: ``layers.flops``)."""
        choice = self.choice(choice)
        image_hw = tuple(image_hw)
        input_hw = scaled_size(image_hw, choice.resolution)
        grid_hw = token_grid_size(input_hw, choice.patch_hw, self.fit)
        out_hw = stride_grid_size(image_hw, self.out_stride or 1)
        maps = len(self.out_indices) * resample_flops(
            self.embed_dim, grid_hw, effective_patch(choice.patch_hw, image_hw, choice.resolution),
            self.out_stride, out_hw)
        return maps + vit_flops(input_hw, choice.patch_hw,
                         embed_dim=self.embed_dim, depth=max(self.out_indices) + 1,
                         mlp_hidden_dim=self.mlp_hidden_dim, in_chans=self.in_chans,
                         num_prefix_tokens=self.num_prefix_tokens,
                         num_parallel=self.num_parallel, stem=self.stem, fit=self.fit,
                         keep_points=self.keep_points, keep_rate=choice.keep_rate,
                         keep_score=self.keep_score, keep_site=self.keep_site,
                         keep_base=self.keep_base, window_size=self.window_size,
                         global_indices=self.global_indices,
                         hmlp_patch=self.patch_embed.patch_size)

    def output_signature(self, choice: Choice | str) -> Hashable:
        """Every choice gives maps of the same width at the fixed ``out_stride``; without one,
        the maps' stride is the choice's patch size at its resolution."""
        choice = self.choice(choice)
        stride = self.out_stride or (choice.patch_hw, choice.resolution)
        return (self.embed_dim, stride, tuple(self.out_indices))

    # ----------------------------------------------------------------- forward
    def _check_fits(self, image_hw: Size2d, patch_hw: Size2d) -> None:
        if patch_hw[0] > image_hw[0] or patch_hw[1] > image_hw[1]:
            fitting = [c for c in self._space
                       if c.patch_hw[0] <= image_hw[0] and c.patch_hw[1] <= image_hw[1]]
            raise ValueError(f"patch size {PatchChoice(patch_hw).id} is larger than the "
                             f"{image_hw[0]}x{image_hw[1]} input; sizes that fit: "
                             f"{format_ids(fitting) or 'none'}")

    def pos_embed_for(self, grid_hw: Size2d) -> torch.Tensor:
        """Position embeddings (1, grid_h*grid_w, D) for a token grid; cached when possible."""
        if grid_hw == self.pos_embed_grid:
            return self.pos_embed
        return self._pos_cache.get(
            grid_hw, [self.pos_embed],
            lambda: resample_pos_embed(self.pos_embed, self.pos_embed_grid, grid_hw))

    def embed(self, x: torch.Tensor,
              patch_hw: Size2d | None = None) -> tuple[torch.Tensor, Size2d]:
        """Image -> tokens (prefix tokens first) and the token grid size, at ``patch_hw``
        (default: the active choice's)."""
        patch_hw = patch_hw or self._active.patch_hw
        self._check_fits((x.shape[-2], x.shape[-1]), patch_hw)
        grid = self.patch_embed(fit_to_patch_grid(x, patch_hw, self.fit), patch_hw)
        grid_hw = (grid.shape[-2], grid.shape[-1])
        tokens = grid.flatten(2).transpose(1, 2) + self.pos_embed_for(grid_hw)
        prefix = [t.expand(x.shape[0], -1, -1) for t in (self.cls_token, self.reg_token)
                  if t is not None]
        if prefix:
            tokens = torch.cat(prefix + [tokens], dim=1)
        return tokens, grid_hw

    def _choice_ops(self, choice: PatchChoice, last: int) -> list[tuple]:
        """The choice as operations (``prefix_tree``): embed, blocks 0..last, keep steps."""
        ops: list[tuple] = [("embed", choice.patch_hw, choice.resolution)]
        for index in range(last + 1):
            ops += keep_block_ops(index, index in self.keep_points, choice.keep_rate,
                                  self.keep_site)
        return ops

    def _run_op(self, op: tuple, state: PassState | None, following: Sequence[tuple],
               x: torch.Tensor, levels: Sequence[int]) -> PassState:
        """One operation on a state, returning a new state; blocks in ``levels`` leave their
        output with every token restored to its grid position (token keeping only drops
        tokens from the blocks)."""
        if op[0] == "embed":
            tokens, grid_hw = self.embed(resize_input(x, op[2], self.resize_mode), op[1])
            return PassState(tokens, KeptTokens(self.num_prefix_tokens, self.keep_base), grid_hw,
                             {})
        if op[0] == KEEP_OP:
            return keep_step(state, op[1])
        part, index = op
        level = index if index in levels and part != "attn" else None
        return block_step(state, self.blocks[index], following, self.keep_score, level,
                          self.with_cp, part)

    def _encode(self, x: torch.Tensor, indices: Sequence[int],
                run_all: bool) -> tuple[dict[int, torch.Tensor], torch.Tensor, Size2d]:
        """Tokens after each block of ``indices`` and after the last block run, every token
        restored to its grid position."""
        last = self.depth - 1 if run_all else max(indices)
        state = run_ops(self._choice_ops(self._active, last),
                        lambda op, state, following: self._run_op(op, state, following, x,
                                                                  indices))
        return state.levels, state.kept.restore(state.tokens), state.grid_hw

    def _to_map(self, tokens: torch.Tensor, grid_hw: Size2d) -> torch.Tensor:
        return token_map(tokens[:, self.num_prefix_tokens:], grid_hw)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """All tokens (prefix first) after the final norm: (B, prefix + N, D), as timm."""
        _, tokens, _ = self._encode(x, [self.depth - 1], run_all=True)
        return self.norm(tokens)

    def forward_intermediates(self, x: torch.Tensor, indices: int | Sequence[int] | None = None,
                              norm: bool = False, intermediates_only: bool = False
                              ) -> list[torch.Tensor] | tuple[torch.Tensor, list[torch.Tensor]]:
        """Token-grid maps (B, D, grid_h, grid_w) at stride p after the given blocks.

        ``indices``: None = every block, an int n = the last n blocks, or block indices.
        ``norm`` applies the final norm to each map. Unless ``intermediates_only``, the final
        normed tokens (as ``forward_features``) come first in a pair.
        """
        if indices is None:
            indices = list(range(self.depth))
        elif isinstance(indices, int):
            indices = list(range(self.depth - indices, self.depth))
        indices = self._resolve_indices(indices)
        taken, tokens, grid_hw = self._encode(x, indices, run_all=not intermediates_only)
        maps = [self._to_map(self.norm(taken[i]) if norm else taken[i], grid_hw)
                for i in indices]
        return maps if intermediates_only else (self.norm(tokens), maps)

    def _maps(self, taken: dict[int, torch.Tensor], grid_hw: Size2d, choice: PatchChoice,
              image_hw: Size2d) -> tuple[torch.Tensor, ...]:
        outputs = []
        for index in self.out_indices:
            tokens = taken[index]
            if self.final_norm and index == self.depth - 1:
                tokens = self.norm(tokens)
            outputs.append(self._to_map(tokens, grid_hw))
        return maps_at_stride(outputs, effective_patch(choice.patch_hw, image_hw,
                                                       choice.resolution),
                              self.out_stride, image_hw)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """NCHW image -> one (B, embed_dim, ceil(H/s), ceil(W/s)) map per out index."""
        taken, _, grid_hw = self._encode(x, self.out_indices, run_all=False)
        return self._maps(taken, grid_hw, self._active, (x.shape[-2], x.shape[-1]))

    def forward_choices(self, x: torch.Tensor, choices: Sequence[Choice | str],
                        stats: TreeStats | None = None
                        ) -> Iterator[tuple[Choice, tuple[torch.Tensor, ...]]]:
        """``forward`` under every choice, computing once what keep rates of one patch size
        share (the blocks before the first keep point); patch sizes share nothing."""
        chosen = [self.choice(choice) for choice in choices]
        last = max(self.out_indices)
        image_hw = (x.shape[-2], x.shape[-1])
        yield from shared_prefix_outputs(
            [(choice, self._choice_ops(choice, last)) for choice in chosen],
            lambda op, state, following: self._run_op(op, state, following, x,
                                                     self.out_indices),
            lambda choice, state: self._maps(state.levels, state.grid_hw, choice, image_hw),
            stats)

    # ----------------------------------------------------------------- weights
    def init_weights(self) -> None:
        """Load ``init_cfg=dict(type='Pretrained', ...)`` through ``checkpoint_filter``."""
        cfg = self.init_cfg
        if isinstance(cfg, dict) and cfg.get("type") == "Pretrained":
            load_pretrained(self, cfg["checkpoint"], adapt=self.checkpoint_filter,
                            prefix=cfg.get("prefix"), strict=cfg.get("strict", False))
            self._is_init = True
            return
        super().init_weights()

    def checkpoint_filter(self, state: StateDict) -> StateDict:
        """Adapt timm-named weights to this model.

        - Position embeddings: entries for prefix tokens (timm ViTs without
          ``no_embed_class``, old big_vision files) are added to those tokens; the grid
          (assumed square unless it already has this model's shape) is resampled to
          ``pos_embed_grid``.
        - Linear patch kernel: PI-resized to the stored size ``patch_size``.
        """
        state = dict(state)
        if "pos_embed" in state:
            state["pos_embed"] = self._adapt_pos_embed(state, state["pos_embed"])
        kernel = state.get("patch_embed.proj.weight")
        if self.stem == "linear" and kernel is not None and kernel.ndim == 4:
            target = self.patch_embed.patch_size
            if tuple(kernel.shape[-2:]) != target:
                print_log(f"FlexiViT: PI-resizing the patch kernel {tuple(kernel.shape[-2:])} "
                          f"-> {target}", logger="current")
                state["patch_embed.proj.weight"] = pi_resize_kernel(
                    kernel.double(), target).to(kernel.dtype)
        return state

    def _adapt_pos_embed(self, state: StateDict, pos_embed: torch.Tensor) -> torch.Tensor:
        if pos_embed.shape == self.pos_embed.shape:
            return pos_embed
        length = pos_embed.shape[1]
        for prefix in dict.fromkeys((0, self.num_prefix_tokens, 1)):
            side = round((length - prefix) ** 0.5)
            if side * side == length - prefix:
                break
        else:
            raise ValueError(f"cannot read a {length}-entry position embedding as a square grid "
                             f"(with 0, 1 or {self.num_prefix_tokens} prefix tokens)")
        prefix_embed, pos_embed = pos_embed[:, :prefix], pos_embed[:, prefix:]
        if prefix and "cls_token" in state:
            state["cls_token"] = state["cls_token"] + prefix_embed[:, :1]
            prefix_embed = prefix_embed[:, 1:]
        if prefix_embed.shape[1] and "reg_token" in state:
            state["reg_token"] = state["reg_token"] + prefix_embed
        if (side, side) != self.pos_embed_grid:
            print_log(f"FlexiViT: resampling the position embedding {side}x{side} -> "
                      f"{self.pos_embed_grid[0]}x{self.pos_embed_grid[1]}", logger="current")
        return resample_pos_embed(pos_embed, (side, side), self.pos_embed_grid)
