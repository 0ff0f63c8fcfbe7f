"""Export one sub-network of a flexible model as a fixed-budget checkpoint.

    python tools/export.py CONFIG CHECKPOINT (--choice p16 | --budget 10 [--results R.json])
        [--format flexseg|mmseg-vit|timm] [--out PATH] [--image-size H [W]]

flexseg (default): same weights, backbone pinned to the choice (+ config), exact for any choice.
mmseg-vit: MMSegmentation's stock VisionTransformer (+ config); FlexiViT at p == out_stride.
timm: the backbone as a timm VisionTransformer state dict (+ JSON constructor arguments).
"""
import argparse
from pathlib import Path

from mmengine.config import Config
from mmengine.registry import MODELS, init_default_scope
from mmengine.runner import load_checkpoint

import flexseg  # noqa: F401  (registers the models)
from flexseg.budget.space import build_budget_space
from flexseg.cli import ConfigOptions, run_cli
from flexseg.compat import allow_mmengine_checkpoints
from flexseg.compat.checkpoint_fit import check_checkpoint_fits
from flexseg.evaluation import load_results, select_choices
from flexseg.evaluation.export import FORMATS, export_fixed_budget
from flexseg.layers.checks import check_size


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Export a fixed-budget sub-network")
    parser.add_argument("config", help="config of the flexible model")
    parser.add_argument("checkpoint", help="its checkpoint")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--choice", help="choice id, e.g. p16")
    which.add_argument("--budget", type=float,
                       help="GFLOPs per image: the best choice that fits (best by --results, "
                       "else the most expensive)")
    parser.add_argument("--results", help="JSON of a previous multi-budget evaluation")
    parser.add_argument("--format", choices=FORMATS, default="flexseg", help="output format")
    parser.add_argument("--out", help="output checkpoint (default: next to CHECKPOINT)")
    parser.add_argument("--image-size", type=int, nargs="+", metavar="H [W]",
                        help="image size fixing GFLOPs and the position-embedding grid "
                        "(default: the backbone's img_size)")
    parser.add_argument("--cfg-options", nargs="+", action=ConfigOptions,
                        help="override config keys")
    return parser.parse_args()


def image_size(args: argparse.Namespace, cfg: Config) -> tuple[int, int]:
    size = args.image_size or cfg.model.backbone.get("img_size")
    if size is None:
        raise ValueError("the backbone config has no img_size; pass --image-size H [W]")
    size = [size] if isinstance(size, int) else list(size)
    if len(size) not in (1, 2):
        raise ValueError(f"--image-size takes H or H W, got {size}")
    return check_size("--image-size", (size[0], size[-1]))


def main() -> None:
    args = parse_args()
    for path in (args.config, args.checkpoint):
        if not Path(path).is_file():
            raise FileNotFoundError(f"file not found: {path}")
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    image_hw = image_size(args, cfg)
    init_default_scope(cfg.get("default_scope", "mmseg"))
    allow_mmengine_checkpoints()
    model = MODELS.build(cfg.model)
    check_checkpoint_fits(model, args.checkpoint)
    load_checkpoint(model, args.checkpoint, map_location="cpu", strict=True)
    model.eval()
    choice = args.choice
    if args.budget is not None:
        previous = load_results(args.results) if args.results else None
        selection = select_choices(build_budget_space(model, image_hw), budgets=[args.budget],
                                   previous=previous)
        choice = selection.budget_picks[args.budget]
    out = args.out or Path(args.checkpoint).with_name(
        f"{Path(args.checkpoint).stem}_{choice}_{args.format}.pth")
    for path in export_fixed_budget(cfg, model, choice, args.format, out, image_hw):
        print(f"wrote {path}")


if __name__ == "__main__":
    run_cli(main)
