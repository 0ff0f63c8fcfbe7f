"""Token keeping for dense prediction (SuperViT's pruning, with the dropped tokens kept).

At a keep point the patch tokens still being processed are ranked by an importance score and
only the top ones go on through the later blocks (rates compound: three keep points at 0.5
leave about n/8). SuperViT's rule is the default: the keep point lies inside its block, between
the attention (whose scores rank the tokens) and the MLP (``keep_site='attention'``), and
``ceil(rate * (n + prefix))`` patch tokens stay, the rate applying to every token the block
processes, prefix included (``keep_base='tokens'``). ``keep_site='block'`` prunes after the
whole block instead, and ``keep_base='patches'`` keeps ``ceil(rate * n)``. A dense head needs every grid position, so dropped tokens are not
lost: each is carried with the value it had when it was dropped and put back at its grid
position whenever a full map is needed (``restore``). Prefix tokens (class, registers) always
stay.

Importance scores (per token, computed inside the keep point's attention):

- ``'cls'``: the class token's attention to each token, averaged over heads (SuperViT, EViT);
- ``'received'``: the attention each token receives, averaged over heads and queries (for
  models without a class token).
"""
from __future__ import annotations

import math
from typing import Sequence

import torch

from .checks import check_list, is_int, is_number

KEEP_SCORES = ("cls", "received")
KEEP_SITES = ("attention", "block")
KEEP_BASES = ("tokens", "patches")


def keep_count(tokens: int, rate: float) -> int:
    """``ceil(rate * tokens)``, at least one; rounded first so 0.7 * 10 keeps 7, not 8."""
    return max(1, math.ceil(round(rate * tokens, 9)))


def kept_patches(patches: int, rate: float, num_prefix_tokens: int, base: str) -> int:
    """Patch tokens left of ``patches`` at a keep point (module doc), never more than there
    were: ``ceil(rate * (patches + prefix))`` for base 'tokens', ``ceil(rate * patches)``
    for 'patches'."""
    counted = patches + num_prefix_tokens if base == "tokens" else patches
    return min(patches, keep_count(counted, rate))


def check_keep_rule(site: str, base: str) -> None:
    """Where a keep point prunes and what its rate counts, with the values allowed."""
    if site not in KEEP_SITES:
        raise ValueError(f"keep_site must be one of {KEEP_SITES}, got {site!r}")
    if base not in KEEP_BASES:
        raise ValueError(f"keep_base must be one of {KEEP_BASES}, got {base!r}")


def check_keep_options(keep_points: Sequence[int], keep_rates: Sequence[float], depth: int,
                       score: str, has_class_token: bool) -> tuple[tuple[int, ...],
                                                                   tuple[float, ...]]:
    """Validated, sorted keep points and rates, with errors naming what is allowed."""
    points = check_list("keep_points", keep_points, f"block indices 0 to {depth - 1}")
    outside = [p for p in points if not is_int(p) or not 0 <= p < depth]
    if outside:
        raise ValueError(f"keep_points {outside} are outside the {depth} blocks; allowed: "
                         f"block indices 0 to {depth - 1}")
    points = tuple(sorted(set(points)))
    given = check_list("keep_rates", keep_rates, "fractions in (0, 1]")
    if not given or not all(is_number(r) and 0 < r <= 1 for r in given):
        raise ValueError(f"keep_rates must be fractions in (0, 1], got {given}")
    rates = tuple(sorted(set(float(r) for r in given), reverse=True))
    if any(r < 1 for r in rates) and not points:
        raise ValueError(f"keep rates {list(keep_rates)} need keep_points (block indices after "
                         "which tokens are dropped)")
    if score not in KEEP_SCORES:
        raise ValueError(f"keep_score must be one of {KEEP_SCORES}, got {score!r}")
    if score == "cls" and not has_class_token and any(r < 1 for r in rates):
        raise ValueError("keep_score 'cls' needs a class token; use keep_score='received'")
    return points, rates


def attention_importance(q: torch.Tensor, k: torch.Tensor, score: str) -> torch.Tensor:
    """(B, T) importance of each token from one attention's queries and keys (B, H, T, d)."""
    scale = q.shape[-1] ** -0.5
    queries = q[:, :, :1] if score == "cls" else q
    attention = ((queries * scale) @ k.transpose(-2, -1)).softmax(dim=-1)
    return attention.mean(dim=(1, 2))


def top_k_positions(scores: torch.Tensor, k: int) -> torch.Tensor:
    """(B, k) indices of the ``k`` highest scores, ascending; ties go to the lower index."""
    order = torch.sort(scores, dim=1, descending=True, stable=True).indices[:, :k]
    return order.sort(dim=1).values


def _gather(tokens: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    return tokens.gather(1, positions.unsqueeze(-1).expand(-1, -1, tokens.shape[-1]))


class KeptTokens:
    """Which patch tokens a forward pass still processes, and the last value of every one.

    One instance per forward pass. ``positions`` (B, n) holds the grid positions of the
    processed patch tokens (None: all of them); ``carried`` (B, N, D) the latest value of
    every patch token, valid at the dropped positions. ``base``: what a rate counts (module
    doc).
    """

    def __init__(self, num_prefix_tokens: int, base: str = "tokens") -> None:
        self.num_prefix = num_prefix_tokens
        self.base = base
        self.positions: torch.Tensor | None = None
        self.carried: torch.Tensor | None = None

    def restore(self, tokens: torch.Tensor) -> torch.Tensor:
        """Processed tokens (B, prefix + n, D) -> every token (B, prefix + N, D)."""
        if self.positions is None:
            return tokens
        prefix, patches = tokens[:, :self.num_prefix], tokens[:, self.num_prefix:]
        index = self.positions.unsqueeze(-1).expand(-1, -1, patches.shape[-1])
        return torch.cat([prefix, self.carried.scatter(1, index, patches)], dim=1)

    def prune(self, tokens: torch.Tensor, scores: torch.Tensor, rate: float) -> torch.Tensor:
        """Keep the prefix and the top patch tokens by ``scores`` (B, T) (``kept_patches``)."""
        patches = tokens[:, self.num_prefix:]
        kept = kept_patches(patches.shape[1], rate, self.num_prefix, self.base)
        if kept >= patches.shape[1]:
            return tokens
        self.carried = self.restore(tokens)[:, self.num_prefix:]
        chosen = top_k_positions(scores[:, self.num_prefix:], kept)
        self.positions = chosen if self.positions is None else self.positions.gather(1, chosen)
        return torch.cat([tokens[:, :self.num_prefix], _gather(patches, chosen)], dim=1)

    def select(self, every: torch.Tensor) -> torch.Tensor:
        """Every token (e.g. after a stitching layer changed their width) -> the processed ones;
        the others are carried from ``every``."""
        if self.positions is None:
            return every
        self.carried = every[:, self.num_prefix:]
        return torch.cat([every[:, :self.num_prefix], _gather(self.carried, self.positions)],
                         dim=1)
