"""Check the datasets of a config before a long run.

    python tools/check_dataset.py CONFIG [--splits train,val,test] [--cfg-options k=v ...]

Scans every configured split (the train/val/test dataloaders' datasets, each distinct one
once): files that are missing or do not decode, annotations whose size differs from their
image, labels outside the classes and the ignore index, empty splits. Prints one line per
problem naming the file, then a class-frequency table per split; exits with status 1 when it
found problems, 0 otherwise.
"""
import argparse

from mmengine.registry import DATASETS, init_default_scope

from flexseg.cli import ConfigOptions, load_config, run_cli
from flexseg.datasets.dataset_check import configured_splits, frequency_table, scan_dataset

SPLIT_NAMES = ("train", "val", "test")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Check a config's datasets")
    parser.add_argument("config", help="config file path")
    parser.add_argument("--splits", default=",".join(SPLIT_NAMES),
                        help="splits to check, e.g. train,val (default: all three)")
    parser.add_argument("--cfg-options", nargs="+", action=ConfigOptions,
                        help="override config keys, e.g. train_dataloader.dataset.data_root=DIR")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    wanted = tuple(s.strip() for s in args.splits.split(",") if s.strip())
    unknown = [s for s in wanted if s not in SPLIT_NAMES]
    if unknown or not wanted:
        raise ValueError(f"--splits takes {', '.join(SPLIT_NAMES)}, got {args.splits!r}")
    args.launcher, args.local_rank, args.work_dir = "none", 0, None
    cfg = load_config(args)
    init_default_scope(cfg.get("default_scope", "mmseg"))
    splits = configured_splits(cfg, wanted)
    if not splits:
        raise KeyError(f"{args.config} configures none of the splits {', '.join(wanted)}")
    reports, problems = [], []
    for name, dataset_cfg in splits:
        if "dataset" not in dataset_cfg and "datasets" not in dataset_cfg:  # not a wrapper
            # mmengine cannot serialise an empty list of samples; an empty split is reported
            dataset_cfg = {**dataset_cfg, "serialize_data": False}
        try:
            dataset = DATASETS.build(dataset_cfg)
            dataset.full_init()
        except (FileNotFoundError, ValueError, KeyError, OSError) as error:
            problems.append(f"{name}: cannot list the samples: {error}")
            continue
        report = scan_dataset(name, dataset, progress=not args.quiet)
        print(f"{name} ({report.description}): {report.samples} samples")
        reports.append(report)
        problems += report.problems
    for line in problems:
        print(f"problem: {line}")
    for report in reports:
        table = frequency_table(report)
        if table:
            print(f"\nclass frequencies, {report.name}:\n{table}")
    print(f"\n{len(problems)} problem(s)" if problems else "\nno problems found")
    if problems:
        raise SystemExit(1)


if __name__ == "__main__":
    run_cli(main)
