"""Pretrain a backbone on DigitTags (which digits a scene shows) and write its weights in the
formats real pretrained weights come in (timm state dict, big_vision .npz).

    python tools/pretrain.py CONFIG [--out pretrained] [--work-dir DIR] [--cfg-options k=v ...]

Re-running resumes from ``<work dir>/latest.pth``; finished runs are not repeated unless
``--force``. Writes ``<out>/<name>.pth`` (and ``.npz``) and ``<out>/<name>.json`` with the
settings, the training time and the validation set accuracy at every patch size.
"""
import argparse
import json
import shutil
from pathlib import Path

from mmengine.config import Config

from flexseg.cli import ConfigOptions, run_cli
from flexseg.pretrain.masked import pretrainer_class


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("config", help="pretraining config (configs/pretrain/*.py)")
    parser.add_argument("--out", default="pretrained", help="folder of the weight files")
    parser.add_argument("--work-dir", help="resumable checkpoints "
                        "(default work_dirs/pretrain/<config name>)")
    parser.add_argument("--force", action="store_true",
                        help="start over even if a checkpoint or finished weights exist")
    parser.add_argument("--cfg-options", nargs="+", action=ConfigOptions,
                        help="override config keys, e.g. schedule.steps=10")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    path = Path(args.config)
    if not path.is_file():
        raise FileNotFoundError(f"config file not found: {path}")
    cfg = Config.fromfile(str(path))
    if args.cfg_options:
        unknown = sorted({k for k in args.cfg_options if k.split(".")[0] not in cfg})
        if unknown:
            raise KeyError(f"--cfg-options sets unknown config keys: {', '.join(unknown)} "
                           f"(top-level keys of {path}: {', '.join(sorted(cfg.keys()))})")
        cfg.merge_from_dict(args.cfg_options)
    work_dir = Path(args.work_dir or Path("work_dirs") / "pretrain" / path.stem)
    if args.force and work_dir.exists():
        shutil.rmtree(work_dir)
    trainer = pretrainer_class(cfg)(cfg, work_dir, Path(args.out),
                                    say=lambda line: print(f"[pretrain] {line}", flush=True))
    seconds = trainer.train()
    accuracy = trainer.evaluate()
    meta = trainer.export(seconds, accuracy)
    print(f"[pretrain] validation {trainer.SCORE}: {json.dumps(accuracy)}")
    for kind, info in meta["files"].items():
        print(f"[pretrain] wrote {kind}: {Path(args.out) / info['path']}")


if __name__ == "__main__":
    run_cli(main)
