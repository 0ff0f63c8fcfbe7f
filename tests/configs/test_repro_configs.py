"""The paper-reproduction configs match the released code row by row (each setting beside the
file it comes from, so any drift fails), and each runs one training iteration and one
multi-budget evaluation on generated data in its dataset's real layout (a tiny model)."""
import runpy
import shlex
import sys
from pathlib import Path

import numpy as np
import pytest
from mmengine.config import Config
from mmengine.runner import Runner
from PIL import Image

import flexseg  # noqa: F401  (registers models and loops)
from tests.conftest import REPO
from tests.docs.pages import bash_commands

SNNET = REPO / "configs/snnet"
ADE = SNNET / "snnetv2-repro_setr-naive_deit3-s-l_ade20k-512x512.py"
COCO_STUFF = SNNET / "snnetv2-repro_setr-naive_deit3-s-l_coco-stuff10k-512x512.py"
RELEASE = "github.com/ziplab/SN-Netv2"
SEG = "segmentation/configs"
ADE_FILE = f"{SEG}/snnet/setr_naive_512x512_160k_b16_ade20k_deit_3_s_l_224_snnetv2.py"
COCO_FILE = f"{SEG}/snnet/setr_naive_512x512_80k_b16_coco_stuff10k_deit_3_s_l_224_snnetv2.py"
BACKBONE = "segmentation/mmseg/models/backbones/snnet.py"
HOOK = "segmentation/mmseg/engine/hooks/snnet_hook.py"


def _get(cfg: Config, path: str):
    """The value at a dotted path (list indices as numbers); None where a key is not set."""
    value = cfg
    for key in path.split("."):
        value = value[int(key)] if key.isdigit() else value.get(key)
        if value is None:
            return None
    return value


# (setting, path in our config, published value, release file it comes from)
SETR = [
    ("decode head", "model.decode_head.type", "SETRUPHead", ADE_FILE),
    ("head input: level 3, 1024 -> 256", "model.decode_head.in_index", 3, ADE_FILE),
    ("head channels", "model.decode_head.channels", 256, ADE_FILE),
    ("SETR-Naive: one 1x1 conv", "model.decode_head.num_convs", 1, ADE_FILE),
    ("SETR-Naive kernel", "model.decode_head.kernel_size", 1, ADE_FILE),
    ("upsampling x4", "model.decode_head.up_scale", 4, ADE_FILE),
    ("no neck", "model.neck", None, ADE_FILE),
    ("auxiliary heads on levels 0-2", "model.auxiliary_head", None, ADE_FILE),  # checked below
    ("optimizer", "optim_wrapper.optimizer.type", "SGD",
     f"{SEG}/_base_/schedules/schedule_160k.py"),
    ("learning rate", "optim_wrapper.optimizer.lr", 0.01,
     f"{SEG}/_base_/schedules/schedule_160k.py"),
    ("momentum", "optim_wrapper.optimizer.momentum", 0.9,
     f"{SEG}/_base_/schedules/schedule_160k.py"),
    ("weight decay", "optim_wrapper.optimizer.weight_decay", 0.0005,
     f"{SEG}/_base_/schedules/schedule_160k.py"),
    ("no head lr multiplier (the config's own dict is unused)", "optim_wrapper.paramwise_cfg",
     None, ADE_FILE),
    ("poly schedule, no warm-up", "param_scheduler.0.type", "PolyLR",
     f"{SEG}/_base_/schedules/schedule_160k.py"),
    ("poly power", "param_scheduler.0.power", 0.9, f"{SEG}/_base_/schedules/schedule_160k.py"),
    ("poly floor", "param_scheduler.0.eta_min", 1e-4,
     f"{SEG}/_base_/schedules/schedule_160k.py"),
    ("evaluation", "model.test_cfg.mode", "slide", ADE_FILE),
    ("slide crop", "model.test_cfg.crop_size", (512, 512), ADE_FILE),
    ("slide stride", "model.test_cfg.stride", (341, 341), ADE_FILE),
    ("images per GPU (x 8 GPUs = 16)", "train_dataloader.batch_size", 2, ADE_FILE),
    ("crop", "model.data_preprocessor.size", (512, 512), ADE_FILE),
    ("small anchor: DeiT-III S", "model.backbone.small.embed_dim", 384, ADE_FILE),
    ("large anchor: DeiT-III L", "model.backbone.large.embed_dim", 1024, ADE_FILE),
    ("large anchor depth", "model.backbone.large.depth", 24, ADE_FILE),
    ("drop path, small", "model.backbone.small.drop_path_rate", 0.1, ADE_FILE),
    ("drop path, large", "model.backbone.large.drop_path_rate", 0.1, ADE_FILE),
    ("output blocks, small", "model.backbone.out_indices", (4, 7, 9, 11), BACKBONE),
    ("output blocks, large", "model.backbone.large_out_indices", (9, 14, 19, 23), ADE_FILE),
    ("LoRA rank", "model.backbone.lora_rank", 16, ADE_FILE),
    ("LoRA alpha (update x 1/16)", "model.backbone.lora_alpha", 1,
     "segmentation/mmseg/models/backbones/lora.py"),
    ("small-anchor maps reuse the S->L stitch", "model.backbone.level_maps", "stitch", BACKBONE),
    ("route kinds: S, L, S-L, L-S, S-L-S, L-S-L (134)", "model.backbone.routes",
     ("S", "L", "S-L", "L-S", "S-L-S", "L-S-L"), BACKBONE),
    ("ROS", "train_cfg.sampler.strategy", "ros", HOOK),
    ("ROS gap (GFLOPs)", "train_cfg.sampler.gap_gflops", 10.0, HOOK),
    ("ROS grouping", "train_cfg.sampler.ros_grouping", "greedy", HOOK),
    ("stitch fit on 50 images (25 batches of 2)", "custom_hooks.0.num_batches", 25, HOOK),
    ("dataset", "train_dataloader.dataset.type", "ADE20KDataset",
     f"{SEG}/_base_/datasets/ade20k.py"),
]
TABLES = {
    ADE: SETR + [
        ("iterations", "train_cfg.max_iters", 160000, f"{SEG}/_base_/schedules/schedule_160k.py"),
        ("poly end", "param_scheduler.0.end", 160000, f"{SEG}/_base_/schedules/schedule_160k.py"),
        ("classes", "model.decode_head.num_classes", 150, ADE_FILE)],
    COCO_STUFF: [row for row in SETR if row[0] != "dataset"] + [
        ("iterations", "train_cfg.max_iters", 80000, f"{SEG}/_base_/schedules/schedule_80k.py"),
        ("poly end", "param_scheduler.0.end", 80000, f"{SEG}/_base_/schedules/schedule_80k.py"),
        ("classes", "model.decode_head.num_classes", 171, COCO_FILE),
        ("dataset", "train_dataloader.dataset.type", "COCOStuffDataset",
         f"{SEG}/_base_/datasets/coco-stuff10k.py")],
}


@pytest.mark.parametrize("config", list(TABLES), ids=lambda p: p.name)
def test_every_setting_equals_the_release(config):
    cfg = Config.fromfile(str(config))
    wrong = []
    for setting, path, published, source in TABLES[config]:
        if path == "model.auxiliary_head":
            continue
        ours = _get(cfg, path)
        ours = tuple(ours) if isinstance(ours, list) else ours
        if ours != published:
            wrong.append(f"{setting}: {ours!r}, released {published!r} ({RELEASE} {source})")
    assert not wrong, "\n".join(wrong)
    classes = cfg.model.decode_head.num_classes
    aux = [(h.type, h.in_index, h.num_convs, h.kernel_size, h.up_scale, h.channels,
            h.num_classes, h.loss_decode.loss_weight) for h in cfg.model.auxiliary_head]
    assert aux == [("SETRUPHead", level, 2, 1, 4, 256, classes, 0.4) for level in (0, 1, 2)], \
        f"auxiliary heads differ from {RELEASE} {ADE_FILE}"


def _write_split(root: Path, images: str, labels: str, suffix: str, count: int,
                 classes: int, seed: int) -> None:
    """``count`` 40x48 JPEG images with PNG labels (0 = unlabelled, as both datasets store)."""
    rng = np.random.default_rng(seed)
    (root / images).mkdir(parents=True)
    (root / labels).mkdir(parents=True)
    for index in range(count):
        image = rng.integers(0, 255, (40, 48, 3), dtype=np.uint8)
        label = rng.integers(0, classes + 1, (40, 48), dtype=np.uint8)
        Image.fromarray(image).save(root / images / f"{index:04d}.jpg")
        Image.fromarray(label).save(root / labels / f"{index:04d}{suffix}")


LAYOUTS = {  # the datasets' real layouts (mmseg's dataset_prepare)
    ADE: ("ADEChallengeData2016", ("images/training", "annotations/training"),
          ("images/validation", "annotations/validation"), ".png", 150),
    COCO_STUFF: ("coco_stuff10k", ("images/train2014", "annotations/train2014"),
                 ("images/test2014", "annotations/test2014"), "_labelTrainIds.png", 171),
}


def _tiny(config: Path, data_root: Path, work_dir: Path, load=Config.fromfile) -> Config:
    """The config with a tiny 12/24-block pair (its real out_indices), 32-pixel crops and one
    iteration: every other setting as released."""
    cfg = load(str(config))
    small = dict(embed_dim=16, depth=12, num_heads=2, init_cfg=None)
    large = dict(embed_dim=32, depth=24, num_heads=2, init_cfg=None)
    cfg.model.backbone.small.update(small)
    cfg.model.backbone.large.update(large)
    cfg.model.backbone.img_size = (32, 32)
    cfg.model.data_preprocessor.size = (32, 32)
    cfg.model.test_cfg.update(crop_size=(32, 32), stride=(21, 21))
    for head in [cfg.model.decode_head, *cfg.model.auxiliary_head]:
        head.update(in_channels=32, channels=8, norm_cfg=dict(type="BN", requires_grad=True))
    for key in ("train_dataloader", "val_dataloader", "test_dataloader"):
        loader = cfg[key]
        loader.update(batch_size=2, num_workers=0, persistent_workers=False)
        loader.dataset.data_root = str(data_root)
        for step in loader.dataset.pipeline:
            if step.type in ("RandomResize", "Resize"):
                step.scale = (128, 32)
            if step.type == "RandomCrop":
                step.crop_size = (32, 32)
    cfg.train_cfg.update(max_iters=1, val_interval=1000)
    cfg.custom_hooks[0].num_batches = 1
    cfg.test_cfg = dict(type="MultiBudgetTestLoop", choices="S,s4-l10,l13-s7,L")
    cfg.default_hooks.checkpoint.interval = 1000
    cfg.default_hooks.visualization = dict(type="SegVisualizationHook", draw=False)
    cfg.work_dir = str(work_dir)
    return cfg


@pytest.mark.parametrize("config", list(LAYOUTS), ids=lambda p: p.name)
def test_one_iteration_and_a_multi_budget_evaluation(config, tmp_path, monkeypatch):
    # The runner logs and saves the config formatted by yapf: 80% of this test's time for
    # these large configs, and nothing the test is about.
    monkeypatch.setattr(Config, "pretty_text", property(lambda self: repr(self.to_dict())))
    folder, train, test, suffix, classes = LAYOUTS[config]
    root = tmp_path / folder
    _write_split(root, *train, suffix, 4, classes, seed=0)
    _write_split(root, *test, suffix, 2, classes, seed=1)
    runner = Runner.from_cfg(_tiny(config, root, tmp_path / "work"))
    runner.train()
    metrics = runner.test()
    assert {"S/mIoU", "s4-l10/mIoU", "l13-s7/mIoU", "L/mIoU"} <= set(metrics)
    assert (tmp_path / "work" / "multibudget_test.json").is_file()


def test_the_reproduction_page_commands_run(tmp_path, monkeypatch):
    """docs/reproducing_papers.md's commands, in order, through the tools in this process:
    every reproduction config loads tiny (``_tiny``) on generated ADE20K-layout data, and the
    full run's checkpoint name becomes the one-iteration run's."""
    monkeypatch.setattr(Config, "pretty_text", property(lambda self: repr(self.to_dict())))
    folder, train, test, suffix, classes = LAYOUTS[ADE]
    root = tmp_path / folder
    _write_split(root, *train, suffix, 4, classes, seed=0)
    _write_split(root, *test, suffix, 2, classes, seed=1)
    original = Config.fromfile

    def tiny_fromfile(path, *args, **kwargs):
        if "repro" not in Path(str(path)).name:
            return original(path, *args, **kwargs)
        name = Path(str(path)).stem
        cfg = _tiny(Path(path), root, tmp_path / "work_dirs" / name, original)
        cfg.default_hooks.checkpoint.interval = 1
        return cfg

    monkeypatch.setattr(Config, "fromfile", staticmethod(tiny_fromfile))
    monkeypatch.chdir(tmp_path)
    commands = bash_commands((REPO / "docs/reproducing_papers.md").read_text())
    assert [c.split()[1] for c in commands] == ["tools/train.py", "tools/test.py"]
    for command in commands:
        argv = [arg.replace("iter_160000.pth", "iter_1.pth") for arg in shlex.split(command)[1:]]
        argv = [str(REPO / arg) if arg.startswith(("tools/", "configs/")) else arg
                for arg in argv]
        monkeypatch.setattr(sys, "argv", argv)
        runpy.run_path(argv[0], run_name="__main__")
    work = tmp_path / "work_dirs" / ADE.stem
    assert (work / "iter_1.pth").is_file() and (work / "multibudget_test.json").is_file()
