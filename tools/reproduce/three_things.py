""""Three things everyone should know about ViTs", measured for dense prediction on DigitSeg:
the study behind docs/three_things.md.

    python tools/reproduce/three_things.py [--parallel 2] [--only JOB,...] [--report-only]

1. Parallel blocks: a FlexiViT-Ti with 6 blocks of two parallel branches against its
   sequential twin of 12 blocks (same parameters and multiply-adds), each pretrained on
   DigitTags (``pre-par``, ``pre-seq``) and fine-tuned at p8 (``par-ft``, ``seq-ft``); batch-1
   latency from the benchmark's PAR figure.
2. Attention-only fine-tuning. (a) Resolution: the main model fine-tuned at p8 on 64 px
   (``res-base``), then fine-tuned at 1.5x and 2x the size with attention weights only or all
   weights (``res-96-attn``, ``res-96-all``, ...), beside the base model run at those sizes
   unchanged; trainable parameters, training memory (``benchmarks.attention_only``) and time.
   (b) Tasks: segmentation, depth and detection fine-tuned from the one pretrained backbone
   with all weights or attention only (``seg-attn``, ``depth-all``, ``depth-attn``,
   ``det-all``, ``det-attn``; ``res-base`` is segmentation with all weights); the storage of
   the three backbones shared (``tools/export.py --only-task-specific``) vs separate.
3. hMLP stem under masked-patch pretraining: linear vs hMLP stem, each pretrained with the
   masked objective (``flexseg.pretrain.masked``; ``mim-linear``, ``mim-hmlp``) then
   fine-tuned as the main flexible job (``mim-linear-ft``, ``mim-hmlp-ft``): mIoU per patch
   size.

Every step resumes where it stopped: run the command again after an interruption. Results:
``docs/three_things.md`` and ``docs/three_things/`` (the archive of finished runs, the
measurements, one figure); ``--report-only`` rewrites them from what is finished. Run it in the
background, e.g. ``nohup python tools/reproduce/three_things.py > three.log 2>&1 &``.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from flexseg.study.jobs import (TRAINING_SUMMARY, Evaluation, Job, run_jobs,  # noqa: E402
                                select_jobs, study_root)
from flexseg.study.report import Point, markdown_table, plot_panels, read_points  # noqa: E402

MAIN_CONFIG = "configs/flexivit/flexivit-ti6_upernet_1.3k_digitseg-64x64.py"
DEPTH_CONFIG = "configs/depth/flexivit-ti6_dpt_1k_digitseg-nyu-64x64.py"
DETECTION_CONFIG = "configs/detection/flexivit-ti6_maskrcnn_sfp_digitseg-coco-64x64.py"
PRETRAIN_CONFIG = "configs/pretrain/flexivit-ti6_digittags-64x64.py"
SHARED_WEIGHTS = "pretrained/flexivit-ti6_digittags-64x64.pth"
ITERS = 1300  # the main job's schedule
FT_ITERS = 400  # fine-tuning at a higher resolution
FT_LR = 5e-4
TASK_ITERS = {"depth": 1000, "det": 1200}  # the depth and detection configs' own schedules
PRETRAIN_STEPS = 2000  # the pretraining configs' own
BASE_SIZE = 64
SIZES = {"96": 96, "128": 128}  # 1.5x and 2x
PATCH_SIZES = (4, 6, 8, 12, 16)
RUNS, MEASURED = "runs", "measurements.json"


# ---------------------------------------------------------------------------- config text
def merged(*parts: dict) -> dict:
    """Deep merge of config override dicts (later parts win; lists are replaced)."""
    out: dict = {}
    for part in parts:
        for key, value in part.items():
            if isinstance(value, dict) and isinstance(out.get(key), dict):
                value = merged(out[key], value)
            out[key] = value
    return out


def config_text(overrides: dict) -> str:
    """Override dicts as config-file text: one assignment per top-level key, so a key is
    never assigned twice (a second assignment would replace, not merge)."""
    return "\n".join(f"{key} = {value!r}" for key, value in overrides.items()) + "\n"


def schedule(iters: int, lr: float | None = None) -> dict:
    """``iters`` iterations, warm-up then cosine, validation only at the end, checkpoints
    often enough to resume cheaply."""
    warmup = min(100, max(1, iters // 4))
    parts = dict(
        train_cfg=dict(max_iters=iters, val_interval=iters),
        param_scheduler=[
            dict(type="LinearLR", start_factor=0.01, by_epoch=False, begin=0, end=warmup),
            dict(type="CosineAnnealingLR", eta_min=1e-5, by_epoch=False, begin=warmup,
                 end=iters)],
        default_hooks=dict(checkpoint=dict(interval=min(100, iters), max_keep_ckpts=1),
                           logger=dict(interval=min(50, iters))),
        log_processor=dict(window_size=min(50, iters)))
    if lr is not None:
        parts["optim_wrapper"] = dict(optimizer=dict(lr=lr))
    return parts


def backbone(**options) -> dict:
    return dict(model=dict(backbone=options))


# One patch size: nothing to sample or distil (the main config's recipe needs them all).
P8 = merged(backbone(patch_size=8, patch_sizes=[8]),
            dict(train_cfg=dict(sampler=dict(_delete_=True, strategy="uniform"), distill=None)))


# The head's BN as the flexible jobs ran before ChoiceBatchNorm: statistics shared by the sizes.
SHARED_BN = dict(model=dict(decode_head=dict(norm_cfg=dict(type="SyncBN", requires_grad=True))))
# The segmentation loss this study ran with: the main config's before it weighted background.
UNWEIGHTED_LOSS = dict(model=dict(decode_head=dict(loss_decode=dict(
    _delete_=True, type="CrossEntropyLoss", use_sigmoid=False, loss_weight=1.0))))
# The main config's recipe when this study ran: every drawn size distilled toward p8, p6 and
# p4 drawn twice as often as p16 and p12.
IN_PLACE_FROM_P8 = dict(train_cfg=dict(
    sampler=dict(_delete_=True, strategy="weighted", weights=dict(p16=1, p12=1, p6=2, p4=2)),
    distill=dict(_delete_=True, mode="inplace", teacher_choice="p8", teacher_only_iters=500)))


def pretrained(path: str) -> dict:
    return backbone(init_cfg=dict(type="Pretrained", checkpoint=path))


def seg_size(size: int) -> dict:
    """Segmentation at ``size`` px: images (and training labels) resized; evaluation on the
    original label maps (predictions are resized back, as MMSegmentation's test pipelines
    do)."""
    resize = dict(type="Resize", scale=(size, size), keep_ratio=False)
    load, labels = dict(type="LoadImageFromFile"), dict(type="LoadAnnotations",
                                                       reduce_zero_label=False)
    test = [load, resize, labels, dict(type="PackSegInputs")]
    return dict(crop_size=(size, size),
                model=dict(data_preprocessor=dict(size=(size, size))),
                train_dataloader=dict(dataset=dict(pipeline=[
                    load, labels, resize, dict(type="PhotoMetricDistortion"),
                    dict(type="PackSegInputs")])),
                val_dataloader=dict(dataset=dict(pipeline=test)),
                test_dataloader=dict(dataset=dict(pipeline=test)))


def at_size(size: int) -> Evaluation:
    """The base model evaluated at ``size`` px without fine-tuning."""
    parts = seg_size(size)
    return Evaluation(f"at-{size}", config_text(dict(
        model=parts["model"], test_dataloader=parts["test_dataloader"])))


# ---------------------------------------------------------------------------- pretraining
@dataclass(frozen=True)
class Pretraining:
    """A pretraining run of ``PRETRAIN_CONFIG`` with ``overrides``; writes
    ``<root>/pretrained/<name>.pth``."""

    name: str
    overrides: dict

    def weights(self) -> str:
        return "{root}/pretrained/" + self.name + ".pth"


MASKED = dict(objective="masked", masked=dict(mask_ratio=0.6, target_size=8))
HMLP = dict(stem="hmlp", hmlp_patch_size=8, hmlp_norm="ln")
PRETRAININGS = (
    Pretraining("pre-par", dict(backbone=dict(patch_sizes=[8], num_parallel=2))),
    Pretraining("pre-seq", dict(backbone=dict(patch_sizes=[8], depth=12))),
    Pretraining("mim-linear", MASKED),
    Pretraining("mim-hmlp", merged(MASKED, dict(backbone=HMLP))),
)


def run_pretraining(stage: Pretraining, root: Path, steps: int, options: list[str],
                    say) -> None:
    """Pretrain (resuming) unless its weights exist; in a process of its own."""
    out = root / "pretrained"
    if (out / f"{stage.name}.json").exists():
        return
    folder = root / stage.name
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "config.py"
    config.write_text(f"_base_ = [{str(REPO / PRETRAIN_CONFIG)!r}]\n" + config_text(merged(
        stage.overrides, dict(schedule=dict(steps=steps),
                              export=dict(name=stage.name, formats=["timm"])))))
    say(f"{stage.name}: pretraining (log: {folder / 'pretrain.log'})")
    command = [sys.executable, __file__, "--pretrain-one", str(config), "--root", str(root),
               *(["--pretrain-options", *options] if options else [])]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    with (folder / "pretrain.log").open("a") as log:
        result = subprocess.run(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    if result.returncode:
        raise RuntimeError(f"{stage.name}: pretraining failed; see {folder / 'pretrain.log'}")


def pretrain_one(config: Path, root: Path, options: list[str]) -> None:
    """One pretraining run, with the trainer its config's objective names."""
    from mmengine.config import Config

    from flexseg.pretrain.masked import pretrainer_class

    cfg = Config.fromfile(str(config))
    cfg.merge_from_dict(parse_options(options))
    trainer = pretrainer_class(cfg)(cfg, config.parent / "work", root / "pretrained",
                                    say=lambda line: print(f"[pretrain] {line}", flush=True))
    seconds = trainer.train()
    trainer.export(seconds, trainer.evaluate())


def parse_options(items: list[str] | tuple[str, ...]) -> dict:
    """``KEY=VALUE`` items as ``--cfg-options`` reads them."""
    from flexseg.cli import ConfigOptions

    parser = argparse.ArgumentParser()
    parser.add_argument("--options", nargs="+", action=ConfigOptions, default={})
    return parser.parse_args(["--options", *items]).options if items else {}


# ---------------------------------------------------------------------------- jobs
def job(name: str, config: str, *parts: dict, needs: tuple[str, ...] = (),
        evals: tuple[Evaluation, ...] = (Evaluation("eval"),)) -> Job:
    if config == MAIN_CONFIG:
        parts = (*parts, UNWEIGHTED_LOSS)
    return Job(name, config, config_text(merged(*parts)), needs, evals)


def resolution_jobs(iters: int, ft_iters: int, shared: str) -> list[Job]:
    base = job("res-base", MAIN_CONFIG, P8, pretrained(shared), schedule(iters),
               evals=(Evaluation("eval"), *(at_size(size) for size in SIZES.values())))
    jobs = [base]
    for key, size in SIZES.items():
        for trained in ("attn", "all"):
            jobs.append(job(f"res-{key}-{trained}", MAIN_CONFIG, P8, seg_size(size),
                            backbone(init_cfg=None, attn_only=trained == "attn"),
                            schedule(ft_iters, FT_LR),
                            dict(load_from="{root}/res-base/final.pth"), needs=("res-base",)))
    return jobs


def task_jobs(iters: int, shared: str, task_iters: dict[str, int]) -> list[Job]:
    jobs = [job("seg-attn", MAIN_CONFIG, P8, pretrained(shared), backbone(attn_only=True),
                schedule(iters))]
    for task, config in (("depth", DEPTH_CONFIG), ("det", DETECTION_CONFIG)):
        for trained in ("all", "attn"):
            jobs.append(job(f"{task}-{trained}", config, P8, pretrained(shared),
                            backbone(attn_only=trained == "attn"), schedule(task_iters[task])))
    return jobs


PRE = {stage.name: stage for stage in PRETRAININGS}


def pretrained_jobs(iters: int) -> list[Job]:
    """The jobs that fine-tune this study's own pretrained backbones."""
    sequential = backbone(depth=12, out_indices=(3, 5, 9, 11))
    return [
        job("par-ft", MAIN_CONFIG, P8, backbone(num_parallel=2),
            pretrained(PRE["pre-par"].weights()), schedule(iters)),
        job("seq-ft", MAIN_CONFIG, P8, sequential, pretrained(PRE["pre-seq"].weights()),
            schedule(iters)),
        job("mim-linear-ft", MAIN_CONFIG, pretrained(PRE["mim-linear"].weights()),
            schedule(iters), SHARED_BN, IN_PLACE_FROM_P8),
        job("mim-hmlp-ft", MAIN_CONFIG, backbone(**HMLP),
            pretrained(PRE["mim-hmlp"].weights()), schedule(iters), SHARED_BN, IN_PLACE_FROM_P8),
    ]


NEEDED_PRETRAINING = {"par-ft": "pre-par", "seq-ft": "pre-seq", "mim-linear-ft": "mim-linear",
                      "mim-hmlp-ft": "mim-hmlp"}


# ---------------------------------------------------------------------------- measurements
def measure_memory(quick: bool) -> dict:
    """Training memory, trainable parameters and step time per resolution and variant."""
    from benchmarks.attention_only import VARIANTS, fine_tune_options, training_memory
    from benchmarks.fresh import run_fresh
    from benchmarks.models import process_config_model
    from benchmarks.settings import QUICK_OPTIONS
    from benchmarks.settings import MAIN_CONFIG as MAIN_PATH

    results: dict = {}
    for key, size in SIZES.items():
        for name, (attn_only, with_cp) in VARIANTS.items():
            options = {**(QUICK_OPTIONS[MAIN_PATH] if quick else {}),
                       **fine_tune_options(size, attn_only, with_cp)}
            if quick:
                process_config_model(MAIN_PATH, options)
            results.setdefault(key, {})[name] = run_fresh(training_memory, dict(
                config=str(MAIN_PATH), options=options, batch_size=2 if quick else 16,
                threads=1), clean=not quick)
    return results


def measure_latency(quick: bool) -> list[dict]:
    from benchmarks import parallel_blocks
    from benchmarks.settings import Settings

    rows = parallel_blocks.run(Settings(quick=quick, show_progress=False))
    return [dict(name=row.name, value=row.value, note=row.note) for row in rows]


def measure_storage(root: Path, shared: Path, cli: tuple[str, ...]) -> dict:
    """Backbone bytes of each attention-only task model: all, and only its own tensors."""
    from flexseg.deploy.loading import load_config, load_trained_model
    from flexseg.evaluation.export.task_specific import split_task_specific

    tasks = {}
    for name in ("seg-attn", "depth-attn", "det-attn"):
        model = load_trained_model(load_config(root / name / "config.py", parse_options(cli)),
                                   root / name / "final.pth")
        kept, _ = split_task_specific(model, shared)
        size = lambda tensors: sum(t.numel() * t.element_size() for t in tensors)  # noqa: E731
        tasks[name] = dict(
            backbone_bytes=size(v for k, v in model.state_dict().items()
                                if k.startswith("backbone.")),
            specific_bytes=size(v for k, v in kept.items() if k.startswith("backbone.")))
    return tasks


# ---------------------------------------------------------------------------- the report
class Collected:
    """What finished runs measured, read from the archive."""

    def __init__(self, archive: Path) -> None:
        self.archive = archive
        path = archive / MEASURED
        self.measured = json.loads(path.read_text()) if path.exists() else {}

    def results(self, name: str, tag: str = "eval") -> dict | None:
        path = self.archive / RUNS / name / f"{tag}.json"
        return json.loads(path.read_text()) if path.exists() else None

    def metric(self, name: str, choice: str = "p8", tag: str = "eval",
               metric: str | None = None) -> float | None:
        document = self.results(name, tag)
        if document is None:
            return None
        metric = metric or document["main_metric"]
        for entry in document["choices"]:
            if entry["id"] == choice:
                value = entry["metrics"].get(metric)
                return None if value is None else float(value)
        return None

    def points(self, name: str) -> dict[str, Point]:
        path = self.archive / RUNS / name / "eval.json"
        return read_points(path) if path.exists() else {}

    def minutes(self, name: str) -> float | None:
        path = self.archive / RUNS / name / TRAINING_SUMMARY
        return json.loads(path.read_text())["seconds"] / 60 if path.exists() else None


def points_of(value: float | None) -> float | None:
    """Shares (0-1: box AP, depth d1) as percentage points."""
    return None if value is None else 100 * value


def within(first: float | None, second: float | None, bound: float = 1.0) -> str:
    if first is None or second is None:
        return "not measured yet"
    gap = first - second
    return f"{gap:+.1f} ({'met' if abs(gap) <= bound or gap > 0 else 'missed'})"


def parallel_section(data: Collected) -> str:
    par, seq = data.metric("par-ft"), data.metric("seq-ft")
    rows = [["6 blocks x 2 parallel branches", par, data.minutes("par-ft")],
            ["12 sequential blocks", seq, data.minutes("seq-ft")]]
    latency = data.measured.get("latency", [])
    lines = [markdown_table(["FlexiViT-Ti, p8", "mIoU", "train min"], rows),
             f"\nmIoU parallel − sequential: {within(par, seq)} (goal: within 1)."]
    pretraining = data.measured.get("pretraining", {})
    if {"pre-par", "pre-seq"} <= set(pretraining):
        lines.append(f"Each twin pretrained on DigitTags for {PRETRAIN_STEPS} steps first "
                     f"(pixel accuracy: parallel {pretraining['pre-par']['p8']:.1f}%, "
                     f"sequential {pretraining['pre-seq']['p8']:.1f}%).")
    if latency:
        lines.append("\nBatch-1 latency, parallel / sequential, 2 threads "
                     "(`python tools/benchmark.py --only PAR`):\n")
        lines.append(markdown_table(["twins", "ratio", "note"], [
            [row["name"].split(":")[0], f"{row['value']:.3f}x", row["note"]]
            for row in latency]))
        lines.append("\nGoal: at most 0.9x.")
    return "\n".join(lines)


def resolution_section(data: Collected) -> str:
    memory = data.measured.get("memory", {})
    base = data.metric("res-base")
    rows = [["64 px (trained at)", "–", base, "", "", "", "", data.minutes("res-base")]]
    checks = []
    for key, size in SIZES.items():
        rows.append([f"{size} px", "none (base model as is)",
                     data.metric("res-base", tag=f"at-{size}"), "", "", "", "", ""])
        variants = memory.get(key, {})
        for trained, variant, label in (("all", "all", "all weights"),
                                        ("all", "all, checkpointed", "all + checkpointing"),
                                        ("attn", "attention-only", "attention only"),
                                        ("attn", "attention-only, checkpointed",
                                         "attention only + checkpointing")):
            measured = variants.get(variant, {})
            full = variants.get("all", {}).get("training_bytes")
            share = (f"{measured['training_bytes'] / full:.2f}x"
                     if measured and full else None)
            checkpointed = variant.endswith("checkpointed")
            rows.append([f"{size} px", label, data.metric(f"res-{key}-{trained}"),
                         f"{measured['trainable_params'] / 1e6:.2f} M" if measured else None,
                         f"{measured['training_bytes'] / 2**20:.0f} MiB" if measured else None,
                         share, f"{measured['step_seconds']:.2f}" if measured else None,
                         None if checkpointed else data.minutes(f"res-{key}-{trained}")])
        checks.append(f"- {size} px: attention only − all weights: "
                      f"{within(data.metric(f'res-{key}-attn'), data.metric(f'res-{key}-all'))}"
                      " mIoU (goal: within 1).")
    header = ["size", "fine-tuned", "mIoU", "trainable", "training memory", "vs all weights",
              "step s", "train min"]
    return "\n".join([markdown_table(header, rows), "", *checks])


def tasks_section(data: Collected) -> str:
    rows, checks = [], []
    tasks = (("segmentation", "res-base", "seg-attn", None, "mIoU"),
             ("depth", "depth-all", "depth-attn", "d1", "δ1 (%)"),
             ("detection", "det-all", "det-attn", "coco/bbox_mAP", "box AP"))
    for task, full, attention, metric, label in tasks:
        values = [data.metric(name, metric=metric) for name in (full, attention)]
        if metric:
            values = [points_of(value) for value in values]
        rows.append([task, label, *values])
        checks.append(f"- {task}: attention only − all weights: {within(values[1], values[0])}"
                      f" {label} points (goal: within 1).")
    rmse = [data.metric(name, metric="rmse") for name in ("depth-all", "depth-attn")]
    if None not in rmse:
        checks.append(f"- depth RMSE: all weights {rmse[0]:.3f}, attention only {rmse[1]:.3f}.")
    storage = data.measured.get("storage")
    lines = [markdown_table(["task", "metric", "all weights", "attention only"], rows), "",
             *checks]
    if storage:
        full = sum(task["backbone_bytes"] for task in storage.values())
        one = max(task["backbone_bytes"] for task in storage.values())
        own = sum(task["specific_bytes"] for task in storage.values())
        lines.append(f"\nStorage of the three tasks' backbones (float32): separate "
                     f"{full / 2**20:.1f} MiB; shared {(one + own) / 2**20:.1f} MiB (one "
                     f"backbone {one / 2**20:.1f} MiB + each task's own tensors "
                     f"{own / 2**20:.1f} MiB: attention weights and position embedding, "
                     f"`tools/export.py --only-task-specific --shared BASE.pth`).")
    return "\n".join(lines)


def l1_text(error: float | None) -> str | None:
    return None if error is None else f"{error:.3f}"


def hmlp_section(data: Collected, figure: Path) -> str:
    rows, errors = [], data.measured.get("pretraining", {})
    for size in sorted(PATCH_SIZES, reverse=True):
        choice = f"p{size}"
        rows.append([choice, *[data.metric(name, choice) for name in ("mim-linear-ft",
                                                                      "mim-hmlp-ft")],
                     *[l1_text(errors.get(name, {}).get(choice))
                       for name in ("mim-linear", "mim-hmlp")]])
    plot_panels([("masked-patch pretraining, then the main flexible job",
                  {"linear stem": list(data.points("mim-linear-ft").values()),
                   "hMLP stem": list(data.points("mim-hmlp-ft").values())})],
                figure, ylabel="DigitSeg validation mIoU", xlabel="GFLOPs per 64x64 image")
    lines = [markdown_table(["patch", "linear stem", "hMLP stem", "linear: masked L1",
                             "hMLP: masked L1"], rows),
             "\nmIoU after fine-tuning; masked L1: the pretraining's error on the masked "
             "patches of the validation images (lower is better)."]
    if all(None not in row[:3] for row in rows):
        gaps = [hmlp - linear for _, linear, hmlp, *_ in rows]
        lines.append(f"\nhMLP − linear: {min(gaps):+.1f} to {max(gaps):+.1f} mIoU across the "
                     f"patch sizes (mean {sum(gaps) / len(gaps):+.1f}).")
    lines.append(f"\n![mIoU per patch size](three_things/{figure.name})")
    return "\n".join(lines)


def write_report(archive: Path, out: Path, command: str) -> Path:
    data = Collected(archive)
    archive.mkdir(parents=True, exist_ok=True)
    figure = archive / "hmlp_masked.png"
    text = f"""# Three things everyone should know about ViTs, measured for dense prediction

Reproduce: `{command}` (resumable; {progress_text(data)}). Models: the main job's
FlexiViT-Ti (192-d, 3 heads) + UPerNet on DigitSeg 64x64, batch 16, fine-tuned from
DigitTags-pretrained weights; mIoU on the validation images. Training minutes were measured
with other runs beside them on 2 cores: a rough ranking only. The batch-1 latency ratios were
measured on 2 idle cores, both twins in one process, interleaved. "–": not measured yet.

## 1. Parallel blocks

Pairs of residual blocks run as one block of two parallel branches (`num_parallel=2`): the
branches' projections run as one wider matmul each and their attention as one call over
twice the heads (`flexseg/layers/branch_fusion.py`).

{parallel_section(data)}

## 2. Attention-only fine-tuning

`attn_only=True`: the attention weights (qkv, proj) and the position embedding train; the
patch embedding, norms and MLPs stay as loaded. Training memory: optimizer state, gradients
and activations of a batch-16 step (`python tools/benchmark.py --only ATTN`).

### (a) A higher resolution

The base model (p8, 64 px) fine-tuned for {FT_ITERS} iterations at 1.5x and 2x the size
(lr {FT_LR}). Checkpointing (`with_cp=True`) recomputes activations in the backward pass: it
changes memory and time, not the result, so its rows repeat their run's mIoU. Step: seconds of
one batch-16 training step (1 thread).

{resolution_section(data)}

### (b) Other tasks, one shared backbone

{tasks_section(data)}

## 3. hMLP stem under masked-patch pretraining

Linear vs hMLP stem (native 8x8, LayerNorm), each pretrained with the masked-patch objective
(`objective='masked'`, 60% of the patch tokens masked after the stem, L1 on their pixels),
then fine-tuned as the main flexible job (in-place distillation from p8, the head's BN
statistics shared by the sizes) and evaluated at every patch size. The hMLP stem's kernels
stay at its native size; every patch of another size is mapped to it by the pseudo-inverse of
the bilinear resize (`flexseg/layers/hmlp.py`), so it runs at every patch size of the flexible
model and masking a token hides its whole patch.

{hmlp_section(data, figure)}
"""
    path = out / "three_things.md"
    path.write_text(text)
    return path


def progress_text(data: Collected) -> str:
    runs = data.archive / RUNS
    done = sorted(p.parent.name for p in runs.glob(f"*/{TRAINING_SUMMARY}"))
    return f"{len(done)} of {len(all_job_names())} training runs finished"


def all_job_names() -> list[str]:
    return [j.name for j in resolution_jobs(ITERS, FT_ITERS, SHARED_WEIGHTS)
            + task_jobs(ITERS, SHARED_WEIGHTS, TASK_ITERS) + pretrained_jobs(ITERS)]


# ---------------------------------------------------------------------------- main
def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", default=str(study_root("study-three-things")),
                        help="folder of the runs (checkpoints, logs); outside the repository "
                        "by default")
    parser.add_argument("--out", default="docs", help="where three_things.md and "
                        "three_things/ (the archive of finished runs) go")
    parser.add_argument("--parallel", type=int, default=2, help="runs at a time")
    parser.add_argument("--only", help="comma-separated job names (and what they need)")
    parser.add_argument("--iters", type=int, default=ITERS, help="fine-tuning iterations")
    parser.add_argument("--ft-iters", type=int, default=FT_ITERS,
                        help="iterations at a higher resolution")
    parser.add_argument("--task-iters", type=int, help="depth and detection iterations "
                        "(default: their configs' own)")
    parser.add_argument("--pretrain-steps", type=int, default=PRETRAIN_STEPS)
    parser.add_argument("--shared-weights", default=SHARED_WEIGHTS,
                        help="the pretrained backbone the attention-only tasks share")
    parser.add_argument("--report-only", action="store_true",
                        help="rewrite the report from the finished runs")
    parser.add_argument("--quick-measurements", action="store_true",
                        help="memory and latency of tiny models (tests): checks, times nothing")
    parser.add_argument("--cfg-options", nargs="+", default=[],
                        help="overrides for every job, e.g. a data root (tests)")
    parser.add_argument("--pretrain-options", nargs="+", default=[],
                        help="overrides for every pretraining run (tests)")
    parser.add_argument("--pretrain-one", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args()


def measure(archive: Path, root: Path, args: argparse.Namespace, jobs: list[Job],
            say) -> None:
    """Memory and latency once; storage once the attention-only task models exist."""
    path = archive / MEASURED
    measured = json.loads(path.read_text()) if path.exists() else {}
    names = {j.name for j in jobs}
    if "memory" not in measured and names & {"res-96-attn", "res-128-attn"}:
        say("measuring training memory")
        measured["memory"] = measure_memory(args.quick_measurements)
    if "latency" not in measured and names & {"par-ft", "seq-ft"}:
        say("measuring batch-1 latency")
        measured["latency"] = measure_latency(args.quick_measurements)
    for stage in PRETRAININGS:  # what each pretraining reached on its validation images
        summary = root / "pretrained" / f"{stage.name}.json"
        if summary.exists():
            measured.setdefault("pretraining", {})[stage.name] = \
                json.loads(summary.read_text())["set_accuracy"]
    tasks = ("seg-attn", "depth-attn", "det-attn")
    if "storage" not in measured and all((root / name / "final.pth").exists() for name in tasks):
        measured["storage"] = measure_storage(root, REPO / args.shared_weights,
                                              tuple(args.cfg_options))
    archive.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(measured, indent=1) + "\n")


def pretrain_all(stages: list[Pretraining], root: Path, args: argparse.Namespace,
                 say) -> list[str]:
    """Every stage, ``args.parallel`` at a time; returns the failed ones."""
    failed: list[str] = []
    pending = list(stages)
    lock = threading.Lock()

    def work() -> None:
        while True:
            with lock:
                if not pending:
                    return
                stage = pending.pop(0)
            try:
                run_pretraining(stage, root, args.pretrain_steps, args.pretrain_options, say)
            except RuntimeError as error:
                say(f"FAILED {error}")
                with lock:
                    failed.append(stage.name)

    threads = [threading.Thread(target=work) for _ in range(max(1, args.parallel))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return failed


def main() -> None:
    args = parse_args()
    root = (REPO / args.root).resolve()
    if args.pretrain_one:
        pretrain_one(args.pretrain_one, root, args.pretrain_options)
        return
    out = REPO / args.out
    archive = out / "three_things"
    say = lambda message: print(f"[three things] {message}", flush=True)  # noqa: E731
    task_iters = {task: args.task_iters or iters for task, iters in TASK_ITERS.items()}
    chosen = select_jobs(resolution_jobs(args.iters, args.ft_iters, args.shared_weights)
                         + task_jobs(args.iters, args.shared_weights, task_iters)
                         + pretrained_jobs(args.iters), args.only)
    names = {j.name for j in chosen}
    chosen = [Job(j.name, j.config, j.overrides, j.needs, j.evals, tuple(args.cfg_options))
              for j in chosen]
    failed: list[str] = []
    if not args.report_only:
        if not args.cfg_options:  # the default data, (re)generated if missing or stale
            subprocess.run([sys.executable, "tools/generate_digitseg.py", "--nyu-root",
                            "data/digitseg_nyu"], cwd=REPO, check=True)
        run = lambda jobs: run_jobs(jobs, root, parallel=args.parallel,  # noqa: E731
                                    archive=archive / RUNS, say=say)
        independent = [j for j in chosen if j.name not in NEEDED_PRETRAINING]
        if not (REPO / args.shared_weights).exists():
            say(f"{args.shared_weights} does not exist yet (tools/pretrain.py "
                f"{PRETRAIN_CONFIG}): the runs fine-tuned from it wait for the next invocation")
            independent = []
        failed += run(independent)
        stages = [PRE[NEEDED_PRETRAINING[name]] for name in NEEDED_PRETRAINING if name in names]
        failed += pretrain_all(stages, root, args, say)
        failed += run([j for j in chosen if j.name in NEEDED_PRETRAINING
                       and NEEDED_PRETRAINING[j.name] not in failed])
        measure(archive, root, args, chosen, say)
    path = write_report(archive, out, "python tools/reproduce/three_things.py --parallel 2")
    say(f"report: {path}")
    if failed:
        raise SystemExit(f"error: runs failed: {', '.join(failed)} (their logs are in {root})")


if __name__ == "__main__":
    main()
