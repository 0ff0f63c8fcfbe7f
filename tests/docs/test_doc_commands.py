"""Every shell command the documentation shows runs, at a tiny setting, so the docs cannot rot.

Each command of a ```bash block (pages: ``tests/docs/pages.py``) is either

- run here, in a sandbox copy of the repository, in page order: ``python tools/...`` in this
  process with every config shrunk as it loads (``tiny.py``), ``bash tools/run_demo.sh`` as the
  three steps that script runs (the script itself is run end to end once, below), other shell
  commands by bash;
- or run by another test at a tiny setting (``COVERED``, ``PAGES_RUN_ELSEWHERE``);
- or one that cannot run on this CPU-only machine (``EXEMPT``, with the reason).

A command in none of these fails the coverage test, and so does a table entry no page shows.
A tool run repeated with the same arguments (training the main job) runs once per session.
"""
from __future__ import annotations

import contextlib
import io
import os
import re
import runpy
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from mmengine.logging import MMLogger
from PIL import Image

from benchmarks.autocast import native_bf16_flags
from tests.conftest import REPO
from tests.docs import tiny
from tests.docs.pages import bash_commands, doc_pages

MAIN = "configs/flexivit/flexivit-ti6_upernet_1.3k_digitseg-64x64.py"
# Pages whose commands a test of their own runs, in order, at a tiny setting.
PAGES_RUN_ELSEWHERE = {"docs/deploy.md": "tests/deploy/test_docs.py::test_the_deploy_guide_runs",
                       "docs/serving.md": "tests/serving/test_docs.py::test_the_serving_guide_runs",
                       "docs/reproducing_papers.md":
                           "tests/configs/test_repro_configs.py::"
                           "test_the_reproduction_page_commands_run"}
# Commands run by other tests at a tiny setting.
COVERED = {
    "bash tools/dist_train.sh configs/flexivit/flexivit-ti6_upernet_1.3k_digitseg-64x64.py 2":
        "tests/tools/test_dist_train.py::test_two_rank_gloo_training",
    # With the eager backend: inductor compiling the main job takes minutes on a CPU.
    "python tools/train.py configs/flexivit/flexivit-ti6_upernet_1.3k_digitseg-64x64.py "
    "--compile": "tests/budget/test_compile.py::"
                 "test_compile_switch_trains_and_validates_through_compiled_modules",
    "bash tools/build_mmcv.sh .venv/bin/python ~/.cache/flexseg/wheels --dry-run":
        "tests/tools/test_build_mmcv.py::test_without_a_gpu_the_cpu_build_is_unchanged",
    "bash tools/gpu_check.sh":
        "tests/tools/test_gpu_check.py::test_without_cuda_it_says_so_and_runs_nothing",
    "bash tools/gpu_check.sh --dry-run --gpus 2":
        "tests/tools/test_gpu_check.py::test_dry_run_names_every_step_and_its_command",
}
_ADE_8_GPUS = ("bash tools/dist_train.sh "
               "configs/flexivit/flexivit-b_upernet_8xb2-160k_ade20k-512x512.py 8")
EXEMPT = {
    "bash tools/run_tests.sh": "the test suite itself",
    "bash tools/setup_env.sh": "tools/run_tests.sh runs it before the suite starts (in a sandbox "
                               "it would reinstall the shared environment from the sandbox)",
    "FORCE_CUDA=1 bash tools/setup_env.sh": "compiles mmcv's CUDA ops: needs nvcc and a GPU",
    "mkdir -p pretrain && python -c \"import timm, torch; torch.save(timm.create_model("
    "'flexivit_small.1200ep_in1k', pretrained=True).state_dict(), "
    "'pretrain/flexivit_small.pth')\"": "downloads weights (a stand-in is written instead)",
    "mkdir -p pretrain && python -c \"import timm, torch; torch.save(timm.create_model("
    "'deit3_small_patch16_224.fb_in22k_ft_in1k', pretrained=True).state_dict(), "
    "'pretrain/deit3_s.pth')\"": "downloads weights",
    "mkdir -p pretrain && python -c \"import timm, torch; torch.save(timm.create_model("
    "'deit3_large_patch16_224.fb_in22k_ft_in1k', pretrained=True).state_dict(), "
    "'pretrain/deit3_l.pth')\"": "downloads weights",
    _ADE_8_GPUS: "8 GPUs and ADE20K",
    f"NNODES=2 NODE_RANK=0 MASTER_ADDR=10.0.0.1 PORT=29500 {_ADE_8_GPUS}": "two machines",
    f"NNODES=2 NODE_RANK=1 MASTER_ADDR=10.0.0.1 PORT=29500 {_ADE_8_GPUS}": "two machines",
    "GPUS=16 GPUS_PER_NODE=8 bash tools/slurm_train.sh gpu flexivit-b "
    "configs/flexivit/flexivit-b_upernet_8xb2-160k_ade20k-512x512.py work_dirs/flexivit-b":
        "a Slurm cluster",
    "bash tools/dist_train.sh "
    "configs/detection/flexivit-b_maskrcnn_sfp_16xb4-lsj-100e_coco-1024.py 8": "8 GPUs and COCO",
    "python -m pytest -m gpu tests/gpu": "the suite runs these tests (skipped without CUDA)",
}
# What a user would have downloaded before the page's next commands (an exempt command).
STAND_INS = {"pretrain/flexivit_small.pth": "flexivit_small"}
COPIED = ("configs", "tools", "benchmarks", "requirements", "requirements.txt", "pyproject.toml",
          "pretrained")
SHELL_PROGRAMS = ("printf", "mkdir")


def _pages() -> dict[str, list[str]]:
    return {str(page.relative_to(REPO)): bash_commands(page.read_text())
            for page in doc_pages()}


def _runs_here(command: str) -> bool:
    words = command.split()
    return (words[:1] == ["python"] and words[1].startswith("tools/")
            or command.startswith(("bash tools/run_demo.sh", *SHELL_PROGRAMS)))


def _test_exists(node: str) -> bool:
    path, _, name = node.partition("::")
    return (REPO / path).is_file() and f"def {name}(" in (REPO / path).read_text()


def test_every_documented_command_is_run_or_exempt():
    pages = _pages()
    shown = {command for commands in pages.values() for command in commands}
    uncovered = [f"{page}: {command}" for page, commands in pages.items()
                 if page not in PAGES_RUN_ELSEWHERE for command in commands
                 if not (_runs_here(command) or command in COVERED or command in EXEMPT)]
    assert not uncovered, "documented commands no test runs (run them here, or add them to " \
        "COVERED or EXEMPT):\n" + "\n".join(uncovered)
    stale = [command for command in [*COVERED, *EXEMPT] if command not in shown]
    assert not stale, f"COVERED/EXEMPT entries no page shows any more: {stale}"
    missing = [node for node in [*COVERED.values(), *PAGES_RUN_ELSEWHERE.values()]
               if not _test_exists(node)]
    assert not missing, f"tests named in COVERED/PAGES_RUN_ELSEWHERE do not exist: {missing}"


# ------------------------------------------------------------------------ running them here
class Sandbox:
    """A copy of the repository's configs and tools where documented commands run."""

    def __init__(self, root: Path) -> None:
        self.root = root
        for name in COPIED:
            source = REPO / name
            if source.exists():
                (shutil.copytree if source.is_dir() else shutil.copy)(source, root / name)
        self.done: set[tuple] = set()  # tool runs done: (argv, environment)

    def write_page_files(self, page: Path) -> None:
        """Files a page asks the reader to save: ```python blocks whose first line is
        ``# path``."""
        for block in re.findall(r"^```python\n# (\S+\.py)\n(.*?)^```", page.read_text(),
                                flags=re.S | re.M):
            path, code = block
            (self.root / path).parent.mkdir(parents=True, exist_ok=True)
            (self.root / path).write_text(f"# {path}\n{code}")


def _expand(command: str, root: Path) -> str:
    """``$(cat FILE)`` replaced by the file's content."""
    return re.sub(r"\$\(cat ([^)]+)\)", lambda m: (root / m.group(1)).read_text().strip(),
                  command)


def _forget_loggers() -> None:
    for name in list(MMLogger._instance_dict):
        for handler in MMLogger._instance_dict.pop(name).handlers:
            handler.close()


def _run_tool(argv: list[str], env: dict[str, str], done: set) -> None:
    """``python tools/X.py ARGS`` in this process, its configs shrunk; fails with its output
    if it exits with an error. A run with the same arguments done before is not repeated."""
    if (tuple(argv), tuple(env.items())) in done:
        return
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(out), \
            contextlib.redirect_stderr(err):
        patch.setattr(sys, "argv", tiny.tiny_argv(list(argv)))
        patch.setattr(tiny.Config, "fromfile", tiny.tiny_fromfile(tiny.Config.fromfile))
        for name, value in {"LOCAL_RANK": "0", **env}.items():
            patch.setenv(name, value)
        try:
            runpy.run_path(argv[0], run_name="__main__")
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else 1
        finally:
            _forget_loggers()
    assert code == 0, f"{' '.join(argv)} exited with {code}:\n{err.getvalue()[-3000:]}"
    done.add((tuple(argv), tuple(env.items())))


def _run_demo(words: list[str], env: dict[str, str], done: set) -> None:
    """What tools/run_demo.sh runs: generate (the depth variant for depth configs), train, test
    the last checkpoint, in the default work dir (``test_run_demo_runs_end_to_end`` checks the
    script does this)."""
    config = words[2] if len(words) > 2 else MAIN
    generate = ["--nyu-root", "data/digitseg_nyu"] if "digitseg-nyu" in config else []
    _run_tool(["tools/generate_digitseg.py", *generate], env, done)
    _run_tool(["tools/train.py", config, *words[3:]], env, done)
    checkpoint = Path(f"work_dirs/{Path(config).stem}/last_checkpoint").read_text().strip()
    _run_tool(["tools/test.py", config, checkpoint], env, done)


def run_command(command: str, sandbox: Sandbox) -> None:
    words = shlex.split(_expand(command, sandbox.root))
    env = {}
    while words and re.match(r"^[A-Z_][A-Z0-9_]*=", words[0]):
        name, _, value = words.pop(0).partition("=")
        env[name] = value
    if words[0] == "python":
        _run_tool(words[1:], env, sandbox.done)
    elif words[:2] == ["bash", "tools/run_demo.sh"]:
        _run_demo(words, env, sandbox.done)
    else:
        result = subprocess.run(["bash", "-c", command], cwd=sandbox.root, text=True,
                                capture_output=True, timeout=300, env={**os.environ, **env})
        assert result.returncode == 0, f"{command}:\n{result.stdout}{result.stderr}"


def _stand_in(sandbox: Sandbox, path: str) -> None:
    import timm
    import torch

    target = sandbox.root / path
    target.parent.mkdir(parents=True, exist_ok=True)
    torch.save(timm.create_model(STAND_INS[path], pretrained=False).state_dict(), target)


def _my_dataset(root: Path) -> None:
    """own_dataset.md's layout: a few images of varied sizes with 4-class label maps (255
    where unlabelled)."""
    rng = np.random.default_rng(0)
    for split, count in (("train", 6), ("val", 3)):
        for index in range(count):
            height, width = rng.integers(200, 320, size=2)
            labels = rng.integers(0, 4, size=(height // 20 + 1, width // 20 + 1))
            labels = np.kron(labels, np.ones((20, 20), np.uint8))[:height, :width]
            labels[:5] = 255
            image = (rng.random((height, width, 3)) * 60 + labels[..., None] * 40)
            for folder, picture, suffix in (("images", image.astype(np.uint8), ".jpg"),
                                            ("labels", labels.astype(np.uint8), ".png")):
                path = root / "data/my_dataset" / folder / split / f"sample_{index}{suffix}"
                path.parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(picture).save(path)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory) -> Sandbox:
    """The sandbox with what a reader has before the pages: own_dataset.md's data, and the
    pretrained weights the DigitSeg configs start from (tools/pretrain.py at the tiny setting,
    where the repository does not ship them; get_started.md shows the command)."""
    sandbox = Sandbox(tmp_path_factory.mktemp("docs"))
    _my_dataset(sandbox.root)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(sandbox.root)
        for config in sorted((sandbox.root / "configs/pretrain").glob("*.py")):
            _run_tool(["tools/pretrain.py", str(config.relative_to(sandbox.root))], {},
                      sandbox.done)
    return sandbox


def _runnable_pages() -> list[str]:
    return [page for page, commands in _pages().items()
            if page not in PAGES_RUN_ELSEWHERE and any(map(_runs_here, commands))]


@pytest.mark.parametrize("page", _runnable_pages())
def test_the_page_commands_run(page, sandbox, monkeypatch):
    monkeypatch.chdir(sandbox.root)
    sandbox.write_page_files(REPO / page)
    for command in _pages()[page]:
        if command in EXEMPT:
            for path in STAND_INS:
                if path in command and not (sandbox.root / path).exists():
                    _stand_in(sandbox, path)
            continue
        if command not in COVERED:
            run_command(command, sandbox)


def test_run_demo_runs_end_to_end(tmp_path):
    """tools/run_demo.sh itself, at the tiny setting: generate, train, evaluate every choice.
    Its set-up step is stubbed: the environment is the one this suite runs in, and the real
    script would reinstall it from the sandbox if the sandbox's requirements differed."""
    sandbox = Sandbox(tmp_path)
    # The stub records the allocator settings the script's processes inherit.
    (tmp_path / "tools/setup_env.sh").write_text(
        "printenv MALLOC_TRIM_THRESHOLD_ MALLOC_MMAP_THRESHOLD_ > allocator.txt\n")
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    env = {**inherited, "FLEXSEG_VENV": str(Path(sys.executable).parents[1]),
           "FLEXSEG_DOCS_TINY": "1",
           "PYTHONPATH": os.pathsep.join([str(REPO / "tests/docs/hooks"), str(REPO)]),
           "OMP_NUM_THREADS": "1"}
    result = subprocess.run(["bash", "tools/run_demo.sh"], cwd=tmp_path, env=env, text=True,
                            capture_output=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    # glibc keeps freed memory up to its limits (1 GiB trimmed, 32 MiB mmap threshold)
    assert (tmp_path / "allocator.txt").read_text().split() == ["1073741824", "33554432"]
    work_dir = sandbox.root / "work_dirs" / Path(MAIN).stem
    assert (work_dir / f"iter_{tiny.TINY_ITERS}.pth").is_file()
    document = (work_dir / "multibudget_test.json").read_text()
    assert all(f'"id": "{choice}"' in document for choice in ("p16", "p8", "p4"))
    assert len(list((sandbox.root / "data/digitseg/images/training").iterdir())) == 24
    # bfloat16 autocast in training and evaluation exactly where the processor has it natively
    native = bool(native_bf16_flags())
    logs = [path.read_text() for path in work_dir.glob("*/*.log")]
    assert logs and any("CPUAmpOptimWrapper" in text for text in logs) == native, \
        sorted(str(p.relative_to(work_dir)) for p in work_dir.rglob("*"))
    tested = (work_dir / f"{Path(MAIN).stem}.py").read_text()
    assert ("amp_dtype='bfloat16'" in tested) == native
