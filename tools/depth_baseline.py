"""Evaluate the trivial depth baseline of a depth config: the training set's mean depth
predicted at every test pixel, with the config's test metric.

    python tools/depth_baseline.py CONFIG [--cfg-options k=v ...]
"""
import argparse

from mmengine.config import Config

import flexseg  # noqa: F401  (registers the depth transform and metric)
from flexseg.cli import ConfigOptions, run_cli
from flexseg.evaluation.depth_baseline import evaluate_constant, training_mean_depth


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Metrics of predicting the training mean depth")
    parser.add_argument("config", help="depth config file path")
    parser.add_argument("--cfg-options", nargs="+", action=ConfigOptions,
                        help="override config keys, e.g. test_dataloader.dataset.data_root=...")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    mean = training_mean_depth(cfg)
    metrics = evaluate_constant(cfg, mean)
    print(f"training mean depth: {mean:.4f}")
    print("| " + " | ".join(metrics) + " |")
    print("|" + "---|" * len(metrics))
    print("| " + " | ".join(f"{value:.3f}" for value in metrics.values()) + " |")


if __name__ == "__main__":
    run_cli(main)
