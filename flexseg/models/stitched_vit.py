"""Stitched ViT (SN-Netv2): two pretrained ViT anchors joined by stitching layers, many routes.

A small anchor ``S`` and a large anchor ``L`` (e.g. DeiT-III S and L) share the patch size and
prefix tokens. A route (see ``stitch_routes``: kinds, enumeration, ids) runs segments of both,
passing the tokens (prefix tokens included) through a stitching layer wherever it changes
anchor. Stitching layers are fitted by least squares on real features before training
(``fit_stitches``; in a run, ``StitchInitHook``), then only their bias and low-rank update
train, together with both anchors.

Dense outputs, whatever the route: one map per ``out_indices`` entry, each with the large
anchor's width ``out_channels`` and stride ``out_stride``. Level indices count small-anchor
blocks; level ``i`` is the state after small block ``i``, or after large block
``large_out_indices[i]`` (default ``ratio * (i + 1) - 1``; any block of the group
``ratio * i .. ratio * (i + 1) - 1``, e.g. SN-Netv2's 9, 14, 19, 23 beside small 4, 7, 9, 11)
when the route is in the large anchor there (routes change anchor only between groups, so every
level is well defined). A small-anchor state goes into the large anchor's width through the
small -> large stitching layer leaving that block (``level_maps='stitch'``, as SN-Netv2 does;
the last block gets one such layer of its own) or through a layer fitted for the level alone
(``'separate'``). Maps are resampled to the fixed stride as in FlexiViT
(``layers.grid.resample_to_stride``).
"""
from __future__ import annotations

import copy
from dataclasses import replace
from typing import Hashable, Iterable, Iterator, Mapping, Sequence

import torch
import torch.nn as nn
from mmengine.model import BaseModule

from flexseg.layers import (BlockShape, KeptTokens, blocks_flops, check_keep_options,
                            check_keep_rule,
                            maps_at_stride, to_2tuple, token_grid_size, vit_flops)
from flexseg.layers.checks import check_int, check_list, is_int
from flexseg.layers.precision import float32_island
from flexseg.layers.grid import (FIT_MODES, check_resize_mode, effective_patch, resample_flops,
                                 resize_input, scaled_size, stride_grid_size, token_map)
from flexseg.layers.size import Size2d
from flexseg.layers.stitching import AffineLeastSquares, StitchingLayer
from flexseg.models.contract import Choice, FlexibleBackbone, check_resolutions, format_ids
from flexseg.models.flexivit import FlexiViT
from flexseg.models.prefix_tree import (KEEP_OP, PassState, TreeStats, block_step,
                                        keep_block_ops, keep_step, run_ops,
                                        shared_prefix_outputs)
from flexseg.models.stitch_routes import (LARGE, ROUTE_KINDS, SMALL, Route, Stitch,
                                          enumerate_routes,
                                          stitch_ratio)
from flexseg.registry import register_model

# Anchor settings the stitched model fixes for both anchors.
LEVEL_MAP_MODES = ("stitch", "separate")
SHARED_KEYS = ("img_size", "patch_size", "patch_sizes", "in_chans", "fit", "out_indices",
               "out_stride", "final_norm", "frozen", "attn_only", "keep_points", "keep_rates",
               "keep_score", "keep_site", "keep_base", "with_cp")


def _restrict(space: list[Route], ids: Sequence[str] | None) -> list[Route]:
    """The routes of ``space`` named in ``ids`` (all of them for None)."""
    if ids is None:
        return space
    unknown = sorted(set(ids) - {route.id for route in space})
    if unknown or not ids:
        raise ValueError(f"choices must name routes of the space, got {list(ids)}; "
                         f"available: {format_ids(space)}")
    return [route for route in space if route.id in set(ids)]


@register_model
class StitchedViT(FlexibleBackbone, BaseModule):
    """Two ViT anchors stitched into one backbone with many routes (module doc).

    Args:
        small, large: the anchors as ``FlexiViT`` arguments (``embed_dim``, ``depth``,
            ``num_heads``, ``mlp_ratio``, ``layer_scale_init`` for DeiT-III, ...,
            ``init_cfg=dict(type='Pretrained', checkpoint=PATH)`` for timm/DeiT/DeiT-III
            files, ``window_size``/``global_indices`` for ViTDet-style windowed attention in
            that anchor); the keys in ``SHARED_KEYS`` are set here for both. With windows,
            token keeping drops tokens from global blocks only, so every keep point must be
            a global block of both anchors.
        img_size: nominal image size (default position-embedding grids; any size runs).
        patch_size: patch size of both anchors.
        fit: 'pad' or 'crop' for images that are not a whole number of patches.
        routes: route kinds in the space, from ``ROUTE_KINDS`` (default: all, 134 routes for
            a 12/24 pair).
        boundaries: where routes may change anchor, counted in small blocks (default: after
            every small block but the last).
        choices: restrict the space to these choice ids (an exported fixed-budget model pins
            one); the stitching layers of every route of ``routes`` are still built, so a
            checkpoint of the whole space loads unchanged.
        resolutions: input resolutions as fractions of the input size, a factor of the space
            (ids ``s4-l10-r0.75``; ``layers.grid.resize_input``, as FlexiViT).
        resize_mode: 'antialias' or 'align_corners' (SuperViT's resize), as FlexiViT.
        lora_rank: rank of the trainable update of every stitching layer (0: bias only).
        lora_alpha: the update is scaled by ``lora_alpha / lora_rank`` (SN-Netv2: LoRA's
            default 1, so a rank-16 update counts 1/16).
        out_indices: small-anchor block index of each output level (negative counts from the
            end); the last block must be one of them. Default: four evenly spaced levels.
        large_out_indices: the large-anchor block of each level, within its group (module
            doc); default the group's last block.
        level_maps: how a small-anchor level reaches the large width: 'stitch' (the
            small -> large stitching layer after that block, SN-Netv2) or 'separate' (a layer
            fitted for the level alone).
        out_stride: stride of every output map; None: the patch size (no resampling).
    """

    def __init__(self, small: dict, large: dict, img_size: int | Size2d = 224,
                 patch_size: int = 16, in_chans: int = 3, fit: str = "pad",
                 routes: Sequence[str] = ROUTE_KINDS, boundaries: Sequence[int] | None = None,
                 lora_rank: int = 16, lora_alpha: float = 1.0,
                 out_indices: Sequence[int] | None = None,
                 large_out_indices: Sequence[int] | None = None, level_maps: str = "stitch",
                 out_stride: int | None = 16, keep_points: Sequence[int] = (),
                 keep_rates: Sequence[float] = (1.0,), keep_score: str = "cls",
                 keep_site: str = "attention", keep_base: str = "tokens",
                 resolutions: Sequence[float] = (1.0,), resize_mode: str = "antialias",
                 choices: Sequence[str] | None = None, with_cp: bool = False,
                 init_cfg: dict | list | None = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if fit not in FIT_MODES:
            raise ValueError(f"fit must be one of {FIT_MODES}, got {fit!r}")
        if level_maps not in LEVEL_MAP_MODES:
            raise ValueError(f"level_maps must be one of {LEVEL_MAP_MODES}, got {level_maps!r}")
        if out_stride is not None:
            check_int("out_stride", out_stride, 1)
        routes = check_list("routes", routes, f"route kinds ({', '.join(ROUTE_KINDS)})")
        if boundaries is not None:
            boundaries = check_list("boundaries", boundaries, "small-anchor block counts")
        if choices is not None:
            choices = check_list("choices", choices, "route ids")
        shared = dict(img_size=img_size, patch_size=patch_size, patch_sizes=[patch_size],
                      in_chans=in_chans, fit=fit)
        self.small = self._build_anchor("small", small, shared)
        self.large = self._build_anchor("large", large, shared)
        if self.small.num_prefix_tokens != self.large.num_prefix_tokens:
            raise ValueError(
                f"the anchors must have the same prefix tokens (class/register tokens); small "
                f"has {self.small.num_prefix_tokens}, large {self.large.num_prefix_tokens}")
        self.ratio = stitch_ratio(self.small.depth, self.large.depth)
        self.patch_hw = to_2tuple(patch_size)
        self.in_chans = in_chans
        self.fit = fit
        self.out_stride = out_stride
        self.out_channels = self.large.embed_dim
        self.out_indices = self._resolve_levels(out_indices)
        self.large_out_indices = self._resolve_large_levels(large_out_indices)
        self.level_map_mode = level_maps
        # Output level of a block, per anchor.
        self._level_blocks = {
            SMALL: {unit: level for level, unit in enumerate(self.out_indices)},
            LARGE: {block: level for level, block in enumerate(self.large_out_indices)}}

        self.keep_points, keep_rates = check_keep_options(
            keep_points, keep_rates, self.small.depth, keep_score,
            self.small.cls_token is not None)
        self.keep_score = keep_score
        check_keep_rule(keep_site, keep_base)
        self.keep_site, self.keep_base = keep_site, keep_base
        self.with_cp = with_cp
        self.resize_mode = check_resize_mode(resize_mode)
        # Blocks after which tokens are dropped, per anchor (the same positions as levels).
        self._keep_blocks = {SMALL: set(self.keep_points),
                             LARGE: {self.ratio * (unit + 1) - 1 for unit in self.keep_points}}
        self._check_keeps_global()
        plain = enumerate_routes(self.small.depth, self.large.depth, routes, boundaries)
        self._space = _restrict([replace(route, keep_rate=rate, resolution=resolution)
                                 for route in plain for resolution in check_resolutions(resolutions)
                                 for rate in keep_rates], choices)
        self._stitch_specs = {stitch.key: stitch for route in plain
                              for stitch in route.stitches()}
        if level_maps == "stitch":
            self._stitch_specs.update({stitch.key: stitch for stitch in self._level_stitches()})
        self.stitches = nn.ModuleDict({
            key: StitchingLayer(self.anchor(s.source).embed_dim,
                                self.anchor(s.target).embed_dim, lora_rank, lora_alpha)
            for key, s in self._stitch_specs.items()})
        self.level_maps = nn.ModuleList(
            StitchingLayer(self.small.embed_dim, self.large.embed_dim, lora_rank, lora_alpha)
            for _ in (self.out_indices if level_maps == "separate" else ()))
        self._active = max(self._space, key=lambda route: self.flops(route, to_2tuple(img_size)))

    # ----------------------------------------------------------------- configuration
    @staticmethod
    def _build_anchor(name: str, cfg: dict, shared: dict) -> FlexiViT:
        if not isinstance(cfg, Mapping):
            raise ValueError(f"{name} must be a dict of FlexiViT arguments (embed_dim, depth, "
                             f"num_heads, ...), got {cfg!r}")
        fixed = sorted(set(cfg) & set(SHARED_KEYS))
        if fixed:
            raise ValueError(f"{', '.join(fixed)} cannot be set for the {name} anchor: "
                             f"StitchedViT sets {', '.join(SHARED_KEYS)} for both anchors")
        try:
            return FlexiViT(**cfg, **shared)
        except ValueError as error:  # say which anchor's keys are wrong
            raise ValueError(f"{name} anchor: {error}") from error

    def _resolve_levels(self, indices: Sequence[int] | None) -> list[int]:
        depth = self.small.depth
        if indices is None:
            return sorted({(k + 1) * depth // 4 - 1 for k in range(4)} - {-1})
        resolved = []
        for index in indices:
            if not -depth <= index < depth:
                raise ValueError(f"out index {index} is outside the {depth}-block small anchor; "
                                 f"allowed: {-depth} to {depth - 1}")
            resolved.append(index % depth)
        if len(set(resolved)) != len(resolved) or depth - 1 not in resolved:
            raise ValueError(f"out_indices {list(indices)} must be distinct small-anchor blocks "
                             f"including the last one ({depth - 1}), so that every block of "
                             "every route reaches an output")
        return resolved

    def _resolve_large_levels(self, indices: Sequence[int] | None) -> list[int]:
        ratio, depth = self.ratio, self.large.depth
        if indices is None:
            return [ratio * (unit + 1) - 1 for unit in self.out_indices]
        indices = check_list("large_out_indices", indices, "large-anchor block indices")
        if len(indices) != len(self.out_indices) or not all(
                is_int(b) and ratio * unit <= b % depth < ratio * (unit + 1)
                for b, unit in zip(indices, self.out_indices) if -depth <= b < depth):
            groups = ", ".join(f"{ratio * u}-{ratio * (u + 1) - 1}" for u in self.out_indices)
            raise ValueError(f"large_out_indices {list(indices)} must give one large-anchor block "
                             f"per level, each within its level's group ({groups}), so that "
                             "every route reaches each level exactly once")
        return [b % depth for b in indices]

    def _level_stitches(self) -> list[Stitch]:
        """The small -> large stitch leaving each level's small block (SN-Netv2's level maps)."""
        return [Stitch(SMALL, unit, LARGE, self.ratio * (unit + 1)) for unit in self.out_indices]

    def level_map(self, level: int) -> StitchingLayer:
        """The layer taking level ``level`` of the small anchor to the large width."""
        if self.level_map_mode == "separate":
            return self.level_maps[level]
        return self.stitches[self._level_stitches()[level].key]

    def _check_keeps_global(self) -> None:
        for name, label in ((SMALL, "small"), (LARGE, "large")):
            anchor = self.anchor(name)
            windowed = sorted(b for b in self._keep_blocks[name]
                              if anchor.window_size is not None
                              and b not in anchor.global_indices)
            if windowed:
                raise ValueError(f"keep_points {list(self.keep_points)} fall on windowed blocks "
                                 f"{windowed} of the {label} anchor; with window_size, keep "
                                 "points must be global blocks (its global_indices)")

    def anchor(self, name: str) -> FlexiViT:
        """The anchor called ``'S'`` or ``'L'``."""
        return self.small if name == SMALL else self.large

    def stitching_layers(self) -> list[StitchingLayer]:
        """Every stitching layer, level maps included, in a fixed order."""
        return [*self.stitches.values(), *self.level_maps]

    @property
    def stitches_fitted(self) -> bool:
        """Whether every stitching layer holds its least-squares fit (saved in checkpoints)."""
        return all(bool(layer.fitted) for layer in self.stitching_layers())

    def _route_layers(self, route: Route) -> list[StitchingLayer]:
        layers = [self.stitches[stitch.key] for stitch in route.stitches()]
        return layers + [self.level_map(level) for level, anchor in self._level_anchors(route)
                         if anchor == SMALL]

    def _level_anchors(self, route: Route) -> list[tuple[int, str]]:
        """(level, anchor that produces it) for every output level."""
        found = []
        for segment in route.segments:
            blocks = self._level_blocks[segment.anchor]
            found += [(blocks[i], segment.anchor) for i in range(segment.start, segment.stop)
                      if i in blocks]
        return sorted(found)

    # ----------------------------------------------------------------- contract
    def space(self) -> list[Choice]:
        return list(self._space)

    def activate(self, choice: Choice | str) -> None:
        self._active = self.choice(choice)

    @property
    def active_choice(self) -> Route:
        return self._active

    def flops(self, choice: Choice | str, image_hw: tuple[int, int]) -> int:
        """Multiply-adds of ``forward`` for one image (conventions: ``layers.flops``): the first
        anchor's stem, the blocks of every segment, one ``d_in x d_out`` product per token for
        each stitching layer passed (the low-rank update is merged into the map), and the same
        per patch token for each level taken from the small anchor; with token keeping, each
        block over the tokens it processes plus the importance scores at keep points; windowed
        blocks over every token of the grid (``layers.window``)."""
        route = self.choice(choice)
        first = self.anchor(route.segments[0].anchor)
        image_hw = tuple(image_hw)
        input_hw = scaled_size(image_hw, route.resolution)  # the backbone resizes its input
        grid_hw = token_grid_size(input_hw, self.patch_hw, self.fit)
        patches = grid_hw[0] * grid_hw[1]
        prefix = first.num_prefix_tokens
        total = vit_flops(input_hw, self.patch_hw, embed_dim=first.embed_dim, depth=0,
                          mlp_hidden_dim=first.mlp_hidden_dim, in_chans=self.in_chans,
                          stem=first.stem, fit=self.fit)  # the stem alone
        blocks = [BlockShape(anchor.embed_dim, anchor.mlp_hidden_dim, anchor.num_parallel,
                             anchor.blocks[index].window_size,
                             self._keeps_after(segment.anchor, index, route))
                  for segment in route.segments for anchor in [self.anchor(segment.anchor)]
                  for index in range(segment.start, segment.stop)]
        total += blocks_flops(blocks, grid_hw, prefix, route.keep_rate, self.keep_score,
                              self.keep_site, self.keep_base)
        for stitch in route.stitches():  # every token, dropped ones included
            layer = self.stitches[stitch.key]
            total += (patches + prefix) * layer.in_dim * layer.out_dim
        small_levels = sum(anchor == SMALL for _, anchor in self._level_anchors(route))
        out_hw = stride_grid_size(image_hw, self.out_stride or 1)
        patch_hw = effective_patch(self.patch_hw, image_hw, route.resolution)
        maps = len(self.out_indices) * resample_flops(self.out_channels, grid_hw, patch_hw,
                                                      self.out_stride, out_hw)
        return (total + maps +
                small_levels * patches * self.small.embed_dim * self.large.embed_dim)

    def output_signature(self, choice: Choice | str) -> Hashable:
        """Every choice gives maps of the same width at the fixed ``out_stride`` (without one,
        at the stride of its resolution)."""
        route = self.choice(choice)
        return (self.out_channels, self.out_stride or route.resolution, tuple(self.out_indices))

    def params(self, choice: Choice | str) -> int:
        """Weights the route uses: the first anchor's embeddings, the blocks it runs, and its
        stitching layers and small-anchor level maps as deployed (low-rank update merged)."""
        route = self.choice(choice)
        total = sum(p.numel() for p in self._route_anchor_parameters(route))
        return total + sum(layer.deployed_size for layer in self._route_layers(route))

    def unused_parameters(self, choice: Choice | str) -> frozenset[str]:
        """Trainable parameters outside the route: the other anchor's embeddings, blocks it
        skips, stitching layers and level maps it does not pass."""
        route = self.choice(choice)
        used = {id(p) for p in self._route_anchor_parameters(route)}
        used.update(id(p) for layer in self._route_layers(route) for p in layer.parameters())
        return frozenset(name for name, p in self.named_parameters()
                         if p.requires_grad and id(p) not in used)

    def _route_anchor_parameters(self, route: Route) -> Iterator[nn.Parameter]:
        """The first anchor's embeddings and the blocks of every segment."""
        first = self.anchor(route.segments[0].anchor)
        yield from (p for name, p in first.named_parameters()
                    if not name.startswith(("blocks.", "norm.")))
        for segment in route.segments:
            yield from self.anchor(segment.anchor).blocks[segment.start:segment.stop].parameters()

    # ----------------------------------------------------------------- forward
    def _route_ops(self, route: Route) -> list[tuple]:
        """The route as operations (``prefix_tree``): embed, stitches, blocks, keep steps."""
        ops: list[tuple] = [("embed", route.segments[0].anchor, route.resolution)]
        for segment, stitch in zip(route.segments, (None, *route.stitches())):
            if stitch is not None:
                ops.append(("stitch", stitch.key))
            for index in range(segment.start, segment.stop):
                ops += keep_block_ops(index, index in self._keep_blocks[segment.anchor],
                                      route.keep_rate, self.keep_site, (segment.anchor,))
        return ops

    def _run_op(self, op: tuple, state: PassState | None, following: Sequence[tuple],
               x: torch.Tensor) -> PassState:
        """One operation on a state, returning a new state. Every level map holds every token
        at its grid position (token keeping only drops tokens from the blocks; a stitching
        layer maps the dropped ones too, so they return in the right width)."""
        kind = op[0]
        if kind == "embed":
            anchor = self.anchor(op[1])
            tokens, grid_hw = anchor.embed(resize_input(x, op[2], self.resize_mode))
            return PassState(tokens, KeptTokens(anchor.num_prefix_tokens, self.keep_base),
                             grid_hw, {})
        if kind == "stitch":
            kept = copy.copy(state.kept)
            tokens = kept.select(self.stitches[op[1]](state.kept.restore(state.tokens)))
            return replace(state, tokens=tokens, kept=kept, scores=None)
        if kind == KEEP_OP:
            return keep_step(state, op[1])
        part, anchor, index = op
        level = None if part == "attn" else self._level_blocks[anchor].get(index)
        return block_step(state, self.anchor(anchor).blocks[index], following, self.keep_score,
                          level, self.with_cp, part)

    def _run(self, x: torch.Tensor, route: Route) -> PassState:
        """The route's operations one after the other."""
        return run_ops(self._route_ops(route),
                       lambda op, state, following: self._run_op(op, state, following, x))

    def _keeps_after(self, anchor: str, index: int, route: Route) -> bool:
        return route.keep_rate < 1 and index in self._keep_blocks[anchor]

    def _check_fitted(self, route: Route) -> None:
        if self.training and not all(bool(layer.fitted) for layer in self._route_layers(route)):
            raise RuntimeError(
                f"route {route.id} uses stitching layers that are not fitted yet; fit them "
                "before training: custom_hooks=[dict(type='StitchInitHook')] in a config, or "
                "StitchedViT.fit_stitches(batches)")

    def _maps(self, state: PassState, route: Route,
              image_hw: Size2d) -> tuple[torch.Tensor, ...]:
        outputs = []
        for level, anchor in self._level_anchors(route):
            tokens = state.levels[level]
            patches = tokens[:, self.small.num_prefix_tokens:]
            if anchor == SMALL:
                patches = self.level_map(level)(patches)
            outputs.append(token_map(patches, state.grid_hw))
        return maps_at_stride(outputs, effective_patch(self.patch_hw, image_hw, route.resolution),
                              self.out_stride, image_hw)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """NCHW image -> one (B, out_channels, ceil(H/s), ceil(W/s)) map per output level."""
        route = self._active
        self._check_fitted(route)
        return self._maps(self._run(x, route), route, (x.shape[-2], x.shape[-1]))

    def forward_choices(self, x: torch.Tensor, choices: Sequence[Choice | str],
                        stats: TreeStats | None = None
                        ) -> Iterator[tuple[Choice, tuple[torch.Tensor, ...]]]:
        """``forward`` under every route of ``choices``, computing each distinct prefix of
        operations once (``prefix_tree``; the order is depth first, not the given one)."""
        routes = [self.choice(choice) for choice in choices]
        for route in routes:
            self._check_fitted(route)
        image_hw = (x.shape[-2], x.shape[-1])
        yield from shared_prefix_outputs(
            [(route, self._route_ops(route)) for route in routes],
            lambda op, state, following: self._run_op(op, state, following, x),
            lambda route, state: self._maps(state, route, image_hw), stats)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """All tokens after the route's last block and its anchor's final norm, as timm."""
        route = self._active
        state = self._run(x, route)
        tokens = state.kept.restore(state.tokens)
        return self.anchor(route.segments[-1].anchor).norm(tokens)

    # ----------------------------------------------------------------- stitching fit
    def _anchor_states(self, name: str, x: torch.Tensor) -> list[torch.Tensor]:
        """Tokens entering each block of an anchor, then its last block's output."""
        anchor = self.anchor(name)
        tokens, grid_hw = anchor.embed(x)
        states = [tokens]
        for block in anchor.blocks:
            tokens = block(tokens, None, grid_hw)
            states.append(tokens)
        return states

    @torch.no_grad()
    @float32_island()
    def fit_stitches(self, batches: Iterable[torch.Tensor]) -> int:
        """Fit every stitching layer by least squares on the anchors' own features.

        ``batches`` yields normalised NCHW images. A stitch from block i of one anchor to
        block j of the other maps the tokens leaving block i onto the tokens entering block j
        (all tokens, prefix included; a level's stitch from the last small block maps onto the
        large anchor's output); a separate level map maps the small anchor's patch tokens at a
        level onto the large anchor's at the same level. Runs in eval mode (no drop path) and
        in float32 under autocast (an fp32 island); returns the number of images used.
        """
        stitch_fits = {key: AffineLeastSquares(layer.in_dim, layer.out_dim)
                       for key, layer in self.stitches.items()}
        level_fits = [AffineLeastSquares(self.small.embed_dim, self.large.embed_dim)
                      for _ in self.level_maps]
        prefix = self.small.num_prefix_tokens
        was_training = self.training
        self.eval()
        images = 0
        try:
            for batch in batches:
                states = {name: self._anchor_states(name, batch) for name in (SMALL, LARGE)}
                for key, stitch in self._stitch_specs.items():
                    stitch_fits[key].add(states[stitch.source][stitch.last_block + 1],
                                         states[stitch.target][stitch.first_block])
                for fit, unit, block in zip(level_fits, self.out_indices,
                                            self.large_out_indices):
                    fit.add(states[SMALL][unit + 1][:, prefix:],
                            states[LARGE][block + 1][:, prefix:])
                images += batch.shape[0]
        finally:
            self.train(was_training)
        if images == 0:
            raise ValueError("fit_stitches got no images")
        for key, fit in stitch_fits.items():
            self.stitches[key].set_map(*fit.solve())
        for layer, fit in zip(self.level_maps, level_fits):
            layer.set_map(*fit.solve())
        return images
