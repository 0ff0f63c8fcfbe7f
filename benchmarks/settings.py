"""What every figure of the benchmark is told: sizes, rounds, threads, data and device."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# The DigitSeg models the figures measure (the main job and the stitched job).
MAIN_CONFIG = REPO / "configs/flexivit/flexivit-ti6_upernet_1.3k_digitseg-64x64.py"
STITCHED_CONFIG = REPO / "configs/snnet/snnet-tiny_upernet_digitseg-64x64.py"
ADE20K_STITCHED_CONFIG = REPO / "configs/snnet/snnet-deit3-s-l_upernet_ade20k-512x512.py"
# Quick runs narrow the models, shorten the ADE20K anchors and keep fewer DigitSeg routes.
QUICK_OPTIONS = {
    MAIN_CONFIG: {"model.backbone.embed_dim": 32, "model.backbone.num_heads": 2,
                  "model.neck.in_channels": [32] * 4, "model.neck.out_channels": 16,
                  "model.decode_head.in_channels": [16] * 4,
                  "model.decode_head.channels": 16},
    STITCHED_CONFIG: {"model.backbone.small.embed_dim": 16, "model.backbone.small.num_heads": 2,
                      "model.backbone.large.embed_dim": 32, "model.backbone.large.num_heads": 2,
                      "model.backbone.routes": ("S", "L", "S-L", "L-S"),
                      "model.neck.in_channels": [32] * 4, "model.neck.out_channels": 16,
                      "model.decode_head.in_channels": [16] * 4,
                      "model.decode_head.channels": 16},
    ADE20K_STITCHED_CONFIG: {"model.backbone.small": dict(embed_dim=16, depth=4, num_heads=2),
                             "model.backbone.large": dict(embed_dim=32, depth=8, num_heads=2),
                             "model.backbone.out_indices": (0, 1, 2, 3),
                             "model.backbone.lora_rank": 2,
                             "model.neck.in_channels": [32] * 4, "model.neck.out_channels": 16,
                             "model.decode_head.in_channels": [16] * 4,
                             "model.decode_head.channels": 16,
                             "model.auxiliary_head.in_channels": 16,
                             "model.auxiliary_head.channels": 16},
}


@dataclass(frozen=True)
class Settings:
    """``quick``: tiny sizes and one round, to check the output rather than to time anything.
    ``rounds``: timed rounds of every figure (None: each figure's own default).
    ``threads``: torch intra-op threads of the timed runs (None: torch's default).
    ``data_root``: DigitSeg for the figures that load real data.
    ``device``: where models run ('cpu' or 'cuda')."""

    quick: bool = False
    rounds: int | None = None
    threads: int | None = None
    data_root: Path = REPO / "data/digitseg"
    device: str = "cpu"
    show_progress: bool = True

    def options(self, config: Path, extra: dict | None = None) -> dict:
        """Config overrides for ``config``: ``extra``, on top of the quick run's narrowing."""
        return {**(QUICK_OPTIONS.get(config, {}) if self.quick else {}), **(extra or {})}

    @property
    def dataset_options(self) -> dict:
        """Dataset overrides: quick runs skip serialising the annotations (a full garbage
        collection per dataset, the slowest part of building a small one)."""
        return dict(serialize_data=False) if self.quick else {}

    def rounds_or(self, default: int) -> int:
        """The timed rounds of a figure whose own default is ``default``."""
        if self.quick:
            return 1
        return self.rounds or default

    @property
    def warmup(self) -> int:
        """Untimed runs of each side before timing (one-off allocations, cached kernels)."""
        return 0 if self.quick else 2
