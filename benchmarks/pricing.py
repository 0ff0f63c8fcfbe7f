"""Pricing: the time to build the ADE20K stitched budget space (DeiT-III S/L, 134 routes, UPerNet
at 512 x 512), the path of ``tools/get_flops.py``: build the model from the config, then cost
every route (the backbone analytically, the neck and head counted once per map shape).

The figure is the wall-clock time of both steps in this process (imports excluded); the note
splits it and gives the CPU time, and timing runs also time the whole command in a new process
(interpreter start and imports included). Quick runs price the DigitSeg stitched space.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time

from flexseg.budget import build_budget_space, default_image_hw
from flexseg.cli import build_model_for_analysis

from .report import Goal, Row
from .settings import ADE20K_STITCHED_CONFIG, REPO, STITCHED_CONFIG, Settings

GOAL = Goal("<=", 10.0, "s")


def _clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def run(settings: Settings) -> list[Row]:
    config = STITCHED_CONFIG if settings.quick else ADE20K_STITCHED_CONFIG
    began = _clock()
    cfg, model = build_model_for_analysis(argparse.Namespace(config=str(config),
                                                             cfg_options=None))
    built = _clock()
    space = build_budget_space(model, default_image_hw(cfg))
    priced = _clock()
    wall, cpu = priced[0] - began[0], priced[1] - began[1]
    details = dict(build_s=built[0] - began[0], price_s=priced[0] - built[0], cpu_s=cpu,
                   choices=len(space))
    note = (f"build {details['build_s']:.1f} s + price {details['price_s']:.1f} s; "
            f"CPU {cpu:.1f} s")
    if not settings.quick:
        started = time.perf_counter()
        subprocess.run([sys.executable, str(REPO / "tools/get_flops.py"), str(config)],
                       check=True, stdout=subprocess.DEVNULL)
        details["command_s"] = time.perf_counter() - started
        note += f"; whole command {details['command_s']:.1f} s"
    return [Row("PRICE", f"{config.stem}: budget space of {len(space)} choices", wall, "s",
                GOAL, note, details)]
