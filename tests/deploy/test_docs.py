"""Every command and Python block of docs/deploy.md runs, in order, at a tiny setting: the tiny
segmentor stands in for the main job under the documented paths, with the small DigitSeg set
as data/digitseg. The manual ONNX Runtime preprocessing of the guide must give the labels the
inferencer gives."""
import os
import re
import runpy
import shlex
import shutil
import sys

import torch

from tests.conftest import REPO
from tests.deploy.conftest import tiny_cfg

GUIDE = REPO / "docs/deploy.md"
MAIN_CONFIG = "configs/flexivit/flexivit-ti6_upernet_1.3k_digitseg-64x64.py"
MAIN_CHECKPOINT = "work_dirs/flexivit-ti6_upernet_1.3k_digitseg-64x64/iter_1300.pth"
# Timing-dependent values: one thread, and caps every choice fits however loaded the machine.
TINY_SETTINGS = {"--threads 2": "--threads 1", "--budgets-ms 20,40": "--budgets-ms 900,1000",
                 "latency_ms=20": "latency_ms=1000"}


def blocks(text: str) -> list[tuple[str, str]]:
    """(language, code) of every bash and python block, in order."""
    return re.findall(r"```(bash|python)\n(.*?)```", text, flags=re.S)


def commands(code: str) -> list[list[str]]:
    """Shell commands of a bash block (backslash continuations joined), split into words."""
    return [shlex.split(line) for line in code.replace("\\\n", " ").splitlines()
            if line.strip()]


def run_tool(monkeypatch, words: list[str]) -> None:
    assert words[:1] == ["python"] and words[1].startswith("tools/"), words
    monkeypatch.setattr(sys, "argv", words[1:])
    monkeypatch.setenv("LOCAL_RANK", "0")
    runpy.run_path(words[1], run_name="__main__")


def main_job_sandbox(root, digitseg, checkpoint) -> None:
    """``root`` laid out as the guides assume after the main job: tools/, data/digitseg (the
    small set), the main config (the tiny segmentor) and its checkpoint."""
    (root / "tools").symlink_to(REPO / "tools")
    (root / "data").mkdir()
    (root / "data/digitseg").symlink_to(digitseg)
    config = root / MAIN_CONFIG
    config.parent.mkdir(parents=True)
    tiny_cfg(**{f"{split}_dataloader.{key}": value for split in ("val", "test")
                for key, value in (("dataset.data_root", "data/digitseg"), ("num_workers", 0),
                                   ("persistent_workers", False))}).dump(str(config))
    (root / MAIN_CHECKPOINT).parent.mkdir(parents=True)
    shutil.copy(checkpoint, root / MAIN_CHECKPOINT)


def test_the_deploy_guide_runs(monkeypatch, tmp_path, small_digitseg, tiny_checkpoint):
    main_job_sandbox(tmp_path, small_digitseg, tiny_checkpoint)
    monkeypatch.chdir(tmp_path)

    text = GUIDE.read_text()
    for documented, tiny in TINY_SETTINGS.items():
        assert documented in text, documented
        text = text.replace(documented, tiny)
    found = blocks(text)
    assert [language for language, _ in found].count("bash") >= 5
    namespace: dict = {}
    for language, code in found:
        if language == "bash":
            for words in commands(code):
                run_tool(monkeypatch, words)
        else:
            exec(compile(code, str(GUIDE), "exec"), namespace)
    for path in ("work_dirs/deploy/latency_torch.png", "work_dirs/deploy/p8.check.json",
                 "work_dirs/deploy/latency_onnxruntime.json",
                 "work_dirs/deploy/at_20_40_ms/multibudget_test.json"):
        assert os.path.isfile(path), path
    assert len(os.listdir("work_dirs/deploy/painted/vis")) == 4

    # The guide's hand-made ONNX Runtime input gives the inferencer's labels.
    inferencer = namespace["inferencer"]
    batch = inferencer.preprocess_images(["data/digitseg/images/validation/"
                                          "digitseg_val_000000.jpg"])
    want = inferencer.run_pinned(batch, "p8").argmax(1)[0]
    assert torch.equal(torch.from_numpy(namespace["labels"]), want)
