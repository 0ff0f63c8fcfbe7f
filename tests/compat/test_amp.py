"""Mixed precision on the CPU: bfloat16 training of the main job follows float32, every backbone
and task trains and evaluates under autocast, and --amp/--amp-dtype set what they say."""
import json

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import OptimWrapper
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

from flexseg.compat import adapt_config_to_device
from flexseg.compat.amp import CPUAmpOptimWrapper, enable_amp
from flexseg.models.contract import find_flexible
from tests.conftest import REPO, quick_run_options, run_tool_here

pytestmark = pytest.mark.skipif(torch.cuda.is_available(), reason="CPU autocast")

MAIN_JOB = REPO / "tests/compat/configs/main_job_recorded.py"
ITERS = 14
# Largest per-iteration loss difference allowed between bfloat16 and float32 training (losses
# start near 2.4; 50 iterations at batch 16 differed by at most 0.0024).
LOSS_TOLERANCE = 0.02


def _train_main_job(work_dir, data_root, *extra) -> list[dict]:
    options = [*quick_run_options(data_root, max_iters=ITERS, batch_size=4),
               f"train_cfg.val_interval={ITERS}", "default_hooks.checkpoint.interval=1000",
               "train_cfg.distill.teacher_only_iters=4",  # then p8 and a student per step
               "param_scheduler.0.start_factor=1.0",  # no warm-up: learning shows in 14 steps
               "val_cfg.choices=p4,p16"]  # the dearest and the cheapest
    result = run_tool_here("tools/train.py", str(MAIN_JOB), "--work-dir", str(work_dir), *extra,
                           "--cfg-options", *options)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = (work_dir / "budget_record_rank0.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def test_bfloat16_training_draws_the_same_choices_with_losses_near_float32(tmp_path,
                                                                           small_digitseg):
    """14 iterations of the main job's config (its model, pretrained weights and recipe; to fit
    the suite, p8 alone for 4 iterations instead of 500, the full learning rate from the first,
    batch 4 of the 24-image test set instead of 16, validation at p4 and p16: on a processor
    without native bfloat16 an autocast step is emulated, about 14x slower) in float32 and
    under CPU bfloat16 autocast, in this process."""
    fp32 = _train_main_job(tmp_path / "fp32", small_digitseg)
    bf16 = _train_main_job(tmp_path / "bf16", small_digitseg, "--amp-dtype", "bfloat16")
    train32, train16 = ([r for r in run if r["event"] == "train"] for run in (fp32, bf16))
    assert [r["choice"] for r in train16] == [r["choice"] for r in train32]
    assert len(train16) == ITERS and len({r["choice"] for r in train16}) > 1
    differences = [abs(a["loss"] - b["loss"]) for a, b in zip(train32, train16)]
    assert max(differences) <= LOSS_TOLERANCE, differences
    assert max(differences) > 0  # bfloat16 did run
    assert train16[-1]["loss"] < train16[0]["loss"] - 0.2  # and the model learned
    assert [r for r in bf16 if r["event"] == "val"] == [r for r in fp32 if r["event"] == "val"]


TASK_CONFIGS = {
    "seg-flexivit": "tests/evaluation/configs/flexivit-tiny_upernet_digitseg-64x64.py",
    "seg-stitched": "configs/snnet/snnet-tiny_upernet_digitseg-64x64.py",
    "det-flexivit": "tests/detection/configs/flexivit-tiny_maskrcnn_digitseg-coco.py",
    "det-stitched": "tests/detection/configs/snnet-tiny_maskrcnn_digitseg-coco.py",
    "depth-flexivit": "tests/depth/configs/flexivit-tiny_dpt_digitseg-nyu-64x64.py",
    "depth-stitched": "tests/depth/configs/snnet-tiny_dpt_digitseg-nyu-64x64.py",
}

# The shipped stitched config's 32 routes, each recalibrated and validated, take half a minute
# under emulated bfloat16; four routes (both anchors, both stitch directions) take the same paths.
TASK_OPTIONS = {"seg-stitched": {"model.backbone.routes": ("S", "L", "S-L", "L-S")}}


def _data_options(task: str, roots: dict) -> dict:
    root = roots[task.split("-")[0]]
    options = {}
    for split in ("train", "val", "test"):
        options.update({f"{split}_dataloader.dataset.data_root": str(root),
                        f"{split}_dataloader.batch_size": 2,
                        f"{split}_dataloader.num_workers": 0,
                        f"{split}_dataloader.persistent_workers": False})
    if task.startswith("det"):
        options.update({"val_evaluator.ann_file": str(root / "coco/instances_val.json"),
                        "test_evaluator.ann_file": str(root / "coco/instances_val.json")})
    return options


@pytest.fixture(scope="module")
def task_roots(tmp_path_factory) -> dict:
    from flexseg.datasets import ensure_digitseg

    root = tmp_path_factory.mktemp("amp_data")
    ensure_digitseg(root / "rgb", coco=True, nyu_root=root / "nyu", num_train=8, num_val=4,
                    seed=3)
    return {"seg": root / "rgb", "det": root / "rgb", "depth": root / "nyu"}


@pytest.mark.parametrize("task, dtype", [*[(task, "bfloat16") for task in TASK_CONFIGS],
                                         ("seg-flexivit", "float16")])
def test_every_backbone_and_task_trains_and_evaluates_under_autocast(tmp_path, task_roots,
                                                                     task, dtype):
    cfg = Config.fromfile(str(REPO / TASK_CONFIGS[task]))
    cfg.merge_from_dict({**_data_options(task, task_roots), **TASK_OPTIONS.get(task, {}),
                         "work_dir": str(tmp_path),
                         "train_cfg.max_iters": 2, "train_cfg.val_interval": 2,
                         "default_hooks.checkpoint.interval": 1000})
    cfg.launcher = "none"
    enable_amp(cfg, dtype, train=True)
    adapt_config_to_device(cfg)
    init_default_scope(cfg.default_scope)
    runner = Runner.from_cfg(cfg)
    seen = set()  # (training, dtype) of the backbone's linear layers' outputs
    for module in find_flexible(runner.model).modules():
        if isinstance(module, torch.nn.Linear):
            module.register_forward_hook(
                lambda layer, args, output: seen.add((layer.training, output.dtype)))
    runner.train()
    assert type(runner.optim_wrapper) is CPUAmpOptimWrapper
    expected = getattr(torch, dtype)
    # MMEngine's own ValLoop (the tiny segmentor's) autocasts in the CPU's bfloat16 only.
    in_validation = torch.float32 if cfg.val_cfg.type == "ValLoop" and dtype == "float16" \
        else expected
    assert (True, expected) in seen and (False, in_validation) in seen
    assert (True, torch.float32) not in seen  # float32 only in the islands (eval mode)
    assert all(torch.isfinite(p).all() for p in runner.model.parameters())
    scaler = runner.optim_wrapper.loss_scaler
    assert scaler.is_enabled() == (dtype == "float16")


def _amp_wrapper(dtype: str | None, **kwargs) -> CPUAmpOptimWrapper:
    model = torch.nn.Linear(4, 4)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    return CPUAmpOptimWrapper(optimizer=optimizer, dtype=dtype, **kwargs), model


def test_cpu_amp_wrapper_scales_losses_for_float16_only():
    half, model = _amp_wrapper("float16", loss_scale=256.0)
    with half.optim_context(model):
        assert model(torch.ones(1, 4)).dtype == torch.float16
    loss = model(torch.ones(1, 4)).sum()
    half.backward(loss)
    plain = torch.autograd.grad(model(torch.ones(1, 4)).sum(), model.weight)[0]
    torch.testing.assert_close(model.weight.grad, 256 * plain)  # scaled until the step
    half.step()
    assert half.state_dict()["loss_scaler"]["scale"] == 256.0
    bf16, model = _amp_wrapper(None)  # the CPU's default: bfloat16, no scaling
    with bf16.optim_context(model):
        assert model(torch.ones(1, 4)).dtype == torch.bfloat16
    assert not bf16.loss_scaler.is_enabled()


def _cfg(**loops) -> Config:
    return Config(dict(model=dict(type="EncoderDecoder"),
                       optim_wrapper=dict(type="OptimWrapper", optimizer=dict(type="SGD")),
                       **loops))


def test_amp_switches_set_the_wrapper_and_the_evaluation_loops():
    cfg = _cfg(val_cfg=dict(type="MultiBudgetValLoop"), test_cfg=dict(type="TestLoop"))
    enable_amp(cfg, "bfloat16", train=True)
    assert cfg.optim_wrapper.type == "CPUAmpOptimWrapper"  # no GPU here
    assert cfg.optim_wrapper.dtype == "bfloat16" and cfg.optim_wrapper.loss_scale == "dynamic"
    assert cfg.val_cfg == dict(type="MultiBudgetValLoop", fp16=True, amp_dtype="bfloat16")
    assert cfg.test_cfg == dict(type="TestLoop", fp16=True)  # the CPU's autocast dtype
    cfg = _cfg(test_cfg=dict(type="TestLoop"))
    enable_amp(cfg, "float16", train=False)  # MMEngine's loop cannot: it stays float32
    assert cfg.test_cfg == dict(type="TestLoop")
    assert cfg.optim_wrapper.type == "OptimWrapper"  # testing leaves training alone
    cfg = _cfg()
    cfg.optim_wrapper.type = "ApexOptimWrapper"
    with pytest.raises(ValueError, match="the config's optim_wrapper is a ApexOptimWrapper"):
        enable_amp(cfg, None, train=True)


def test_an_amp_config_written_for_a_gpu_runs_on_the_cpu():
    cfg = _cfg()
    cfg.optim_wrapper.type = "AmpOptimWrapper"
    adapt_config_to_device(cfg)
    assert cfg.optim_wrapper.type == "CPUAmpOptimWrapper"
    assert issubclass(CPUAmpOptimWrapper, OptimWrapper)


def test_test_tool_refuses_an_unknown_amp_dtype():
    result = run_tool_here("tools/test.py", "CONFIG", "CKPT", "--amp-dtype", "fp8")
    assert result.returncode == 2
    assert "argument --amp-dtype: invalid choice: 'fp8'" in result.stderr
