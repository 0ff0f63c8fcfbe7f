"""Build the pretrained weights a config loads from ``pretrained/`` when they are missing.

    python tools/ensure_pretrained.py CONFIG

Every ``init_cfg=dict(type='Pretrained', checkpoint='pretrained/NAME.pth')`` of the config
whose file is absent is made by ``tools/pretrain.py configs/pretrain/NAME.py`` (the committed
files make this a no-op; a first build takes tens of minutes on 2 CPU cores). Weights the
project does not make (any other path) are left to the user. Weights whose record
(``NAME.json``) names another DigitSeg generator version than this checkout's are used, with a
warning saying how to rebuild them.
"""
import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

from mmengine.config import Config

from flexseg.cli import run_cli
from flexseg.datasets.digitseg import GENERATOR_VERSION

REPO = Path(__file__).resolve().parents[1]
OURS = "pretrained"


def pretrained_files(node: Any) -> Iterator[str]:
    """Every ``checkpoint`` of a ``type='Pretrained'`` init config inside ``node``."""
    if isinstance(node, dict):
        if node.get("type") == "Pretrained" and isinstance(node.get("checkpoint"), str):
            yield node["checkpoint"]
        for value in node.values():
            yield from pretrained_files(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            yield from pretrained_files(value)


def stale_warning(weights: Path) -> str | None:
    """A warning if ``weights`` were pretrained on another DigitSeg generator version's scenes
    (their record beside them says which); None if the versions agree or no record exists."""
    record = weights.with_suffix(".json")
    if not record.is_file():
        return None
    version = json.loads(record.read_text()).get("generator_version")
    if version == GENERATOR_VERSION:
        return None
    return (f"warning: {weights.name} was pretrained on DigitSeg generator version {version}, "
            f"this checkout's is {GENERATOR_VERSION}; rebuild it with `python tools/pretrain.py "
            f"configs/pretrain/{weights.stem}.py --out {weights.parent}`")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("config")
    args = parser.parse_args()
    if not Path(args.config).is_file():
        raise FileNotFoundError(f"config file not found: {args.config}")
    cfg = Config.fromfile(args.config)
    for path in dict.fromkeys(pretrained_files(cfg.to_dict().get("model", {}))):
        if Path(path).parent.name != OURS:
            continue
        if (REPO / path).is_file():
            warning = stale_warning(REPO / path)
            if warning:
                print(warning, file=sys.stderr)
            continue
        recipe = REPO / "configs" / "pretrain" / f"{Path(path).stem}.py"
        if not recipe.is_file():
            raise FileNotFoundError(f"{path} is missing and no {recipe.relative_to(REPO)} "
                                    "makes it")
        print(f"[pretrained] {path} is missing: building it with {recipe.relative_to(REPO)} "
              "(once; tens of minutes on 2 CPU cores)", flush=True)
        subprocess.run([sys.executable, "tools/pretrain.py", str(recipe), "--out",
                        str((REPO / path).parent)], cwd=REPO, check=True)


if __name__ == "__main__":
    run_cli(main)
