"""Is one flexible model as good as a model trained for each budget? The DigitSeg study.

    python tools/reproduce/flexible_vs_fixed.py [--parallel 2] [--only JOB,...] [--report-only]

Trains and evaluates, on the embedded DigitSeg data and the main job's config
(FlexiViT-Ti6 + UPerNet, 64x64):

- one fixed-patch model per patch size of the space (same iterations as the flexible ones);
- the fixed p8 model evaluated at every patch size (PI-resized kernel, no flexible training);
- the flexible model with each recipe: uniform patch sizes; in-place distillation (the largest
  choice, or p8, teaches a sampled one every step; optionally after training p8 alone for half
  the run); distillation from the frozen fixed p8 model, with and without starting from its
  weights;
- the main comparison again at 4x the iterations;
- the stitched ViT: both anchors trained alone, then stitched from those weights (SN-Netv2's
  way), beside the stitched model trained from scratch;
- one joint space of patch sizes x token-keep rates (SuperViT's recipe), beside the patch-size
  space trained with the same in-place distillation.

Every job resumes where it stopped (``flexseg.study.jobs``): run the command again after an
interruption. Results: ``docs/results.md`` (tables, training costs, the goal check) and
``docs/results/flexible_vs_fixed.png``; ``--report-only`` rewrites them from what is finished.
Run it in the background, e.g. ``nohup python tools/reproduce/flexible_vs_fixed.py
--parallel 2 > study.log 2>&1 &``; two jobs at a time with one thread each use 2 cores best.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from flexseg.study.cost import train_tflops  # noqa: E402
from flexseg.study.jobs import TRAINING_SUMMARY, Evaluation, Job, run_jobs  # noqa: E402
from flexseg.study.report import Point, markdown_table, plot_panels, read_points  # noqa: E402

MAIN_CONFIG = "configs/flexivit/flexivit-ti6_upernet_1.3k_digitseg-64x64.py"
STITCHED_CONFIG = "configs/snnet/snnet-tiny_upernet_digitseg-64x64.py"
JOINT_CONFIG = "configs/flexivit/flexivit-ti6_upernet_keep-supervit_1.3k_digitseg-64x64.py"
PATCH_SIZES = (4, 6, 8, 12, 16)
EVERY_PATCH_SIZE = "model = dict(backbone=dict(patch_sizes=%s))" % list(PATCH_SIZES)
ITERS = 1300
LONG = 4  # the longer schedule, in multiples of ITERS
SCHEDULES = {"": 1.0, "-4x": LONG, "-half": 0.5}  # job-name suffix -> multiple of ITERS
BATCH_SIZE = 16
RECIPES = {  # job stem -> label
    "flex-uniform": "uniform",
    "flex-inplace": "in-place distillation",
    "flex-inplace-p8": "in-place distillation, p8 teaching",
    "flex-inplace-p8-warm": "in-place distillation, p8 teaching, p8 alone first",
    "flex-inplace-p8-warm-two": "in-place distillation, p8 teaching, p8 alone first, "
                                "two sizes per step, p6 and p4 drawn 2x",
    "flex-teacher": "teacher distillation",
    "flex-teacher-init": "teacher distillation + init",
    "flex-teacher-init-weighted": "teacher distillation + init, p6 and p4 drawn 2x",
    "flex-teacher-init-weighted-two": "teacher distillation + init, p6 and p4 drawn 2x, "
                                      "two sizes per step",
}
TEACHER = {"flex-teacher": "fixed-p8", "flex-teacher-init": "fixed-p8",
           "flex-teacher-init-grid-stride": "fixed-p8", "flex-teacher-init-weighted": "fixed-p8",
           "flex-teacher-init-weighted-two": "fixed-p8"}
# The sizes farthest below the teacher's lag most: give them more of the updates.
FINE_SIZES_TWICE = "dict(strategy='weighted', weights=dict(p16=1, p12=1, p8=1, p6=2, p4=2))"
TWO_FINE_SIZES_TWICE = FINE_SIZES_TWICE.replace("))", "), num_choices=2)")
TWO_STUDENTS_OF_P8 = TWO_FINE_SIZES_TWICE.replace("p8=1, ", "")  # p8 teaches, never drawn
EVERY_SIZE = Evaluation("every-size", EVERY_PATCH_SIZE)


def schedule(iters: int, distill: str = "None", **train_cfg: str) -> str:
    """Config text: ``iters`` iterations, warm-up then cosine, validation only at the end,
    checkpoints often enough to resume cheaply, logged times averaged over each log interval,
    and the two loader workers every study run has used (the data order and augmentation draws
    depend on them, so runs stay comparable). ``train_cfg``: more keys of ``train_cfg`` as
    config text; a config file's second ``train_cfg = ...`` would replace the first.
    ``distill``: the recipe as config text; the main config's own is replaced, never merged."""
    warmup = min(100, iters // 2)  # the main config's 100, shortened for tiny test runs
    keys = "".join(f", {key}={text}" for key, text in train_cfg.items())
    if distill != "None":
        distill = distill.replace("dict(", "dict(_delete_=True, ", 1)
    return f"""
train_cfg = dict(max_iters={iters}, val_interval={iters}, distill={distill}{keys})
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end={warmup}),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=False, begin={warmup}, end={iters}),
]
default_hooks = dict(checkpoint=dict(interval=100, max_keep_ckpts=1), logger=dict(interval=50))
log_processor = dict(window_size=50)
train_dataloader = dict(num_workers=2, persistent_workers=True)
"""


def fixed(size: int, iters: int, suffix: str = "") -> Job:
    evals = (Evaluation("eval"), EVERY_SIZE) if size == 8 else (Evaluation("eval"),)
    return Job(f"fixed-p{size}{suffix}", MAIN_CONFIG, schedule(iters) +
               f"model = dict(backbone=dict(patch_size={size}, patch_sizes=[{size}]))",
               evals=evals)


def teacher_distill(name: str, teacher: str, init: bool, iters: int, extra: str = "",
                    **train_cfg: str) -> Job:
    distill = (f"dict(mode='teacher', init_student={init}, teacher=dict(config="
               f"'{{root}}/{teacher}/config.py', checkpoint='{{root}}/{teacher}/final.pth'))")
    return Job(name, MAIN_CONFIG, schedule(iters, distill=distill, **train_cfg) + extra,
               needs=(teacher,))


def anchor(name: str, dim: int, depth: int, heads: int, indices: tuple, iters: int) -> Job:
    return Job(name, MAIN_CONFIG, schedule(iters) + f"""
model = dict(
    backbone=dict(patch_size=8, patch_sizes=[8], embed_dim={dim}, depth={depth},
                  num_heads={heads}, out_indices={indices}),
    neck=dict(in_channels=[{dim}] * 4, out_channels=128),
    decode_head=dict(in_channels=[128] * 4))
""")


def stitched_from_anchors(iters: int) -> Job:
    def pretrained(job: str) -> str:
        return (f"init_cfg=dict(type='Pretrained', checkpoint='{{root}}/{job}/final.pth', "
                f"prefix='backbone.')")
    return Job("stitched-anchors", STITCHED_CONFIG, schedule(iters) + f"""
model = dict(backbone=dict(small=dict({pretrained('anchor-s')}),
                           large=dict({pretrained('anchor-l')})))
load_from = '{{root}}/anchor-l/final.pth'  # the large anchor's neck and head
""", needs=("anchor-s", "anchor-l"))


def p8_warm(iters: int) -> str:
    """The main job's recipe: p8 teaches in place, alone for the first half."""
    return f"dict(mode='inplace', teacher_choice='p8', teacher_only_iters={iters // 2})"


def study_jobs(iters: int = ITERS) -> list[Job]:
    """Every job, most informative first."""
    long = int(iters * SCHEDULES["-4x"])
    return [
        fixed(8, iters),
        Job("flex-uniform", MAIN_CONFIG, schedule(iters)),
        teacher_distill("flex-teacher-init", "fixed-p8", True, iters),
        # Could a teacher and its student share the main job's time? Half of it for the teacher.
        fixed(8, iters // 2, "-half"),
        fixed(16, iters),
        fixed(4, iters),
        Job("flex-inplace", MAIN_CONFIG, schedule(iters, distill="dict(mode='inplace')")),
        # Maps at the token grid's stride: neck and head shrink with the patch size.
        teacher_distill("flex-teacher-init-grid-stride", "fixed-p8", True, iters,
                        "model = dict(backbone=dict(out_stride=None))"),
        Job("keep-joint", JOINT_CONFIG,
            schedule(iters, distill="dict(mode='inplace')") + EVERY_PATCH_SIZE),
        anchor("anchor-s", 64, 6, 2, (1, 2, 4, 5), iters),
        anchor("anchor-l", 128, 12, 4, (3, 5, 9, 11), iters),
        stitched_from_anchors(iters),
        Job("stitched-scratch", STITCHED_CONFIG, schedule(iters)),
        fixed(12, iters),
        fixed(6, iters),
        teacher_distill("flex-teacher", "fixed-p8", False, iters),
        teacher_distill("flex-teacher-init-weighted", "fixed-p8", True, iters,
                        sampler=FINE_SIZES_TWICE),
        # In one run, without a teacher trained first: the cheap p8 teaches every step.
        Job("flex-inplace-p8", MAIN_CONFIG,
            schedule(iters, distill="dict(mode='inplace', teacher_choice='p8')")),
        # The same, its students starting from a trained p8 as teacher + init's do: the first
        # half trains p8 alone, at about 40% of a sandwich step's FLOPs.
        Job("flex-inplace-p8-warm", MAIN_CONFIG, schedule(iters, distill=p8_warm(iters))),
        fixed(8, long, "-4x"),
        Job("flex-uniform-4x", MAIN_CONFIG, schedule(long)),
        # The best recipe at the short schedule.
        teacher_distill("flex-teacher-init-weighted-4x", "fixed-p8-4x", True, long,
                        sampler=FINE_SIZES_TWICE),
        fixed(16, long, "-4x"),
        fixed(4, long, "-4x"),
        # The best recipe with two distinct sizes per step: twice the updates of each size.
        teacher_distill("flex-teacher-init-weighted-two", "fixed-p8", True, iters,
                        sampler=TWO_FINE_SIZES_TWICE),
        # Does the main job's recipe (no teacher trained first) gain as much from it?
        Job("flex-inplace-p8-warm-two", MAIN_CONFIG,
            schedule(iters, distill=p8_warm(iters), sampler=TWO_STUDENTS_OF_P8)),
        # The best recipe at the short schedule, now with two sizes per step.
        teacher_distill("flex-teacher-init-weighted-two-4x", "fixed-p8-4x", True, long,
                        sampler=TWO_FINE_SIZES_TWICE),
    ]


# ---------------------------------------------------------------------------- the report
class Collected:
    """What the finished jobs measured, read from the committed archive (a job not finished
    yet has no entries)."""

    def __init__(self, archive: Path) -> None:
        self.archive = archive

    def points(self, job: str, tag: str = "eval") -> dict[str, Point]:
        path = self.archive / job / f"{tag}.json"
        return read_points(path) if path.exists() else {}

    def value(self, job: str, choice: str, tag: str = "eval") -> float | None:
        point = self.points(job, tag).get(choice)
        return point.value if point else None

    def cost(self, job: str) -> dict | None:
        """Training minutes and TFLOPs of ``job``, its frozen teacher's forwards included."""
        path = self.archive / job / TRAINING_SUMMARY
        if not path.exists():
            return None
        summary = json.loads(path.read_text())
        tflops = train_tflops(summary["forward_gflops_per_image"], BATCH_SIZE)
        stem, suffix = split_suffix(job)
        teacher = TEACHER[stem] + suffix if stem in TEACHER else None
        if teacher:
            teacher_point = next(iter(self.points(teacher).values()), None)
            if teacher_point:
                tflops += teacher_point.gflops * BATCH_SIZE * summary["iterations"] / 1e3
        return dict(iterations=summary["iterations"], minutes=summary["seconds"] / 60,
                    tflops=tflops, teacher=teacher)


def split_suffix(job: str) -> tuple[str, str]:
    """``flex-uniform-4x`` -> (``flex-uniform``, ``-4x``)."""
    for suffix in sorted(SCHEDULES, key=len, reverse=True):
        if suffix and job.endswith(suffix):
            return job[:-len(suffix)], suffix
    return job, ""


def size_ids() -> list[str]:
    return [f"p{size}" for size in sorted(PATCH_SIZES, reverse=True)]  # cheapest first


def comparison(data: Collected, suffix: str) -> tuple[str, dict]:
    """mIoU per patch size: fixed per size, fixed p8 PI-resized, each recipe."""
    recipes = [stem for stem in RECIPES if data.points(stem + suffix)]
    header = ["patch", "GFLOPs", "fixed, this size", "fixed p8, PI-resized",
              *[RECIPES[stem] for stem in recipes]]
    rows, table = [], {}
    for choice in size_ids():
        fixed_value = data.value(f"fixed-{choice}{suffix}", choice)
        every = data.points(f"fixed-p8{suffix}", EVERY_SIZE.tag).get(choice)
        measured = [data.points(stem + suffix) for stem in recipes] + [
            data.points(f"fixed-{choice}{suffix}"),
            data.points(f"fixed-p8{suffix}", EVERY_SIZE.tag)]
        gflops = next((points[choice].gflops for points in measured if choice in points), None)
        values = [data.value(stem + suffix, choice) for stem in recipes]
        table[choice] = dict(fixed=fixed_value, fixed_p8=every.value if every else None,
                             **{stem: v for stem, v in zip(recipes, values)})
        rows.append([choice, None if gflops is None else f"{gflops:.3f}", fixed_value,
                     every.value if every else None, *values])
    return markdown_table(header, rows), table


def cost_table(data: Collected, suffix: str) -> str:
    rows = []
    fixed_total = dict(minutes=0.0, tflops=0.0, count=0)
    for choice in size_ids():
        cost = data.cost(f"fixed-{choice}{suffix}")
        if cost:
            fixed_total["minutes"] += cost["minutes"]
            fixed_total["tflops"] += cost["tflops"]
            fixed_total["count"] += 1
            rows.append([f"fixed {choice}", cost["iterations"], cost["minutes"],
                         cost["tflops"], "", cost["minutes"], cost["tflops"]])
    if fixed_total["count"] == len(PATCH_SIZES):  # a partial sum would look like the total
        rows.append([f"one fixed model per size ({len(PATCH_SIZES)} models)", "",
                     fixed_total["minutes"], fixed_total["tflops"], "",
                     fixed_total["minutes"], fixed_total["tflops"]])
    for stem, label in RECIPES.items():
        cost = data.cost(stem + suffix)
        if not cost:
            continue
        extra = data.cost(cost["teacher"]) if cost["teacher"] else None
        rows.append([label, cost["iterations"], cost["minutes"], cost["tflops"],
                     cost["teacher"] or "",
                     cost["minutes"] + (extra["minutes"] if extra else 0.0),
                     cost["tflops"] + (extra["tflops"] if extra else 0.0)])
    return markdown_table(["model", "iterations", "train min", "train TFLOPs",
                           "teacher trained first", "total min", "total TFLOPs"], rows)


def largest_shortfalls(table: dict) -> tuple[dict[str, float], str | None]:
    """Recipe stem -> its largest mIoU shortfall against the fixed models, for the recipes
    measured beside a fixed model at every size; and the stem with the smallest (the best)."""
    gaps = {}
    for stem in RECIPES:
        shortfalls = [row["fixed"] - row[stem] for row in table.values()
                      if row.get("fixed") is not None and row.get(stem) is not None]
        if shortfalls and len(shortfalls) == len(table):
            gaps[stem] = max(shortfalls)
    return gaps, min(gaps, key=gaps.get) if gaps else None


def goal_check(table: dict) -> list[str]:
    """The issue's goal: best recipe within 1 mIoU of fixed at every size; p8 collapses."""
    lines = []
    gaps, best = largest_shortfalls(table)
    if best:
        verdict = "met" if gaps[best] <= 1.0 else "missed"
        lines.append(f"- Best recipe: **{RECIPES[best]}**, at most {gaps[best]:.1f} mIoU below "
                     f"the fixed model of each size (goal: ≤ 1.0) — {verdict}.")
        for stem, gap in sorted(gaps.items(), key=lambda item: item[1]):
            lines.append(f"  - {RECIPES[stem]}: largest shortfall {gap:.1f}")
    p8 = table.get("p8", {})
    for choice in ("p4", "p16"):
        row = table.get(choice, {})
        if row.get("fixed_p8") is not None and row.get("fixed") is not None:
            loss = row["fixed"] - row["fixed_p8"]
            lines.append(f"- Fixed p8 evaluated at {choice}: {row['fixed_p8']:.1f} vs "
                         f"{row['fixed']:.1f} for the {choice} model ({loss:.1f} lost; goal "
                         f"≥ 10).")
    if p8.get("fixed") is not None:
        lines.append(f"- Fixed p8 at its own size: {p8['fixed']:.1f}.")
    return lines


def stitched_table(data: Collected) -> tuple[str, dict[str, list[Point]]]:
    anchors = {"S alone": data.points("anchor-s").get("p8"),
               "L alone": data.points("anchor-l").get("p8")}
    from_anchors, scratch = data.points("stitched-anchors"), data.points("stitched-scratch")
    ids = sorted(set(from_anchors) | set(scratch),  # equal GFLOPs: by id, the same every run
                 key=lambda i: ((from_anchors.get(i) or scratch.get(i)).gflops, i))
    rows = [[i, f"{(from_anchors.get(i) or scratch.get(i)).gflops:.3f}",
             from_anchors[i].value if i in from_anchors else None,
             scratch[i].value if i in scratch else None] for i in ids]
    rows += [[name, f"{p.gflops:.3f}", p.value, None] for name, p in anchors.items() if p]
    curves = {"stitched from trained anchors": list(from_anchors.values()),
              "stitched from scratch": list(scratch.values())}
    curves.update({name: [p] for name, p in anchors.items() if p})
    header = ["route", "GFLOPs", "stitched from trained anchors", "stitched from scratch"]
    lines = [markdown_table(header, rows)]
    if from_anchors and all(anchors.values()):
        ordered = sorted(from_anchors.values(), key=lambda p: p.gflops)
        front = [p for k, p in enumerate(ordered)
                 if all(p.value > q.value for q in ordered[:k])]
        lines.append(f"\nFrontier (routes better than every cheaper one): "
                     f"{', '.join(f'{p.id} {p.value:.1f}' for p in front)}. Ends: cheapest "
                     f"route {ordered[0].value:.1f} vs S alone {anchors['S alone'].value:.1f}; "
                     f"best route {max(p.value for p in ordered):.1f} vs L alone "
                     f"{anchors['L alone'].value:.1f}.")
    return "\n".join(lines), curves


def joint_section(data: Collected) -> tuple[str, dict[str, list[Point]]]:
    """The joint patch x keep space beside the patch-only space, same recipe and iterations."""
    joint, patch_only = data.points("keep-joint"), data.points("flex-inplace")
    curves = {"patch x keep (joint)": list(joint.values()),
              "patch only": list(patch_only.values())}
    if not joint:
        return "Not measured yet.", curves
    rows = []
    for point in sorted(patch_only.values(), key=lambda p: p.gflops):
        affordable = [p for p in joint.values() if p.gflops <= point.gflops * 1.0001]
        best = max(affordable, key=lambda p: p.value) if affordable else None
        rows.append([point.id, f"{point.gflops:.3f}", point.value,
                     best.id if best else "", best.value if best else None,
                     best.value - point.value if best else None])
    table = markdown_table(["patch-only choice", "GFLOPs", "mIoU", "best joint choice at <= "
                            "these GFLOPs", "its mIoU", "difference"], rows)
    costs = sorted(p.gflops for p in joint.values())
    only = sorted(p.gflops for p in patch_only.values()) or [math.nan]
    listing = markdown_table(["joint choice", "GFLOPs", "mIoU"], [
        [p.id, f"{p.gflops:.3f}", p.value] for p in sorted(joint.values(),
                                                         key=lambda p: p.gflops)])
    summary = (f"GFLOPs covered: joint {costs[0]:.3f}–{costs[-1]:.3f} "
               f"({costs[-1] / costs[0]:.1f}x), patch sizes alone {only[0]:.3f}–{only[-1]:.3f} "
               f"({only[-1] / only[0]:.1f}x).")
    return "\n\n".join([table, summary, listing]), curves


def grid_stride_section(data: Collected) -> str:
    """Maps at a fixed stride 8 vs at the token grid's own stride, same recipe."""
    fixed8, grid = data.points("flex-teacher-init"), data.points("flex-teacher-init-grid-stride")
    if not grid:
        return "Not measured yet."
    rows = [[choice,
             f"{fixed8[choice].gflops:.3f}" if choice in fixed8 else None,
             fixed8[choice].value if choice in fixed8 else None,
             f"{grid[choice].gflops:.3f}" if choice in grid else None,
             grid[choice].value if choice in grid else None] for choice in size_ids()]
    return markdown_table(["patch", "GFLOPs, stride 8", "mIoU, stride 8", "GFLOPs, grid stride",
                           "mIoU, grid stride"], rows)


def half_teacher(data: Collected, iters: int) -> str:
    value = data.value("fixed-p8-half", "p8")
    if value is None:
        return "Not measured yet."
    full = data.value("fixed-p8", "p8") or 0.0
    return (f"The fixed p8 model trained for {iters // 2} iterations (the schedule compressed to "
            f"half) reaches {value:.1f} mIoU at p8, against {full:.1f} "
            f"after {iters}: on DigitSeg a model from scratch learns the digits only late in a "
            "short schedule, so a teacher and a distilled student cannot share the main job's "
            "time; the teacher recipe costs a full teacher run first.")


def curves_for(data: Collected, suffix: str) -> dict[str, list[Point]]:
    curves = {RECIPES[stem]: list(data.points(stem + suffix).values()) for stem in RECIPES}
    curves["fixed model per size"] = [p for choice in size_ids()
                                      for p in data.points(f"fixed-{choice}{suffix}").values()]
    curves["fixed p8, PI-resized"] = list(data.points(f"fixed-p8{suffix}",
                                                      EVERY_SIZE.tag).values())
    return curves


def reference_curves(table: dict) -> list[str]:
    """Curves to draw bold: the fixed models and the recipe closest to them."""
    _, best = largest_shortfalls(table)
    return ["fixed model per size", "fixed p8, PI-resized", *([RECIPES[best]] if best else [])]


def write_report(archive: Path, out: Path, command: str, iters: int = ITERS) -> Path:
    data = Collected(archive)
    figure_dir = out / "results"
    figure_dir.mkdir(parents=True, exist_ok=True)
    main_table, main = comparison(data, "")
    long_table, long = comparison(data, "-4x")
    stitched, stitched_curves = stitched_table(data)
    joint, joint_curves = joint_section(data)
    figure = figure_dir / "flexible_vs_fixed.png"
    stitched_title = "stitched ViT (S: 64-d x 6, L: 128-d x 12)"
    plot_panels([(f"{iters} iterations", curves_for(data, "")),
                 (f"{iters * LONG} iterations", curves_for(data, "-4x")),
                 (stitched_title, stitched_curves),
                 ("patch x token-keep rate, in-place distillation", joint_curves)],
                figure, ylabel="DigitSeg validation mIoU", xlabel="GFLOPs per 64x64 image",
                fronts=[stitched_title], emphasize=reference_curves(main))
    (figure_dir / "flexible_vs_fixed.json").write_text(json.dumps(
        dict(main=main, long=long), indent=2, default=lambda v: None) + "\n")
    text = f"""# One flexible model vs a model per budget: DigitSeg evidence

Reproduce: `{command}` (resumable; {progress_text(data)}). Model:
the main job's FlexiViT-Ti6 + UPerNet on DigitSeg 64x64 (batch {BATCH_SIZE}); mIoU on the 200
validation images; GFLOPs per image (multiply-adds, whole model). "–": not measured yet.

![mIoU vs GFLOPs](results/flexible_vs_fixed.png)

## {iters} iterations

{main_table}

{chr(10).join(goal_check(main))}

Training cost (train TFLOPs: 3 x forward multiply-adds of the trained sub-networks, plus the
frozen teacher's forward passes, replayed exactly from each run's sampler; minutes: time in
training steps, measured with two study jobs and at times other work sharing the 2 cores, so
only a rough guide, not comparable with the README's timings):

{cost_table(data, "")}

## {iters * LONG} iterations ({LONG}x)

{long_table}

{chr(10).join(goal_check(long))}

{cost_table(data, "-4x")}

## A teacher within the main job's time?

{half_teacher(data, iters)}

## Output maps at the token grid's stride (`out_stride=None`), teacher distillation + init

{grid_stride_section(data)}

## Stitched ViT ({iters} iterations each stage)

{stitched}

## One joint space: patch size x token-keep rate ({iters} iterations)

`{JOINT_CONFIG}` with every patch size (4 to 16) x keep rates 1, 0.7 and 0.5: tokens dropped
after blocks 1 and 3 (rates compound), in-place distillation from the largest choice (p4);
beside the patch-size space trained with the same recipe (`flex-inplace`).

{joint}
"""
    path = out / "results.md"
    path.write_text(text)
    return path


def progress_text(data: Collected) -> str:
    """How far the study is, and what its finished jobs' training cost."""
    names = [job.name for job in study_jobs()]
    costs = [cost for cost in map(data.cost, names) if cost]
    hours = sum(cost["minutes"] for cost in costs) / 60
    return (f"{len(costs)} of {len(names)} jobs finished, their training steps {hours:.1f} "
            "hours of wall time summed over jobs")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", default=str(default_root()),
                        help="folder of the jobs (checkpoints, logs, evaluations); outside the "
                        "repository by default, so later checkouts on this machine resume")
    parser.add_argument("--out", default="docs", help="where results.md, the figure and the "
                        "archive of finished jobs (results/runs/) go")
    parser.add_argument("--parallel", type=int, default=2, help="jobs at a time")
    parser.add_argument("--only", help="comma-separated job names (and what they need)")
    parser.add_argument("--iters", type=int, default=ITERS, help="the short schedule")
    parser.add_argument("--report-only", action="store_true",
                        help="rewrite the report from the finished jobs")
    parser.add_argument("--cfg-options", nargs="+", default=[],
                        help="overrides for every job, e.g. a data root (tests)")
    return parser.parse_args()


def default_root() -> Path:
    """``$FLEXSEG_CACHE/study`` (default ``~/.cache/flexseg/study``), like the set-up's cache."""
    cache = os.environ.get("FLEXSEG_CACHE") or Path(
        os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "flexseg"
    return Path(cache) / "study"


def select(jobs: list[Job], only: str | None) -> list[Job]:
    if not only:
        return jobs
    by_name = {job.name: job for job in jobs}
    wanted = [name.strip() for name in only.split(",") if name.strip()]
    unknown = [name for name in wanted if name not in by_name]
    if unknown:
        raise SystemExit(f"error: unknown jobs {unknown}; jobs: {', '.join(by_name)}")
    closure: set[str] = set()
    stack = list(wanted)
    while stack:
        name = stack.pop()
        if name not in closure:
            closure.add(name)
            stack.extend(by_name[name].needs)
    return [job for job in jobs if job.name in closure]


def main() -> None:
    args = parse_args()
    root, out = (REPO / args.root).resolve(), REPO / args.out
    archive = out / "results" / "runs"
    jobs = [Job(j.name, j.config, j.overrides, j.needs, j.evals, tuple(args.cfg_options))
            for j in select(study_jobs(args.iters), args.only)]
    command = "python tools/reproduce/flexible_vs_fixed.py --parallel 2"
    failed = []
    if not args.report_only:
        if not (REPO / "data/digitseg").exists() and not args.cfg_options:
            import subprocess
            subprocess.run([sys.executable, "tools/generate_digitseg.py"], cwd=REPO, check=True)
        failed = run_jobs(jobs, root, parallel=args.parallel, archive=archive,
                          say=lambda message: print(f"[study] {message}", flush=True))
    path = write_report(archive, out, command, args.iters)
    print(f"[study] report: {path}")
    if failed:
        raise SystemExit(f"error: jobs failed: {', '.join(failed)} (their logs are in {root})")


if __name__ == "__main__":
    main()
