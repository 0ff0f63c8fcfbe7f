"""Every performance figure beside its reference, measured in one process, as one table.

    python tools/benchmark.py [--only P1,P2,...] [--threads N] [--rounds R] [--quick]
        [--json OUT] [--data-root DIR]

Prints a Markdown table (figure, value, goal, note, command) and writes every measurement to
JSON. Figures: P1 FlexiViT vs timm; P2 training step vs MMSegmentation's ViT; P2s causes of
the spread of step times; P3a one multi-budget pass vs a test run per choice; P3b shared-
prefix evaluation; PRE preprocessing once per batch; P4 analytic vs counted FLOPs; P5 latency
vs GFLOPs order; P6 backbone vs matmul speed; MEM training-step memory with checkpointing;
PRICE pricing the ADE20K stitched space; PAR parallel blocks vs their sequential twin; ATTN
attention-only fine-tuning's training memory; CMP torch.compile vs eager; AMP bfloat16
autocast vs float32 (module docs in benchmarks/). Time on an otherwise idle machine. --quick
runs tiny sizes and one round: it checks the output, it times nothing.
"""
import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/ is not installed
from benchmarks import (FIGURES, Settings, digitseg_root, select_figures,  # noqa: E402
                        to_markdown, write_json)
from benchmarks.settings import REPO  # noqa: E402
from flexseg.cli import run_cli  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Measure every performance figure")
    parser.add_argument("--only", help="figures to run, e.g. P1,P3b (default: all of "
                        f"{', '.join(figure.id for figure in FIGURES)})")
    parser.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's)")
    parser.add_argument("--rounds", type=int, help="timed rounds of every figure (default: "
                        "each figure's own)")
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes, one round: checks the output, times nothing")
    parser.add_argument("--json", help="where the measurements go (default: "
                        "work_dirs/benchmark/benchmark[-quick].json)")
    parser.add_argument("--data-root", type=Path,
                        help="DigitSeg for P2s and P3a (default: data/digitseg; quick runs "
                        "generate a tiny copy)")
    return parser.parse_args()


def command(figure_id: str, args: argparse.Namespace) -> str:
    """The command line that measures ``figure_id`` as this run did."""
    options = [f"--only {figure_id}"]
    options += [f"--{name} {value}" for name, value in (("threads", args.threads),
                                                         ("rounds", args.rounds)) if value]
    return " ".join(["python tools/benchmark.py", *options, *["--quick"] * args.quick])


def main() -> None:
    args = parse_args()
    figures = select_figures(args.only)
    for name in ("threads", "rounds"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            raise ValueError(f"--{name} must be at least 1")
    if args.threads:
        torch.set_num_threads(args.threads)
    device = "cuda" if torch.cuda.is_available() and not args.quick else "cpu"
    needed = any(figure.needs_data for figure in figures)
    with digitseg_root(args.data_root, REPO / "data/digitseg", args.quick, needed) as root:
        settings = Settings(quick=args.quick, rounds=args.rounds, threads=args.threads,
                            data_root=root, device=device, show_progress=not args.quick)
        rows = []
        for figure in figures:
            print(f"{figure.id}: {figure.title}", file=sys.stderr, flush=True)
            began = time.perf_counter()
            rows += figure.run(settings)
            print(f"{figure.id}: done in {time.perf_counter() - began:.0f} s", file=sys.stderr,
                  flush=True)
    commands = {figure.id: command(figure.id, args) for figure in figures}
    print(to_markdown(rows, commands))
    out = args.json or REPO / "work_dirs/benchmark" / (
        "benchmark-quick.json" if args.quick else "benchmark.json")
    write_json(rows, commands, dict(quick=args.quick, rounds=args.rounds,
                                    threads=torch.get_num_threads(), device=device,
                                    data_root=str(root), torch=torch.__version__), out)
    print(f"wrote {out}")


if __name__ == "__main__":
    run_cli(main)
