"""Time one multi-budget pass against separate test runs, one per choice, on the validation set.

    python tools/benchmark_multibudget.py CONFIG CHECKPOINT [--choices p8,p16,...]
        [--repeats 3] [--cfg-options k=v]

Both sides run in this process, interleaved, after one untimed warm-up of each (dataloader
workers, resized kernels, FLOP counting); each side's loop object is reused, as a training run
reuses its validation loop. The multi-budget side includes writing its reports. Printed: the
median wall-clock and CPU seconds of each side, their ratios (one pass / separate runs; lower
is better) and whether both sides produced the same metrics. CPU time (of this process, all its
threads) is the steadier figure on a shared machine; it misses dataloader worker processes, so
compare it with ``--cfg-options val_dataloader.num_workers=0``.
"""
import argparse
import statistics
import tempfile
import time

from mmengine.registry import RUNNERS
from mmengine.runner import Runner

import flexseg.evaluation  # noqa: F401  (registers the multi-budget loops)
from flexseg.cli import add_common_args, load_config, run_cli
from flexseg.evaluation.selection import parse_choices
from flexseg.models.contract import find_flexible

DEFAULT_K = 4


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Benchmark one multi-budget pass against "
                                     "separate test runs")
    parser.add_argument("config", help="config of a model with a flexible backbone")
    parser.add_argument("checkpoint", help="its checkpoint")
    parser.add_argument("--choices", help=f"ids, e.g. p8,p16 (default: {DEFAULT_K} choices "
                        "spread over the space)")
    parser.add_argument("--repeats", type=int, default=3, help="timed rounds of both sides")
    add_common_args(parser)
    return parser.parse_args()


def spread(ids: list[str], count: int) -> list[str]:
    """``count`` ids evenly spaced over the space's order (all of them if it is smaller)."""
    if len(ids) <= count:
        return ids
    return [ids[round(i * (len(ids) - 1) / (count - 1))] for i in range(count)]


def timed(run) -> tuple[tuple[float, float], dict]:
    """(wall seconds, CPU seconds) of ``run()`` and its result."""
    wall, cpu = time.perf_counter(), time.process_time()
    metrics = run()
    return (time.perf_counter() - wall, time.process_time() - cpu), metrics


def summary(name: str, times: list[tuple[float, float]]) -> tuple[float, float]:
    """Print and return the median (wall, CPU) seconds."""
    walls, cpus = [t[0] for t in times], [t[1] for t in times]
    print(f"{name}: wall median {statistics.median(walls):.2f} s "
          f"({', '.join(f'{t:.2f}' for t in walls)}); CPU median "
          f"{statistics.median(cpus):.2f} s ({', '.join(f'{t:.2f}' for t in cpus)})")
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    args = parse_args()
    cfg = load_config(args)
    cfg.test_dataloader, cfg.test_evaluator = cfg.val_dataloader, cfg.val_evaluator
    cfg.load_from = args.checkpoint
    runner = RUNNERS.build(cfg) if "runner_type" in cfg else Runner.from_cfg(cfg)
    runner.call_hook("before_run")  # as Runner.test does: hooks set up their log files
    runner.load_or_resume()
    backbone = find_flexible(runner.model)
    ids = (parse_choices(args.choices) if args.choices
           else spread([c.id for c in backbone.space()], DEFAULT_K))
    ids = [backbone.choice(choice_id).id for choice_id in ids]
    with tempfile.TemporaryDirectory() as reports:
        one_pass = runner.build_test_loop(
            dict(type="MultiBudgetTestLoop", choices=ids, out_dir=reports))
        separate = {choice_id: runner.build_test_loop(dict(type="TestLoop"))
                    for choice_id in ids}

        def run_separately() -> dict:
            metrics = {}
            for choice_id, loop in separate.items():
                backbone.activate(choice_id)
                metrics.update({f"{choice_id}/{k}": v for k, v in loop.run().items()})
            return metrics

        one_pass.run(), run_separately()  # warm-up
        one_pass_times, separate_times = [], []
        for _ in range(args.repeats):
            times, pass_metrics = timed(one_pass.run)
            one_pass_times.append(times)
            times, separate_metrics = timed(run_separately)
            separate_times.append(times)
        num_images = len(one_pass.dataloader.dataset)
    runner.call_hook("after_run")
    same = all(pass_metrics[key] == value for key, value in separate_metrics.items())
    print(f"choices: {', '.join(ids)}; {num_images} validation images; {args.repeats} rounds")
    one_wall, one_cpu = summary("one pass     ", one_pass_times)
    many_wall, many_cpu = summary("separate runs", separate_times)
    print(f"ratio one pass / separate: wall {one_wall / many_wall:.2f}, CPU "
          f"{one_cpu / many_cpu:.2f}; same metrics: {'yes' if same else 'NO'}")


if __name__ == "__main__":
    run_cli(main)
