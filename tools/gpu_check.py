"""The first minutes on a GPU: what the CPU could not check, each a step with a verdict.

    bash tools/gpu_check.sh [--work-dir DIR] [--only STEP,...] [--iters N] [--dry-run]
        [--gpus N]

Steps (each a command of the project's own tools, logs under --work-dir):
mmcv-ops (CUDA NMS), data (DigitSeg in the ADE20K, COCO and NYUv2 layouts, at the main job's
64 px, 512 px and 480x640), amp-fp16 and amp-bf16 (the main job's training under autocast),
compile (--compile), ddp (2 GPUs, tools/dist_train.sh), multi-budget (every choice evaluated
under autocast), latency (tools/profile_latency.py on the GPU), then three training steps and
one multi-budget validation under autocast of each paper-scale config (ADE20K 512x512, COCO
1024x1024, NYUv2 480x640; FlexiViT-B and the stitched DeiT-III S/L) and of stock
MMSegmentation's ViT-B + UPerNet (the step-time reference). A summary table gives each step's
verdict, seconds, peak memory per GPU (of 80 GB) and the last step's time (the first warms
up); the FlexiViT-B/ViT-B step-time ratio follows. The exit status is 1 if any step failed.
Without CUDA it says so in one line and exits 0 without running anything; --dry-run prints the
steps' commands instead (--gpus N pretends N GPUs).
"""
from __future__ import annotations

import argparse
import re
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

MAIN = "configs/flexivit/flexivit-ti6_upernet_1.3k_digitseg-64x64.py"
STOCK_VIT_B = ".mim/configs/vit/vit_deit-b16_upernet_8xb2-80k_ade20k-512x512.py"  # in mmseg
GPU_MEMORY_GB = 80
STEP_TIMEOUT_S = 900
MMCV_CUDA_CHECK = (
    "import torch; from mmcv.ops import get_compiling_cuda_version, nms; "
    "assert get_compiling_cuda_version()[0].isdigit(), 'mmcv has no CUDA ops'; "
    "b = torch.tensor([[0., 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30]], device='cuda'); "
    "_, keep = nms(b, torch.tensor([.9, .8, .7], device='cuda'), 0.5); "
    "assert keep.tolist() == [0, 2], keep; print('mmcv CUDA ops:', get_compiling_cuda_version())")


@dataclass
class Step:
    name: str
    argv: list[str]
    gpus: int = 1
    needs: tuple[str, ...] = ()
    status: str = "not run"
    seconds: float = 0.0
    peak_gb: float | None = None
    step_s: float | None = None
    note: str = ""
    log: Path | None = field(default=None, repr=False)


LOADERS = ("train_dataloader", "val_dataloader", "test_dataloader")


def _loader_options(root: str, loaders: tuple[str, ...] = LOADERS, **keys: str) -> list[str]:
    """--cfg-options setting ``data_root`` and ``keys`` of the datasets of ``loaders``."""
    return [f"{loader}.dataset.{key}={value}" for loader in loaders
            for key, value in {"data_root": root, **keys}.items()]


def _train(config: str, work: Path, name: str, iters: int, *extra: str,
           options: tuple[str, ...] = ()) -> list[str]:
    return [sys.executable, "tools/train.py", config, "--work-dir", str(work / name), *extra,
            "--cfg-options", f"train_cfg.max_iters={iters}", f"train_cfg.val_interval={iters}",
            f"default_hooks.checkpoint.interval={iters}", "default_hooks.logger.interval=1",
            *options]


def paper_configs(work: Path) -> dict[str, tuple[str, tuple[str, ...]]]:
    """Step name -> (config, --cfg-options pointing it at the generated data)."""
    import mmseg

    data = work / "data"
    ade = tuple(_loader_options(str(data / "ade512")))
    coco_root = data / "ade512"  # DigitSeg writes COCO instances beside the ADE20K layout
    splits = {LOADERS[:1]: ("train", "training"), LOADERS[1:]: ("val", "validation")}
    coco = (*[option for loaders, (split, folder) in splits.items()
              for option in _loader_options(
                  str(coco_root), loaders, type="DigitSegCocoDataset",  # digit class names
                  ann_file=f"coco/instances_{split}.json",
                  **{"data_prefix.img": f"images/{folder}/"})],
            f"val_evaluator.ann_file={coco_root / 'coco/instances_val.json'}",
            f"test_evaluator.ann_file={coco_root / 'coco/instances_val.json'}")
    nyu = tuple(_loader_options(str(data / "nyu")))
    # Random weights: the check is about running, memory and speed, not accuracy.
    flexivit = ("model.backbone.init_cfg=None",)
    snnet = ("model.backbone.small.init_cfg=None", "model.backbone.large.init_cfg=None")
    return {
        "ade-flexivit-b": ("configs/flexivit/flexivit-b_upernet_8xb2-160k_ade20k-512x512.py",
                           ade + flexivit),
        "ade-snnet": ("configs/snnet/snnet-deit3-s-l_upernet_ade20k-512x512.py", ade + snnet),
        "ade-stock-vit-b": (str(Path(mmseg.__file__).parent / STOCK_VIT_B),
                            ade + ("model.pretrained=None",)),
        "coco-flexivit-b": ("configs/detection/flexivit-b_maskrcnn_sfp_16xb4-lsj-100e_coco-1024"
                            ".py", coco + flexivit),
        "coco-snnet": ("configs/detection/snnet-deit3-s-l_maskrcnn_sfp_16xb4-lsj-100e_coco-1024"
                       ".py", coco + snnet),
        "nyu-flexivit-b": ("configs/depth/flexivit-b_dpt_8xb2-25k_nyu-480x640.py",
                           nyu + flexivit),
        "nyu-snnet": ("configs/depth/snnet-deit3-s-l_dpt_8xb2-25k_nyu-480x640.py", nyu + snnet),
    }


def plan(work: Path, iters: int) -> list[Step]:
    """Every step in run order."""
    data = work / "data"
    generate = [sys.executable, "tools/generate_digitseg.py"]
    main_data = tuple(_loader_options(str(data / "digitseg")))
    checkpoint = work / "amp-fp16" / f"iter_{iters}.pth"
    steps = [
        Step("mmcv-ops", [sys.executable, "-c", MMCV_CUDA_CHECK]),
        Step("data", ["bash", "-c", " && ".join(shlex.join(argv) for argv in (
            [*generate, "--root", str(data / "digitseg"), "--num-train", "64", "--num-val",
             "8", "--no-coco"],
            [*generate, "--root", str(data / "ade512"), "--image-size", "512",
             "--num-train", "32", "--num-val", "2"],
            [*generate, "--root", str(data / "nyu-images"), "--image-size", "480", "640",
             "--num-train", "32", "--num-val", "2", "--no-coco", "--nyu-root",
             str(data / "nyu")]))]),
        Step("amp-fp16", _train(MAIN, work, "amp-fp16", iters, "--amp", options=main_data),
             needs=("data",)),
        Step("amp-bf16", _train(MAIN, work, "amp-bf16", iters, "--amp-dtype", "bfloat16",
                                options=main_data), needs=("data",)),
        Step("compile", _train(MAIN, work, "compile", iters, "--amp", "--compile",
                               options=main_data), needs=("data",)),
        Step("ddp", ["bash", "tools/dist_train.sh", MAIN, "2",
                     *_train(MAIN, work, "ddp", iters, "--amp", options=main_data)[3:]],
             gpus=2, needs=("data",)),
        Step("multi-budget", [sys.executable, "tools/test.py", MAIN, str(checkpoint),
                              "--work-dir", str(work / "multi-budget"), "--choices", "all",
                              "--amp", "--cfg-options", *main_data], needs=("amp-fp16",)),
        Step("latency", [sys.executable, "tools/profile_latency.py", MAIN, str(checkpoint),
                         "--device", "cuda", "--rounds", "10", "--out",
                         str(work / "latency.json")], needs=("amp-fp16",)),
    ]
    for name, (config, options) in paper_configs(work).items():  # 3: the first warms up
        steps.append(Step(name, _train(config, work, name, 3, "--amp", options=options),
                          needs=("data",)))
    return steps


def _last_float(pattern: str, text: str) -> float | None:
    found = re.findall(pattern, text)
    return float(found[-1]) if found else None


def last_iteration_time(log: str) -> float | None:
    """The last training iteration's own seconds: mmengine logs the mean over the last 10
    iterations (every iteration at logger interval 1), so up to the tenth the k-th line's mean
    t_k gives k t_k - (k - 1) t_(k-1); the first iteration (warm-up) is not a step time."""
    found = [(int(k), float(t)) for k, t in
             re.findall(r"Iter\(train\) \[\s*(\d+)/\d+\].* time: ([0-9.]+)", log)]
    if len(found) < 2 or found[-1][0] > 10:
        return found[-1][1] if found else None
    (k, mean), (_, previous) = found[-1], found[-2]
    return k * mean - (k - 1) * previous


def run_step(step: Step, work: Path, done: dict[str, Step], gpus: int) -> None:
    failed = [name for name in step.needs if done[name].status != "ok"]
    if step.gpus > gpus:
        step.status, step.note = "skipped", f"needs {step.gpus} GPUs, {gpus} here"
        return
    if failed:
        step.status, step.note = "skipped", f"{', '.join(failed)} did not pass"
        return
    step.log = work / "logs" / f"{step.name}.log"
    step.log.parent.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    with step.log.open("w") as log:
        try:
            code = subprocess.run(step.argv, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                                  timeout=STEP_TIMEOUT_S).returncode
        except subprocess.TimeoutExpired:
            code, step.note = -1, f"timed out after {STEP_TIMEOUT_S} s"
    step.seconds = time.perf_counter() - began
    text = step.log.read_text(errors="replace")
    step.status = "ok" if code == 0 else "FAILED"
    if code not in (0, -1):
        step.note = f"exit {code}; see {step.log}"
    # mmengine logs the peak allocated CUDA memory (MB) and the iteration time per line.
    memory_mb = _last_float(r"memory: (\d+)", text)
    step.peak_gb = memory_mb / 1024 if memory_mb is not None else None
    step.step_s = last_iteration_time(text)


def summary(steps: list[Step]) -> str:
    rows = ["| step | verdict | seconds | peak memory per GPU | step time | note |",
            "|---|---|---|---|---|---|"]
    for step in steps:
        memory = f"{step.peak_gb:.1f} of {GPU_MEMORY_GB} GB" if step.peak_gb is not None else ""
        step_time = f"{step.step_s:.3f} s" if step.step_s is not None else ""
        rows.append(f"| {step.name} | {step.status} | {step.seconds:.0f} | {memory} | "
                    f"{step_time} | {step.note} |")
    by_name = {step.name: step for step in steps}
    flexible, stock = by_name.get("ade-flexivit-b"), by_name.get("ade-stock-vit-b")
    if flexible and stock and flexible.step_s and stock.step_s:
        rows.append(f"\nFlexiViT-B / stock ViT-B + UPerNet step time (ADE20K 512x512, same run):"
                    f" {flexible.step_s / stock.step_s:.2f}x")
    return "\n".join(rows)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work-dir", type=Path, default=REPO / "work_dirs/gpu_check")
    parser.add_argument("--only", help="comma-separated steps (default: all)")
    parser.add_argument("--iters", type=int, default=10,
                        help="training iterations of the main job's steps")
    parser.add_argument("--dry-run", action="store_true",
                        help="print every step's command, run nothing")
    parser.add_argument("--gpus", type=int, help="GPUs to plan for (default: those visible)")
    return parser.parse_args()


def select(steps: list[Step], only: str | None) -> list[Step]:
    if not only:
        return steps
    wanted = [name.strip() for name in only.split(",") if name.strip()]
    unknown = [name for name in wanted if name not in {step.name for step in steps}]
    if unknown or not wanted:
        raise ValueError(f"unknown step {', '.join(unknown) or repr(only)}; steps: "
                         f"{', '.join(step.name for step in steps)}")
    return [step for step in steps if step.name in wanted]


def main() -> None:
    args = parse_args()
    if args.iters < 1:
        raise ValueError("--iters must be at least 1")
    import torch

    if not args.dry_run and not torch.cuda.is_available():
        print("gpu_check: no CUDA device here (torch.cuda.is_available() is False); nothing "
              "was run")
        return
    work = args.work_dir.resolve()
    steps = select(plan(work, args.iters), args.only)
    gpus = args.gpus if args.gpus is not None else torch.cuda.device_count()
    if args.dry_run:
        for step in steps:
            skip = f"  # skipped: needs {step.gpus} GPUs" if step.gpus > gpus else ""
            print(f"{step.name}: {shlex.join(step.argv)}{skip}")
        return
    selected = {step.name for step in steps}
    # Steps left out by --only count as done (their output is that of an earlier run).
    done = {step.name: Step(step.name, [], status="ok") for step in plan(work, args.iters)
            if step.name not in selected}
    for step in steps:
        print(f"gpu_check: {step.name} ...", flush=True)
        run_step(step, work, {**done, **{s.name: s for s in steps}}, gpus)
        print(f"gpu_check: {step.name}: {step.status} ({step.seconds:.0f} s) {step.note}",
              flush=True)
    print(summary(steps))
    if any(step.status == "FAILED" for step in steps):
        sys.exit(1)


def cli() -> None:
    """``main`` with bad arguments reported in one line (exit status 2)."""
    try:
        main()
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    cli()
