"""AMP: a training step under bfloat16 autocast against float32, on the device at hand.

The main job's model (FlexiViT-Ti6 + UPerNet, DigitSeg 64x64, batch 16): one training step
(forward in tensor mode, backward) at a cheap and a dear patch size, in interleaved rounds; the
figure is the median per-round ratio autocast / float32. On a CPU, bfloat16 pays only where the
processor multiplies it natively (AVX512-BF16 or AMX); elsewhere it is emulated and slower, so
the note says which this machine has.
"""
from __future__ import annotations

from pathlib import Path

import torch

from flexseg.budget import default_image_hw

from .models import build_config_model
from .report import Goal, Row
from .settings import MAIN_CONFIG, Settings
from .timing import interleaved, median_ratio

GOAL = Goal("<=", 1.0)
NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def native_bf16_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> list[str]:
    """The processor flags that give native bfloat16 arithmetic (Linux; empty elsewhere)."""
    try:
        flags = set(cpuinfo.read_text().split())
    except OSError:
        return []
    return [flag for flag in NATIVE_BF16_FLAGS if flag in flags]


def _step(model: torch.nn.Module, x: torch.Tensor, device: str, bf16: bool) -> None:
    with torch.autocast(device, dtype=torch.bfloat16, enabled=bf16):
        out = model(x, mode="tensor")
    out.float().mean().backward()


def run(settings: Settings) -> list[Row]:
    cfg, model = build_config_model(MAIN_CONFIG, settings.options(MAIN_CONFIG), settings.device)
    model.train()
    batch = 2 if settings.quick else 16
    x = torch.randn(batch, 3, *default_image_hw(cfg), device=settings.device)
    device = "cuda" if settings.device.startswith("cuda") else "cpu"
    native = native_bf16_flags() if device == "cpu" else ["GPU"]
    note = f"native bfloat16: {', '.join(native) or 'none (emulated)'}"
    rows = []
    for choice in ("p16",) if settings.quick else ("p8", "p4"):
        model.backbone.activate(choice)
        times = interleaved(dict(float32=lambda: _step(model, x, device, False),
                                 bfloat16=lambda: _step(model, x, device, True)),
                            settings.rounds_or(11), settings.warmup, f"AMP {choice}",
                            settings.show_progress)
        rows.append(Row("AMP", f"training step at {choice}, batch {batch}: bfloat16 autocast "
                        "/ float32", median_ratio(times, "bfloat16", "float32"), "x", GOAL, note,
                        dict(times_s=times, native_bf16=native)))
    return rows
