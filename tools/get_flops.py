"""Print the budget space of a config: every backbone choice with the whole model's GFLOPs.

    python tools/get_flops.py CONFIG [--shape H W] [--json OUT] [--cfg-options k=v ...]

GFLOPs are multiply-adds / 1e9 for one image (see flexseg.budget.space); the default image size
is the training size of the config (model.data_preprocessor.size, else crop_size).
"""
import argparse

from flexseg.budget import build_budget_space, default_image_hw, format_table
from flexseg.cli import ConfigOptions, build_model_for_analysis, run_cli
from flexseg.layers.checks import check_size


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="GFLOPs and parameters of every choice")
    parser.add_argument("config", help="config file path")
    parser.add_argument("--shape", type=int, nargs=2, metavar=("H", "W"),
                        help="image size (default: the config's training size)")
    parser.add_argument("--json", metavar="OUT", help="also write the table as JSON to OUT")
    parser.add_argument("--cfg-options", nargs="+", action=ConfigOptions,
                        help="override config keys, e.g. model.backbone.depth=6")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    shape = check_size("--shape H W", tuple(args.shape)) if args.shape else None
    cfg, model = build_model_for_analysis(args)
    image_hw = shape or default_image_hw(cfg)
    space = build_budget_space(model, image_hw)
    print(format_table(space))
    if args.json:
        space.to_json(args.json)
        print(f"wrote {args.json}")


if __name__ == "__main__":
    run_cli(main)
