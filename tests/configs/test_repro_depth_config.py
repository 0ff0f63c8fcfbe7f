"""The SN-Netv2 NYUv2 depth reproduction config matches the released code row by row (each
setting beside the file it comes from, so any drift fails), and runs one training iteration
through its real pipeline and one multi-budget evaluation on generated 480x640 frames in
NYUv2's layout (a tiny model)."""
from pathlib import Path

import numpy as np
import torch
from mmengine.config import Config
from mmengine.runner import Runner
from PIL import Image

import flexseg  # noqa: F401  (registers models, loops, transforms and schedulers)
from tests.conftest import REPO
from tests.configs.test_repro_configs import RELEASE, _get

NYU = REPO / "configs/depth/snnetv2-repro_dpt_deit3-s-l_nyu-480x640.py"
DEPTH = "depth_estimation"
CONFIG = f"{DEPTH}/configs/snnet/snnetv2_dpt_deit3_s_l_nyu.py"
SCHEDULE = f"{DEPTH}/configs/_base_/schedules/schedule_24x.py"
DATA = f"{DEPTH}/configs/_base_/datasets/nyu.py"
BACKBONE = f"{DEPTH}/depth/models/backbones/snnet.py"
DEIT3 = f"{DEPTH}/depth/models/backbones/deit3.py"
TRAIN = f"{DEPTH}/depth/apis/train.py"
FLOPS = f"{DEPTH}/tools/get_flops.py"
EPOCH_LOG = f"{DEPTH}/configs/dpt/resources/logs/dpt_vitb_nyu_24e.txt"  # 'Epoch [1][50/1514]'
MMCV_ONE_CYCLE = "mmcv 1.x OneCycleLrUpdaterHook / OneCycleMomentumUpdaterHook defaults"
TRANSFORMS = f"{DEPTH}/depth/datasets/pipelines/transforms.py"
KEYS = "optim_wrapper.paramwise_cfg.custom_keys"

# (setting, path in our config, published value, release file it comes from)
TABLE = [
    ("iterations: 24 epochs x 1514", "train_cfg.max_iters", 36336, f"{SCHEDULE}; {EPOCH_LOG}"),
    ("validation every epoch", "train_cfg.val_interval", 1514, CONFIG),
    ("images per GPU (x 8 GPUs = 16)", "train_dataloader.batch_size", 2, CONFIG),
    ("optimizer", "optim_wrapper.optimizer.type", "AdamW", CONFIG),
    ("learning rate", "optim_wrapper.optimizer.lr", 2e-5, CONFIG),
    ("betas", "optim_wrapper.optimizer.betas", (0.9, 0.999), CONFIG),
    ("weight decay", "optim_wrapper.optimizer.weight_decay", 0.01, CONFIG),
    ("no decay: pos_embed", f"{KEYS}.pos_embed.decay_mult", 0.0, CONFIG),
    ("no decay: cls_token", f"{KEYS}.cls_token.decay_mult", 0.0, CONFIG),
    ("no decay: norm", f"{KEYS}.norm.decay_mult", 0.0, CONFIG),
    ("backbone lr x0.1 (overridden by OneCycle, as in the release)",
     f"{KEYS}.backbone.lr_mult", 0.1, CONFIG),
    ("gradient clipping", "optim_wrapper.clip_grad.max_norm", 35, SCHEDULE),
    ("gradient norm", "optim_wrapper.clip_grad.norm_type", 2, SCHEDULE),
    ("one-cycle learning rate", "param_scheduler.0.type", "OneCycleLR", CONFIG),
    ("one-cycle peak", "param_scheduler.0.eta_max", 2e-5, CONFIG),
    ("one-cycle div_factor", "param_scheduler.0.div_factor", 25, CONFIG),
    ("one-cycle final_div_factor", "param_scheduler.0.final_div_factor", 100, CONFIG),
    ("one-cycle over the whole run", "param_scheduler.0.total_steps", 36336, CONFIG),
    ("one-cycle rising fraction", "param_scheduler.0.pct_start", 0.3, MMCV_ONE_CYCLE),
    ("one-cycle annealing", "param_scheduler.0.anneal_strategy", "cos", MMCV_ONE_CYCLE),
    ("one-cycle momentum", "param_scheduler.1.type", "OneCycleMomentum", CONFIG),
    ("momentum low", "param_scheduler.1.base_momentum", 0.85, MMCV_ONE_CYCLE),
    ("momentum high", "param_scheduler.1.max_momentum", 0.95, MMCV_ONE_CYCLE),
    ("momentum over the whole run", "param_scheduler.1.total_steps", 36336, CONFIG),
    ("normalisation mean", "model.data_preprocessor.mean", [127.5] * 3, CONFIG),
    ("normalisation std", "model.data_preprocessor.std", [127.5] * 3, CONFIG),
    ("to RGB", "model.data_preprocessor.bgr_to_rgb", True, CONFIG),
    ("training crop", "model.data_preprocessor.size", (416, 544), CONFIG),
    ("depth in millimetres", "train_dataloader.dataset.pipeline.1.depth_rescale_factor", 1e-3,
     DATA),
    ("rotation probability", "train_dataloader.dataset.pipeline.3.prob", 0.5, CONFIG),
    ("rotation degrees", "train_dataloader.dataset.pipeline.3.degree", 2.5, CONFIG),
    ("rotated depth border: invalid", "train_dataloader.dataset.pipeline.3.seg_pad_val", 0,
     TRANSFORMS),
    ("flip probability", "train_dataloader.dataset.pipeline.4.prob", 0.5, CONFIG),
    ("random crop", "train_dataloader.dataset.pipeline.5.crop_size", (416, 544), CONFIG),
    ("colour augmentation probability", "train_dataloader.dataset.pipeline.6.prob", 0.5, CONFIG),
    ("gamma range", "train_dataloader.dataset.pipeline.6.gamma_range", (0.9, 1.1), CONFIG),
    ("brightness range", "train_dataloader.dataset.pipeline.6.brightness_range", (0.75, 1.25),
     CONFIG),
    ("colour range", "train_dataloader.dataset.pipeline.6.color_range", (0.9, 1.1), CONFIG),
    ("evaluation: Eigen crop", "val_evaluator.crop_type", "nyu_crop", DATA),
    ("evaluation: min depth", "val_evaluator.min_depth_eval", 1e-3, DATA),
    ("evaluation: max depth", "val_evaluator.max_depth_eval", 10.0, DATA),
    ("test: whole frame averaged with its mirror", "model.test_cfg.mode", "slide_flip",
     CONFIG),
    ("test window: the whole 480x640 frame", "model.test_cfg.crop_size", (480, 640), CONFIG),
    ("test: one window", "model.test_cfg.stride", (480, 640), CONFIG),
    ("head: DPT", "model.decode_head.type", "DPTDepthHead", CONFIG),
    ("head channels", "model.decode_head.channels", 256, CONFIG),
    ("reassemble widths", "model.decode_head.reassemble_channels", (96, 192, 384, 768), CONFIG),
    ("max depth", "model.decode_head.max_depth", 10.0, CONFIG),
    ("loss", "model.decode_head.loss_decode.type", "SigLoss", CONFIG),
    ("loss weight", "model.decode_head.loss_decode.loss_weight", 1.0, CONFIG),
    ("loss warm-up", "model.decode_head.loss_decode.warm_up", True, CONFIG),
    ("loss warm-up calls", "model.decode_head.loss_decode.warm_iter", 100,
     f"{DEPTH}/depth/models/losses/sigloss.py"),
    ("small anchor: DeiT-III S", "model.backbone.small.embed_dim", 384, CONFIG),
    ("small anchor heads", "model.backbone.small.num_heads", 6, CONFIG),
    ("large anchor: DeiT-III L", "model.backbone.large.embed_dim", 1024, CONFIG),
    ("large anchor depth", "model.backbone.large.depth", 24, CONFIG),
    ("large anchor heads", "model.backbone.large.num_heads", 16, CONFIG),
    ("drop path, small (DeiT3 default)", "model.backbone.small.drop_path_rate", 0.0, DEIT3),
    ("drop path, large (DeiT3 default)", "model.backbone.large.drop_path_rate", 0.0, DEIT3),
    ("output blocks, large", "model.backbone.large_out_indices", (4, 11, 17, 23), CONFIG),
    ("output blocks, small (reset_out_indices)", "model.backbone.out_indices", (2, 5, 8, 11),
     BACKBONE),
    ("LoRA rank", "model.backbone.lora_rank", 16, CONFIG),
    ("LoRA alpha", "model.backbone.lora_alpha", 1, f"{DEPTH}/depth/models/backbones/lora.py"),
    ("route kinds (include_ls/sl/lsl/sls)", "model.backbone.routes",
     ("S", "L", "S-L", "L-S", "S-L-S", "L-S-L"), CONFIG),
    ("ROS", "train_cfg.sampler.strategy", "ros", TRAIN),
    ("ROS gap (GFLOPs)", "train_cfg.sampler.gap_gflops", 10.0, TRAIN),
    ("ROS grouping", "train_cfg.sampler.ros_grouping", "greedy", TRAIN),
    ("routes priced on 480x640", "train_cfg.image_hw", (480, 640), FLOPS),
    ("stitch fit on 10 images (5 batches of 2)", "custom_hooks.0.num_batches", 5, TRAIN),
    ("DDP looks for unused parameters", "find_unused_parameters", True, CONFIG),
]
PIPELINE = ["LoadImageFromFile", "LoadDepthMap", "NYUEigenCrop", "RandomRotate", "RandomFlip",
            "RandomCrop", "DepthColorAug", "PackSegInputs"]


def test_every_setting_equals_the_release():
    cfg = Config.fromfile(str(NYU))
    wrong = []
    for setting, path, published, source in TABLE:
        ours = _get(cfg, path)
        ours = tuple(ours) if isinstance(ours, list) and isinstance(published, tuple) else ours
        ours = list(ours) if isinstance(ours, tuple) and isinstance(published, list) else ours
        if ours != published:
            wrong.append(f"{setting}: {ours!r}, released {published!r} ({RELEASE} {source})")
    assert not wrong, "\n".join(wrong)
    steps = [step.type for step in cfg.train_dataloader.dataset.pipeline]
    assert steps == PIPELINE, f"training pipeline differs from {RELEASE} {CONFIG}"


def _write_nyu(root: Path, split: str, count: int, seed: int) -> None:
    """``count`` 480x640 JPEG frames with uint16 PNG depth in millimetres (0 = invalid)."""
    rng = np.random.default_rng(seed)
    for folder in ("images", "annotations"):
        (root / folder / split).mkdir(parents=True)
    for index in range(count):
        image = rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)
        depth = rng.integers(500, 9000, (480, 640)).astype(np.uint16)
        depth[:8] = 0
        Image.fromarray(image).save(root / "images" / split / f"{index:04d}.jpg")
        Image.fromarray(depth).save(root / "annotations" / split / f"{index:04d}.png")


def _tiny(data_root: Path, work_dir: Path) -> Config:
    """The config with a tiny 12/24-block pair (its real out_indices and pipeline) at patch 32,
    one iteration and four routes evaluated: every other setting as released."""
    cfg = Config.fromfile(str(NYU))
    cfg.model.backbone.small.update(embed_dim=16, depth=12, num_heads=2, init_cfg=None)
    cfg.model.backbone.large.update(embed_dim=32, depth=24, num_heads=2, init_cfg=None)
    cfg.model.backbone.patch_size = 32  # a quarter of the tokens of 480x640 frames
    cfg.model.decode_head.update(in_channels=[32] * 4, channels=8,
                                 reassemble_channels=(8, 8, 8, 8), head_channels=8)
    for key in ("train_dataloader", "val_dataloader", "test_dataloader"):
        cfg[key].update(batch_size=2, num_workers=0, persistent_workers=False)
        cfg[key].dataset.data_root = str(data_root)
    cfg.train_cfg.update(max_iters=1, val_interval=1000)
    cfg.param_scheduler = [dict(s, total_steps=10, end=10) for s in cfg.param_scheduler]
    cfg.custom_hooks[0].num_batches = 1
    cfg.test_cfg = dict(type="MultiBudgetTestLoop", choices="S,s4-l10,l13-s7,L", metric="rmse")
    cfg.default_hooks.checkpoint.interval = 1000
    cfg.default_hooks.visualization = dict(type="BudgetVisualizationHook", draw=False)
    cfg.work_dir = str(work_dir)
    return cfg


def test_one_iteration_and_a_multi_budget_evaluation(tmp_path, monkeypatch):
    # The runner logs the config formatted by yapf: most of the time, and nothing tested here.
    monkeypatch.setattr(Config, "pretty_text", property(lambda self: repr(self.to_dict())))
    root = tmp_path / "nyu"
    _write_nyu(root, "train", 2, seed=0)
    _write_nyu(root, "test", 2, seed=1)
    runner = Runner.from_cfg(_tiny(root, tmp_path / "work"))
    runner.train()
    # As in the release, the one-cycle schedule gives every group the same learning rate
    # (the backbone's lr_mult 0.1 does not survive it); beta1 follows the momentum cycle.
    groups = runner.optim_wrapper.param_groups
    assert len({group["lr"] for group in groups}) == 1 and len(groups) > 1
    assert {group["betas"][0] for group in groups} == {group["momentum"] for group in groups}
    assert len({group["betas"][0] for group in groups}) == 1
    assert groups[0]["betas"][0] < 0.95
    metrics = runner.test()
    assert {"S/rmse", "s4-l10/rmse", "l13-s7/rmse", "L/rmse"} <= set(metrics)
    assert all(np.isfinite(metrics[f"{c}/rmse"]) for c in ("S", "s4-l10", "l13-s7", "L"))
    assert (tmp_path / "work" / "multibudget_test.json").is_file()
    # The test-time flip: the frame's prediction averaged with the mirrored frame's.
    model = runner.model.eval()
    model.backbone.activate("s4-l10")
    batch = next(iter(runner.test_dataloader))
    data = model.data_preprocessor(batch, False)
    predicted = model.test_step(batch)[0].pred_depth_map.data
    metas = [sample.metainfo for sample in data["data_samples"]]
    with torch.no_grad():
        plain = model.encode_decode(data["inputs"], metas)
        mirrored = model.encode_decode(data["inputs"].flip(dims=(3,)), metas).flip(dims=(3,))
    torch.testing.assert_close(predicted, ((plain + mirrored) / 2)[0], rtol=1e-4, atol=1e-5)
    assert not torch.allclose(plain, mirrored, atol=1e-4)
