"""Evaluate a checkpoint of an MMSegmentation or MMDetection config.

    python tools/test.py CONFIG CHECKPOINT [--out DIR|FILE.pkl] [--show-dir DIR] [--cfg-options k=v]
        [--amp [--amp-dtype float16|bfloat16]] [--compile [--compile-backend NAME]]

Models with a flexible backbone can be evaluated at several compute budgets in one pass:

    python tools/test.py CONFIG CHECKPOINT --choices all|pareto|p8,p16 [--budgets 5,10,20]
        [--results previous.json] [--reference baselines.json]

or at latency budgets measured on this machine (tools/profile_latency.py):

    python tools/test.py CONFIG CHECKPOINT --budgets-ms 10,20 --profile PROFILE.json

``--recalibrate-bn N`` first recomputes each choice's BN statistics (ChoiceBatchNorm layers) on N
training batches with the checkpoint's weights.
"""
import argparse
from pathlib import Path

from mmengine.registry import RUNNERS
from mmengine.runner import Runner

import flexseg.evaluation  # noqa: F401  (registers the multi-budget loops)
from flexseg.cli import (add_amp_args, add_common_args, add_compile_args, apply_amp_args,
                         apply_compile_args, load_config, run_cli)
from flexseg.compat.checkpoint_fit import check_checkpoint_fits
from flexseg.deploy.choose import pick_by_latencies, profile_space
from flexseg.deploy.latency import load_profile_for
from flexseg.evaluation.results import load_results
from flexseg.evaluation.selection import ALL, parse_budgets, parse_choices

MULTI_BUDGET_LOOP = "MultiBudgetTestLoop"
BUDGET_VISUALIZATION = "BudgetVisualizationHook"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Test (and evaluate) a model")
    parser.add_argument("config", help="test config file path")
    parser.add_argument("checkpoint", help="checkpoint file")
    parser.add_argument("--out", help="segmentation: directory for the predicted label maps; "
                        "detection: a .pkl file for the raw results (multi-budget: one per "
                        "choice, DIR/<id>/ or FILE_<id>.pkl)")
    parser.add_argument("--show", action="store_true", help="show predictions in a window")
    parser.add_argument("--show-dir", help="directory where painted predictions are saved "
                        "(multi-budget: one picture per image, every choice side by side)")
    parser.add_argument("--wait-time", type=float, default=2, help="seconds between shown images")
    parser.add_argument("--tta", action="store_true", help="test-time augmentation")
    parser.add_argument("--recalibrate-bn", type=int, metavar="N",
                        help="recompute each choice's BN statistics (ChoiceBatchNorm layers; "
                        "a stock BN checkpoint loads into them) on N training batches first")
    add_amp_args(parser, "the test loop")
    add_compile_args(parser)
    budgets = parser.add_argument_group(
        "multi-budget evaluation (flexible backbones; one pass, one metric set per choice)")
    budgets.add_argument("--choices", help="all, pareto (needs --results) or ids, e.g. p8,p16")
    budgets.add_argument("--budgets", help="GFLOPs per image, e.g. 5,10,20: the best choice "
                         "under each (best by --results, else the most expensive)")
    budgets.add_argument("--budgets-ms", help="milliseconds per call, e.g. 10,20: the best "
                         "choice within each by --profile's latencies (best by --results or "
                         "the profile's metric, else the most expensive)")
    budgets.add_argument("--profile", help="latency profile JSON (tools/profile_latency.py) "
                         "for --budgets-ms")
    budgets.add_argument("--results", help="JSON written by a previous multi-budget run")
    budgets.add_argument("--reference", help="JSON/CSV of baseline points (name, gflops, "
                         "metrics) for the plot")
    add_common_args(parser)
    return parser.parse_args()


def enable_visualization(cfg, args: argparse.Namespace) -> None:
    hook = cfg.default_hooks.get("visualization")
    if hook is None:
        raise KeyError("--show/--show-dir need default_hooks.visualization in the config")
    multi_budget = (cfg.get("test_cfg") or {}).get("type") == MULTI_BUDGET_LOOP
    if multi_budget and hook.get("type") != BUDGET_VISUALIZATION:
        # The stock hooks draw one choice; this one puts every evaluated choice side by side.
        cfg.default_hooks["visualization"] = dict(type=BUDGET_VISUALIZATION)
        hook = cfg.default_hooks["visualization"]
    hook["draw"] = True
    if args.show:
        hook["show"], hook["wait_time"] = True, args.wait_time
    if args.show_dir:
        cfg.visualizer["save_dir"] = args.show_dir
        # mmdet's hook writes where test_out_dir says; mmseg's through the visualizer.
        hook["test_out_dir"] = args.show_dir


def save_outputs(cfg, out: str) -> None:
    if cfg.get("default_scope") == "mmdet":
        if not out.endswith((".pkl", ".pickle")):
            raise ValueError(f"--out for a detection config must be a .pkl file, got {out}")
        evaluators = cfg.test_evaluator if isinstance(cfg.test_evaluator, list) \
            else [cfg.test_evaluator]
        cfg.test_evaluator = [*evaluators, dict(type="DumpDetResults", out_file_path=out)]
    else:
        cfg.test_evaluator["output_dir"] = out
        cfg.test_evaluator["keep_results"] = True


def resolve_latency_budgets(args: argparse.Namespace) -> None:
    """--budgets-ms: the choices picked under each latency cap become ``--choices``."""
    if args.budgets_ms is None:
        return
    if args.budgets is not None:
        raise ValueError("give --budgets (GFLOPs) or --budgets-ms (milliseconds), not both")
    profile = load_profile_for("--budgets-ms", args.profile)
    ranking = load_results(args.results) if args.results else None
    picks = pick_by_latencies(profile_space(profile), profile, args.budgets_ms,
                              parse_choices(args.choices or ALL), ranking)
    print("latency budgets: " + ", ".join(f"{cap:g} ms -> {choice_id}"
                                          for cap, choice_id in picks.items()))
    args.choices = ",".join(dict.fromkeys(picks.values()))


def enable_multi_budget(cfg, args: argparse.Namespace) -> None:
    """Switch to (or update) the multi-budget test loop when any of its flags is given."""
    flags = dict(choices=args.choices, budgets=args.budgets, results=args.results,
                 reference=args.reference)
    if all(value is None for value in flags.values()):
        return
    parse_choices(args.choices or ALL)  # refused here, before anything is built
    parse_budgets(args.budgets)
    loop = dict(cfg.get("test_cfg") or {})
    if loop.get("type") != MULTI_BUDGET_LOOP:
        loop = dict(type=MULTI_BUDGET_LOOP, fp16=loop.get("fp16", False))
    loop.update({key: value for key, value in flags.items() if value is not None})
    cfg.test_cfg = loop


def main() -> None:
    args = parse_args()
    if not Path(args.checkpoint).is_file():
        raise FileNotFoundError(f"checkpoint not found: {args.checkpoint}")
    cfg = load_config(args)
    cfg.load_from = args.checkpoint
    resolve_latency_budgets(args)
    enable_multi_budget(cfg, args)
    apply_amp_args(cfg, args, train=False)
    apply_compile_args(cfg, args)
    if args.show or args.show_dir:
        enable_visualization(cfg, args)
    if args.out:
        save_outputs(cfg, args.out)
    if args.recalibrate_bn is not None:
        cfg.custom_hooks = [*cfg.get("custom_hooks", []), dict(
            type="ChoiceNormCalibrationHook", num_batches=args.recalibrate_bn, at_test=True)]
    if args.tta:
        if "tta_model" not in cfg or "tta_pipeline" not in cfg:
            raise KeyError("--tta needs tta_model and tta_pipeline in the config")
        cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
        cfg.tta_model.module = cfg.model
        cfg.model = cfg.tta_model
    runner = RUNNERS.build(cfg) if "runner_type" in cfg else Runner.from_cfg(cfg)
    check_checkpoint_fits(runner.model, args.checkpoint)
    runner.test()


if __name__ == "__main__":
    run_cli(main)
