"""Train an MMSegmentation or MMDetection model from a config file.

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp [--amp-dtype D]]
        [--compile [--compile-backend NAME]] [--cfg-options k=v]
"""
import argparse
from pathlib import Path

from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from flexseg.cli import (add_amp_args, add_common_args, add_compile_args, apply_amp_args,
                         apply_compile_args, load_config, run_cli)
from flexseg.compat.resume import resume_checkpoint


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Train a segmentor or detector")
    parser.add_argument("config", help="train config file path")
    parser.add_argument("--resume", nargs="?", type=str, const="auto",
                        help="resume from CKPT, or from the latest checkpoint in the work dir "
                        "when no path is given")
    add_amp_args(parser, "training steps and multi-budget validation")
    add_compile_args(parser)
    parser.add_argument("--auto-scale-lr", action="store_true",
                        help="scale the learning rate by the total batch size")
    add_common_args(parser)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    cfg = load_config(args)
    apply_amp_args(cfg, args, train=True)
    apply_compile_args(cfg, args)
    if args.resume == "auto":
        cfg.resume, cfg.load_from = True, resume_checkpoint(cfg.work_dir)
    elif args.resume is not None:
        if not Path(args.resume).is_file():
            raise FileNotFoundError(f"--resume: checkpoint not found: {args.resume}")
        cfg.resume, cfg.load_from = True, args.resume
    if args.auto_scale_lr:
        if "auto_scale_lr" not in cfg or "base_batch_size" not in cfg.auto_scale_lr:
            raise KeyError("--auto-scale-lr needs auto_scale_lr=dict(base_batch_size=...) "
                           "in the config")
        cfg.auto_scale_lr.enable = True
    runner = RUNNERS.build(cfg) if "runner_type" in cfg else Runner.from_cfg(cfg)
    runner.train()


if __name__ == "__main__":
    run_cli(main)
