"""Routes through two stitched ViT anchors (SN-Netv2 two-way stitching) and their ids.

Blocks are aligned in groups: with ``ratio = large_depth / small_depth`` (2 for DeiT-III S/L,
1 for a 12/12 pair), boundary ``b`` (``1 <= b < small_depth``) lies after ``b`` small blocks and
after ``ratio * b`` large blocks. A route changes anchor only at boundaries:

- small -> large at ``b``: after small block ``b - 1`` the route enters large block
  ``ratio * b`` (ratio 2: after small block i, large block 2(i + 1));
- large -> small at ``b``: after large block ``ratio * b - 1`` it enters small block ``b``
  (ratio 2: after large block i = 2b - 1, small block i // 2 + 1; the large anchor is left
  only at the end of a group, so each small block has one entry point).

Route kinds: the anchors ``S`` and ``L``; ``S-L`` and ``L-S`` (one route per boundary);
``S-L-S`` and ``L-S-L`` (one per pair of boundaries ``b1 < b2``). With ``n = small_depth - 1``
boundaries the full space holds ``2 + 2n + n(n - 1)`` routes, the two anchors included: 134 for
a 12/24 pair (2 anchors, 11 + 11 two-segment, 55 + 55 three-segment routes) and for a 12/12 pair.

Ids: ``S`` and ``L`` for the anchors. Otherwise the segments joined by ``-``, each a lowercase
anchor letter and a 0-based block index of that anchor: the first segment names its LAST block,
every later segment its FIRST block. For a 12/24 pair: ``s4-l10`` runs small blocks 0-4 then
large blocks 10-23; ``l9-s5`` large 0-9 then small 5-11; ``s3-l8-s9`` small 0-3, large 8-17,
small 9-11; ``l7-s4-l18`` large 0-7, small 4-8, large 18-23.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Sequence

from .contract import Choice, with_keep_rate

SMALL, LARGE = "S", "L"
ROUTE_KINDS = ("S", "L", "S-L", "L-S", "S-L-S", "L-S-L")


@dataclass(frozen=True)
class Segment:
    """Blocks ``start`` to ``stop - 1`` of one anchor (``'S'`` or ``'L'``)."""

    anchor: str
    start: int
    stop: int


@dataclass(frozen=True)
class Stitch:
    """The jump from block ``last_block`` of ``source`` to block ``first_block`` of ``target``;
    ``key`` (e.g. ``s4-l10``) names its stitching layer."""

    source: str
    last_block: int
    target: str
    first_block: int

    @property
    def key(self) -> str:
        return f"{self.source.lower()}{self.last_block}-{self.target.lower()}{self.first_block}"


@dataclass(frozen=True)
class Route(Choice):
    """One sub-network: consecutive segments of alternating anchors (ids: module doc), keeping
    ``keep_rate`` of the tokens at each keep point (id suffix ``-k0.5``), on the input resized to
    ``resolution`` of its size (id suffix ``-r0.75``)."""

    segments: tuple[Segment, ...]
    keep_rate: float = 1.0
    resolution: float = 1.0

    @property
    def id(self) -> str:
        first, *rest = self.segments
        if not rest:
            return with_keep_rate(first.anchor, self.keep_rate, self.resolution)
        return with_keep_rate("-".join(
            [f"{first.anchor.lower()}{first.stop - 1}"]
            + [f"{segment.anchor.lower()}{segment.start}" for segment in rest]), self.keep_rate,
            self.resolution)

    @property
    def kind(self) -> str:
        return "-".join(segment.anchor for segment in self.segments)

    def stitches(self) -> tuple[Stitch, ...]:
        """The stitching layers the route passes through, in order."""
        return tuple(Stitch(before.anchor, before.stop - 1, after.anchor, after.start)
                     for before, after in zip(self.segments, self.segments[1:]))


def stitch_ratio(small_depth: int, large_depth: int) -> int:
    """Large blocks per small block; the depths must allow aligned stitching."""
    if small_depth < 1 or large_depth < small_depth or large_depth % small_depth:
        raise ValueError(
            f"cannot stitch a {small_depth}-block small anchor to a {large_depth}-block large "
            "anchor: the large anchor's depth must be a whole multiple (1, 2, 3, ...) of the "
            "small anchor's, e.g. 12/12 or 12/24")
    return large_depth // small_depth


def _check_boundaries(boundaries: Sequence[int] | None, small_depth: int) -> list[int]:
    allowed = list(range(1, small_depth))
    if boundaries is None:
        return allowed
    chosen = sorted(set(boundaries))
    outside = [b for b in chosen if b not in allowed]
    if outside:
        raise ValueError(f"stitch boundaries {outside} are not between blocks of a "
                         f"{small_depth}-block small anchor; allowed: 1 to {small_depth - 1}")
    return chosen


def enumerate_routes(small_depth: int, large_depth: int,
                     kinds: Sequence[str] = ROUTE_KINDS,
                     boundaries: Sequence[int] | None = None) -> list[Route]:
    """Every route of the requested ``kinds`` switching only at ``boundaries`` (counted in
    small blocks; default all ``1..small_depth-1``), ordered by kind then boundaries."""
    ratio = stitch_ratio(small_depth, large_depth)
    unknown = [kind for kind in kinds if kind not in ROUTE_KINDS]
    if unknown or not kinds:
        raise ValueError(f"unknown route kinds {unknown or list(kinds)}; allowed: "
                         f"{', '.join(ROUTE_KINDS)}")
    cuts = _check_boundaries(boundaries, small_depth)
    scale = {SMALL: 1, LARGE: ratio}
    routes = []
    for kind in dict.fromkeys(kinds):
        anchors = kind.split("-")
        combos = list(itertools.combinations(cuts, len(anchors) - 1))
        if not combos:
            raise ValueError(f"route kind {kind!r} needs {len(anchors) - 1} stitch boundaries; "
                             f"the {small_depth}/{large_depth} pair with boundaries {cuts} has "
                             f"{len(cuts)}")
        for combo in combos:
            edges = (0, *combo, small_depth)
            routes.append(Route(tuple(
                Segment(anchor, scale[anchor] * edges[i], scale[anchor] * edges[i + 1])
                for i, anchor in enumerate(anchors))))
    return routes
