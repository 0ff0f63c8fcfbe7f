"""Export one sub-network of a flexible model as a fixed-budget model.

    python tools/export.py CONFIG CHECKPOINT
        (--choice p16 | --budget 10 [--results R.json] | --latency-ms 20 --profile P.json)
        [--format flexseg|mmseg-vit|timm|onnx] [--out PATH] [--shape H W]
        [--batch N] [--check [--threads N]]
    python tools/export.py CONFIG CHECKPOINT --only-task-specific --shared BASE.pth [--out PATH]

flexseg (default): same weights, backbone pinned to the choice (+ config), exact for any choice.
mmseg-vit: MMSegmentation's stock VisionTransformer (+ config); FlexiViT at p == out_stride.
timm: the backbone as a timm VisionTransformer state dict (+ JSON constructor arguments).
onnx: the whole segmentor or depth estimator at the choice as an ONNX graph of static shape
    (batch, 3, H, W) -> logits or depth at H x W (needs the deploy extra); --check compares it
    with the torch model on the config's test set and times both.
--only-task-specific: the tensors the model does not share with BASE.pth, the backbone weights
    several tasks were fine-tuned from (attention-only fine-tuning); flexseg's
    ``load_task_specific(model, PATH, BASE.pth)`` puts the model back together.
"""
import argparse
import json
from pathlib import Path

import flexseg  # noqa: F401  (registers the models)
from flexseg.budget.space import build_budget_space
from flexseg.cli import ConfigOptions, run_cli
from flexseg.deploy.choose import pick_by_latency
from flexseg.deploy.latency import load_profile_for
from flexseg.deploy.loading import load_config, load_trained_model
from flexseg.evaluation import load_results, select_choices
from flexseg.evaluation.export import FORMATS, export_fixed_budget
from flexseg.evaluation.export.dense_forward import run_at_shape
from flexseg.evaluation.export.onnx import export_onnx, require_onnx
from flexseg.evaluation.export.task_specific import save_task_specific
from flexseg.layers.checks import check_int, check_size

ONNX = "onnx"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Export a fixed-budget sub-network")
    parser.add_argument("config", help="config of the flexible model")
    parser.add_argument("checkpoint", help="its checkpoint")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--choice", help="choice id, e.g. p16")
    which.add_argument("--budget", type=float,
                       help="GFLOPs per image: the best choice that fits (best by --results, "
                       "else the most expensive)")
    which.add_argument("--latency-ms", type=float,
                       help="milliseconds per call, from --profile: the best choice that fits "
                       "(best by --results or the profile's metric, else the most expensive)")
    parser.add_argument("--results", help="JSON of a previous multi-budget evaluation")
    parser.add_argument("--profile", help="latency profile JSON (tools/profile_latency.py)")
    parser.add_argument("--format", choices=[*FORMATS, ONNX], default="flexseg",
                        help="output format")
    parser.add_argument("--out", help="output file (default: next to CHECKPOINT)")
    parser.add_argument("--shape", "--image-size", dest="shape", type=int, nargs="+",
                        metavar="H [W]", help="image size fixing GFLOPs, the position-embedding "
                        "grid and the ONNX input (default: the backbone's img_size)")
    parser.add_argument("--batch", type=int, default=1, help="ONNX: images per call (static)")
    parser.add_argument("--check", action="store_true", help="ONNX: compare with torch on the "
                        "config's test set and time both (writes OUT.check.json)")
    parser.add_argument("--threads", type=int, help="ONNX check: threads of both backends")
    parser.add_argument("--cfg-options", nargs="+", action=ConfigOptions,
                        help="override config keys")
    shared = parser.add_argument_group("task-specific export")
    shared.add_argument("--only-task-specific", action="store_true",
                        help="write only the tensors that differ from --shared (no choice)")
    shared.add_argument("--shared", help="the backbone weights the tasks share (a pretrained "
                        "file as init_cfg loads it, or a checkpoint)")
    args = parser.parse_args()
    if args.only_task_specific:
        if not args.shared:
            parser.error("--only-task-specific needs --shared BASE.pth")
        if args.choice or args.budget is not None or args.latency_ms is not None:
            parser.error("--only-task-specific exports every choice: drop --choice, --budget "
                         "and --latency-ms")
    elif args.choice is None and args.budget is None and args.latency_ms is None:
        parser.error("one of the arguments --choice --budget --latency-ms is required")
    elif args.shared:
        parser.error("--shared applies to --only-task-specific")
    return args


def image_size(args: argparse.Namespace, cfg) -> tuple[int, int]:
    size = args.shape or cfg.model.backbone.get("img_size")
    if size is None:
        raise ValueError("the backbone config has no img_size; pass --shape H W")
    size = [size] if isinstance(size, int) else list(size)
    if len(size) not in (1, 2):
        raise ValueError(f"--shape takes H or H W, got {size}")
    return check_size("--shape", (size[0], size[-1]))


def priced_space(model, image_hw):
    """The budget space at ``image_hw``; one line if some choice cannot run at that size."""
    try:
        return build_budget_space(model, image_hw)
    except RuntimeError as error:
        raise ValueError(f"cannot price every choice at {image_hw[0]}x{image_hw[1]} (does the "
                         f"size fit every choice?): {str(error).splitlines()[0]}") from None


def pick(args: argparse.Namespace, model, image_hw) -> str:
    if args.choice is not None:
        return args.choice
    previous = load_results(args.results) if args.results else None
    space = priced_space(model, image_hw)
    if args.budget is not None:
        selection = select_choices(space, budgets=[args.budget], previous=previous)
        return selection.budget_picks[args.budget]
    return pick_by_latency(space, load_profile_for("--latency-ms", args.profile),
                           args.latency_ms, ranking=previous)


def export_graph(args: argparse.Namespace, cfg, model, choice: str, image_hw) -> None:
    from flexseg.deploy.onnx_check import check_onnx, describe_check
    from flexseg.deploy.onnx_runtime import OnnxRunner

    batch = check_int("--batch", args.batch, 1)
    out = Path(args.out or Path(args.checkpoint).with_name(
        f"{Path(args.checkpoint).stem}_{choice}.onnx"))
    run_at_shape(model, choice, image_hw, batch)  # one line if the shape does not fit
    try:
        metadata = dict(gflops=build_budget_space(model, image_hw).get(choice).gflops)
    except RuntimeError:
        metadata = {}  # another choice does not fit this shape: the space has no price here
    export_onnx(model, choice, image_hw, out, batch, metadata)
    print(f"wrote {out} ({choice}, inputs {batch}x3x{image_hw[0]}x{image_hw[1]})")
    if args.check:
        threads = check_int("--threads", args.threads, 1) if args.threads else None
        report = check_onnx(cfg, model, OnnxRunner(out, threads))
        print(describe_check(report))
        report_path = out.with_suffix(".check.json")
        report_path.write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {report_path}")


def export_task_specific(args: argparse.Namespace, model) -> None:
    out = args.out or Path(args.checkpoint).with_name(
        f"{Path(args.checkpoint).stem}_task-specific.pth")
    sizes = save_task_specific(model, args.shared, out)
    mib = {key: f"{value / 2**20:.2f}" for key, value in sizes.items()}
    print(f"wrote {out}: {sizes['kept']} task-specific tensors ({mib['kept_bytes']} MiB; "
          f"backbone {mib['kept_backbone_bytes']} of {mib['backbone_bytes']} MiB), "
          f"{sizes['shared']} from {args.shared}")


def main() -> None:
    args = parse_args()
    if args.only_task_specific:
        export_task_specific(args, load_trained_model(
            load_config(args.config, args.cfg_options), args.checkpoint))
        return
    if args.format == ONNX:
        require_onnx()
    elif args.check or args.batch != 1:
        raise ValueError("--check and --batch apply to --format onnx")
    cfg = load_config(args.config, args.cfg_options)
    image_hw = image_size(args, cfg)
    model = load_trained_model(cfg, args.checkpoint)
    choice = pick(args, model, image_hw)
    if args.format == ONNX:
        export_graph(args, cfg, model, choice, image_hw)
        return
    out = args.out or Path(args.checkpoint).with_name(
        f"{Path(args.checkpoint).stem}_{choice}_{args.format}.pth")
    for path in export_fixed_budget(cfg, model, choice, args.format, out, image_hw):
        print(f"wrote {path}")


if __name__ == "__main__":
    run_cli(main)
