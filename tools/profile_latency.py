"""Measure how fast every choice of a flexible model runs on this machine.

    python tools/profile_latency.py CONFIG CHECKPOINT [--backend torch|onnxruntime]
        [--batch N] [--shape H W] [--threads N] [--rounds R] [--results multibudget_test.json]
        [--out PROFILE.json]

Per choice: median and p95 milliseconds per call of a preprocessed batch (backbone, neck, head),
images/s and peak resident memory, with a fingerprint of the machine, threads and library
versions. Writes PROFILE.json and PROFILE.md (the table); with --results (what
``tools/test.py --choices all`` writes) the metric joins the table and PROFILE.png plots it
against latency with its Pareto front. The profile then picks choices by latency:
``tools/test.py --budgets-ms``, ``tools/export.py --latency-ms``, ``FlexInferencer(...,
profile=PROFILE.json)(image, latency_ms=20)``.
"""
import argparse
import time
from pathlib import Path

import flexseg  # noqa: F401  (registers the models)
from flexseg.budget.space import build_budget_space, default_image_hw
from flexseg.cli import ConfigOptions, run_cli
from flexseg.deploy.latency import BACKENDS
from flexseg.deploy.loading import load_config, load_trained_model
from flexseg.deploy.profile import merge_metric, profile_model
from flexseg.deploy.report import describe_setting, plot_latency_front, to_markdown
from flexseg.evaluation import load_results
from flexseg.layers.checks import check_int, check_size


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Profile every choice's latency")
    parser.add_argument("config", help="config of the flexible model")
    parser.add_argument("checkpoint", help="its checkpoint")
    parser.add_argument("--backend", default="torch",
                        help=f"what runs the model: {' or '.join(BACKENDS)}")
    parser.add_argument("--batch", type=int, default=1, help="images per call")
    parser.add_argument("--shape", type=int, nargs=2, metavar=("H", "W"),
                        help="input size (default: the config's test size)")
    parser.add_argument("--threads", type=int,
                        help="intra-op threads (default: torch's, i.e. OMP_NUM_THREADS)")
    parser.add_argument("--rounds", type=int, default=30, help="timed calls per choice")
    parser.add_argument("--warmup", type=int, default=3, help="untimed calls per choice")
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N] (torch backend)")
    parser.add_argument("--results", help="multi-budget results JSON to merge (metric column "
                        "and latency-vs-metric plot)")
    parser.add_argument("--onnx-dir", help="keep the exported graphs here (onnxruntime)")
    parser.add_argument("--out", help="profile JSON (default: work_dirs/<config "
                        "name>/latency_<backend>.json)")
    parser.add_argument("--cfg-options", nargs="+", action=ConfigOptions,
                        help="override config keys")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.backend not in BACKENDS:
        raise ValueError(f"unknown backend {args.backend!r}; choose {' or '.join(BACKENDS)}")
    batch = check_int("--batch", args.batch, 1)
    rounds = check_int("--rounds", args.rounds, 1)
    warmup = check_int("--warmup", args.warmup, 0)
    threads = check_int("--threads", args.threads, 1) if args.threads is not None else None
    previous = load_results(args.results) if args.results else None
    cfg = load_config(args.config, args.cfg_options)
    shape = check_size("--shape", tuple(args.shape)) if args.shape else default_image_hw(cfg)
    began = time.perf_counter()
    model = load_trained_model(cfg, args.checkpoint, args.device)
    space = build_budget_space(model, shape)
    profile = profile_model(model, space, shape, batch, args.backend, threads, rounds, warmup,
                            args.device, args.onnx_dir)
    if previous is not None:
        merge_metric(profile, previous)
    out = Path(args.out or Path("work_dirs") / Path(args.config).stem /
               f"latency_{args.backend}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    profile.save(out)
    table = to_markdown(profile)
    out.with_suffix(".md").write_text(table + "\n")
    written = [out, out.with_suffix(".md")]
    if previous is not None:
        plot_latency_front(profile, out.with_suffix(".png"))
        written.append(out.with_suffix(".png"))
    print(f"{len(space)} choices, {describe_setting(profile)}, {rounds} calls each "
          f"(profiled in {time.perf_counter() - began:.1f} s):\n{table}")
    for path in written:
        print(f"wrote {path}")


if __name__ == "__main__":
    run_cli(main)
