"""Time every choice of a config's model and compare the latency ranking with the GFLOPs one.

    python tools/benchmark_latency_rank.py CONFIG [--shape H W] [--batch N] [--rounds R]
        [--warmup W] [--threads T] [--cfg-options k=v ...]

Prints per choice the GFLOPs (one image) and the median forward latency (ms per batch of
--batch images), then Spearman's rank correlation between the two.
"""
import argparse

import torch
from mmengine.config import DictAction

from flexseg.budget import build_budget_space, default_image_hw
from flexseg.budget.latency import median_latencies_ms, spearman_rho
from flexseg.cli import build_model_for_analysis, run_cli


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="latency vs GFLOPs ranking of the choices")
    parser.add_argument("config", help="config file path")
    parser.add_argument("--shape", type=int, nargs=2, metavar=("H", "W"),
                        help="image size (default: the config's training size)")
    parser.add_argument("--batch", type=int, default=1, help="images per forward pass")
    parser.add_argument("--rounds", type=int, default=20,
                        help="timed passes per choice (interleaved across choices)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed passes per choice")
    parser.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's)")
    parser.add_argument("--cfg-options", nargs="+", action=DictAction,
                        help="override config keys, e.g. model.backbone.depth=6")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg, model = build_model_for_analysis(args)
    image_hw = tuple(args.shape) if args.shape else default_image_hw(cfg)
    space = build_budget_space(model, image_hw)
    latencies = median_latencies_ms(model, space, args.batch, args.rounds, args.warmup)
    print(f"{image_hw[0]}x{image_hw[1]}, batch {args.batch}, {torch.get_num_threads()} "
          f"thread(s), median of {args.rounds} interleaved rounds")
    print(f"{'choice':>8} {'GFLOPs':>10} {'ms':>10}")
    for entry in space:
        print(f"{entry.id:>8} {entry.gflops:>10.4f} {latencies[entry.id]:>10.2f}")
    rho = spearman_rho([entry.gflops for entry in space], [latencies[e.id] for e in space])
    print(f"Spearman rho (GFLOPs vs latency) over {len(space)} choices: {rho:.3f}")


if __name__ == "__main__":
    run_cli(main)
