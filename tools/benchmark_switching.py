"""What switching choice between calls costs a FlexInferencer (goal: under 1% of the cheapest
choice's latency), and whether switched calls give exactly the pinned calls' outputs.

    python tools/benchmark_switching.py CONFIG CHECKPOINT [--threads N] [--batch N]
        [--rounds R] [--out REPORT.json]

The batch is the config's image size, synthetic; see flexseg/deploy/switching.py for what is
timed.
"""
import argparse
import json
from pathlib import Path

import torch

import flexseg  # noqa: F401  (registers the models)
from flexseg.cli import run_cli
from flexseg.deploy.inferencer import FlexInferencer
from flexseg.deploy.switching import switching_report
from flexseg.layers.checks import check_int

GOAL = 0.01


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Cost of switching choice between calls")
    parser.add_argument("config", help="config of the flexible model")
    parser.add_argument("checkpoint", help="its checkpoint")
    parser.add_argument("--threads", type=int, help="torch's intra-op threads")
    parser.add_argument("--batch", type=int, default=1, help="images per call")
    parser.add_argument("--rounds", type=int, default=30, help="timed rounds")
    parser.add_argument("--out", help="write the report as JSON")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.threads is not None:
        torch.set_num_threads(check_int("--threads", args.threads, 1))
    batch_size = check_int("--batch", args.batch, 1)
    rounds = check_int("--rounds", args.rounds, 1)
    inferencer = FlexInferencer(args.config, args.checkpoint)
    generator = torch.Generator().manual_seed(0)
    batch = torch.randn(batch_size, 3, *inferencer.space.image_hw, generator=generator)
    report = switching_report(inferencer, batch, rounds)
    print(f"batch {batch_size} at {'x'.join(map(str, inferencer.space.image_hw))}, "
          f"{torch.get_num_threads()} threads, {rounds} rounds")
    print("| choice | pinned ms | switched ms | switched - pinned (median) ms |")
    print("|---|---|---|---|")
    for key, entry in report["choices"].items():
        print(f"| {key} | {entry['pinned_ms']:.3f} | {entry['switched_ms']:.3f} | "
              f"{entry['extra_ms']:+.3f} |")
    print(f"switch (select + activate): {report['switch_us']:.1f} us = "
          f"{100 * report['switch_share']:.3f}% of {report['cheapest']}'s "
          f"{report['cheapest_ms']:.2f} ms (goal < {100 * GOAL:g}%)")
    print(f"largest switched - pinned call: {report['largest_extra_ms']:+.3f} ms = "
          f"{100 * report['call_share']:+.2f}% of {report['cheapest']}'s latency")
    print(f"switched outputs identical to pinned: {report['identical']}")
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {args.out}")


if __name__ == "__main__":
    run_cli(main)
