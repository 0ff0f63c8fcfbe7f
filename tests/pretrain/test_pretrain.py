"""The pretraining tool writes weights that every backbone loads tensor for tensor, in both
formats; runs resume exactly; the task never shows the dense validation handwriting."""
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmseg.registry import MODELS

import flexseg.models  # noqa: F401  (registers the backbones)
from flexseg.datasets.digitseg_scene import split_sources
from flexseg.models.checkpoint import big_vision_to_timm
from flexseg.pretrain import DigitTagParams, DigitTags, timm_to_big_vision
from flexseg.pretrain.schedule import draw_choice
from flexseg.pretrain.trainer import Pretrainer
from tests.conftest import run_tool_here

CONFIGS = Path(__file__).parent / "configs"


def _arguments(config: str, out: Path, options: tuple[str, ...]) -> list[str]:
    arguments = [str(CONFIGS / config), "--out", str(out), "--work-dir", str(out / "work" / config)]
    return arguments + (["--cfg-options", *options] if options else [])


def pretrain(config: str, out: Path, *options: str) -> subprocess.CompletedProcess:
    """The tool in this process: its exit status and what it printed."""
    return run_tool_here("tools/pretrain.py", *_arguments(config, out, options))


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("pretrained")
    for config in ("tiny_flexivit.py", "tiny_anchor.py"):
        result = pretrain(config, out)
        assert result.returncode == 0, result.stderr
    return out


def backbone(config: str, **changes) -> torch.nn.Module:
    cfg = dict(Config.fromfile(str(CONFIGS / config)).backbone)
    cfg.update(final_norm=False, out_indices=(0, 1), out_stride=8, **changes)
    return MODELS.build(cfg)


def assert_holds(model: torch.nn.Module, state: dict) -> None:
    own = model.state_dict()
    for name, value in state.items():
        if not name.startswith("head."):
            torch.testing.assert_close(own[name], value.float(), rtol=0, atol=0, msg=name)


def test_tool_writes_both_formats_and_a_record(weights):
    assert (weights / "tiny-flexivit.pth").is_file()
    assert (weights / "tiny-flexivit.npz").is_file()
    assert (weights / "tiny-anchor.pth").is_file() and not (weights / "tiny-anchor.npz").exists()
    import json
    meta = json.loads((weights / "tiny-flexivit.json").read_text())
    assert set(meta["set_accuracy"]) == {"p8", "p16"}
    assert meta["files"]["timm"]["path"] == "tiny-flexivit.pth"


def test_init_cfg_loads_the_timm_file_tensor_for_tensor(weights):
    path = weights / "tiny-flexivit.pth"
    model = backbone("tiny_flexivit.py", init_cfg=dict(type="Pretrained", checkpoint=str(path)))
    model.init_weights()
    state = torch.load(path, weights_only=True)
    assert {k for k in state if not k.startswith("head.")} == set(model.state_dict())
    assert_holds(model, state)


def test_init_cfg_loads_the_big_vision_file_to_the_same_tensors(weights):
    model = backbone("tiny_flexivit.py", init_cfg=dict(
        type="Pretrained", checkpoint=str(weights / "tiny-flexivit.npz")))
    model.init_weights()
    assert_holds(model, torch.load(weights / "tiny-flexivit.pth", weights_only=True))


def test_stitched_anchors_load_their_files(weights):
    small = dict(Config.fromfile(str(CONFIGS / "tiny_flexivit.py")).backbone)
    large = dict(Config.fromfile(str(CONFIGS / "tiny_anchor.py")).backbone)
    anchors = {}
    for name, cfg, file in (("small", small, "tiny-flexivit.pth"),
                            ("large", large, "tiny-anchor.pth")):
        anchors[name] = dict(embed_dim=cfg["embed_dim"], depth=cfg["depth"],
                             num_heads=cfg["num_heads"], pos_embed_grid=4,
                             init_cfg=dict(type="Pretrained", checkpoint=str(weights / file)))
    model = MODELS.build(dict(type="StitchedViT", img_size=32, patch_size=8, out_stride=8,
                              lora_rank=2, routes=("S", "L", "S-L", "L-S"), **anchors))
    model.init_weights()
    assert_holds(model.small, torch.load(weights / "tiny-flexivit.pth", weights_only=True))
    assert_holds(model.large, torch.load(weights / "tiny-anchor.pth", weights_only=True))


@pytest.mark.parametrize("change, words", [(dict(embed_dim=48, num_heads=2), "width 32"),
                                           (dict(depth=3), "2 blocks in the file, 3")])
def test_weights_of_another_architecture_fail_in_one_line_loading_nothing(weights, change,
                                                                          words):
    path = weights / "tiny-flexivit.pth"
    model = backbone("tiny_flexivit.py", init_cfg=dict(type="Pretrained", checkpoint=str(path)),
                     **change)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(ValueError) as error:
        model.init_weights()
    message = str(error.value)
    assert "\n" not in message and str(path) in message and words in message
    for name, value in model.state_dict().items():
        assert torch.equal(value, before[name]), f"{name} was loaded"


def test_missing_and_truncated_files_fail_in_one_line(weights, tmp_path):
    truncated = tmp_path / "truncated.pth"
    data = (weights / "tiny-flexivit.pth").read_bytes()
    truncated.write_bytes(data[:len(data) // 2])
    for path, kind in ((tmp_path / "absent.pth", FileNotFoundError), (truncated, ValueError)):
        model = backbone("tiny_flexivit.py", init_cfg=dict(type="Pretrained",
                                                           checkpoint=str(path)))
        with pytest.raises(kind) as error:
            model.init_weights()
        assert "\n" not in str(error.value) and str(path) in str(error.value)


def test_big_vision_layout_round_trips_exactly(weights):
    state = torch.load(weights / "tiny-flexivit.pth", weights_only=True)
    arrays = timm_to_big_vision(state, num_heads=2)
    assert arrays["params/Transformer/encoderblock_0/MultiHeadDotProductAttention_0/query/"
                  "kernel"].shape == (32, 2, 16)  # (width, heads, head_dim)
    assert arrays["params/embedding/kernel"].shape == (8, 8, 3, 32)  # HWIO
    back, discarded = big_vision_to_timm(arrays)
    assert discarded == ["head/bias", "head/kernel"]
    assert set(back) == {k for k in state if not k.startswith("head.")}
    for name, value in back.items():
        torch.testing.assert_close(value, state[name], rtol=0, atol=0, msg=name)


def test_resumed_run_equals_the_uninterrupted_one(tmp_path):
    cfg = Config.fromfile(str(CONFIGS / "tiny_flexivit.py"))
    straight = Pretrainer(cfg, tmp_path / "a", tmp_path / "out-a", say=lambda _: None)
    straight.train()

    interrupted = Pretrainer(cfg, tmp_path / "b", tmp_path / "out-b", say=lambda _: None)
    original_step = interrupted.step

    def stop_at_three(step):
        if step == 3:
            raise KeyboardInterrupt
        return original_step(step)

    interrupted.step = stop_at_three
    with pytest.raises(KeyboardInterrupt):
        interrupted.train()  # the checkpoint of step 2 is on disk
    resumed = Pretrainer(cfg, tmp_path / "b", tmp_path / "out-b", say=lambda _: None)
    resumed.train()
    for name, value in straight.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[name]), name


def test_teacher_is_frozen_and_pulls_the_loss(tmp_path, weights):
    cfg = Config.fromfile(str(CONFIGS / "tiny_flexivit.py"))
    plain = Pretrainer(cfg, tmp_path / "plain", tmp_path, say=lambda _: None)
    cfg.distill = dict(config=str(CONFIGS / "tiny_flexivit.py"),
                       weights=str(weights / "tiny-flexivit.pth"), choice="p8", weight=1.0)
    taught = Pretrainer(cfg, tmp_path / "taught", tmp_path, say=lambda _: None)
    teacher_before = {k: v.clone() for k, v in taught.teacher.model.state_dict().items()}
    assert float(taught.loss(0)[0]) > float(plain.loss(0)[0])  # same student, one more term
    taught.step(0)
    assert not any(p.requires_grad for p in taught.teacher.model.parameters())
    for name, value in taught.teacher.model.state_dict().items():
        assert torch.equal(value, teacher_before[name])


def test_pretraining_never_shows_dense_validation_handwriting():
    params = DigitTagParams()
    dense_val = set(split_sources(params.dense_seed, params.dense_val_fraction)["validation"])
    tags = DigitTags(params)
    assert not dense_val & set(tags.pool.tolist())
    assert len(tags.pool) > 1000  # the whole training pool, not a sliver of it


def test_targets_are_the_visible_digits():
    from flexseg.datasets.digitseg_scene import render_scene
    params = DigitTagParams(scene=dict(image_size=32, digits_per_image=(2, 3),
                                       digit_size=(10, 16), seed=1, num_train=0, num_val=0))
    tags = DigitTags(params)
    _, targets, labels = tags.render("training", range(6))
    for index in range(6):
        label = render_scene(params.scene, "training", index, tags.pool).label
        assert np.array_equal(labels[index].numpy(), label)
        visible = sorted(set(np.unique(label).tolist()) - {0})
        assert np.flatnonzero(targets[index].numpy()).tolist() == [v - 1 for v in visible]


@pytest.mark.parametrize("patch_size", [8, 6])
def test_pixel_scores_put_each_token_over_its_own_patch(patch_size):
    """A score raised at one token peaks at the pixels of that token's patch (row-major grid,
    padded at the bottom/right and cropped back to the image)."""
    from flexseg.pretrain import TaggingModel
    model = backbone("tiny_flexivit.py", patch_sizes=[8, 6])
    tagger = TaggingModel(model, 2, pool="pixels")
    model.activate(f"p{patch_size}")
    cols = -(-30 // patch_size)
    for row, col in [(0, 0), (1, 2), (cols - 1, cols - 1)]:
        scores = torch.zeros(1, cols * cols, 2)
        scores[0, row * cols + col, 1] = 1.0
        pixels = tagger._pixel_scores(scores, torch.Size((30, 30)))
        assert pixels.shape == (1, 2, 30, 30)
        peak = (pixels[0, 1] == pixels[0, 1].max()).nonzero()
        assert (peak[:, 0] // patch_size == row).all() and (peak[:, 1] // patch_size == col).all()


def test_choice_draws_are_a_function_of_seed_and_step():
    ids = ["p4", "p8", "p16"]
    draws = [draw_choice(ids, step, seed=0) for step in range(300)]
    assert draws == [draw_choice(ids, step, seed=0) for step in range(300)]
    assert {i: draws.count(i) for i in ids} == pytest.approx({i: 100 for i in ids}, abs=25)
    assert set(draw_choice(ids, s, 0, weights={"p8": 1}) for s in range(20)) == {"p8"}
    with pytest.raises(ValueError, match="unknown choices"):
        draw_choice(ids, 0, 0, weights={"p5": 1})


def test_bad_options_are_one_line_errors(tmp_path):
    result = pretrain("tiny_flexivit.py", tmp_path, "schedul.steps=2")
    assert result.returncode == 2
    assert result.stderr.startswith("error: --cfg-options sets unknown config keys: schedul")
    result = pretrain("tiny_flexivit.py", tmp_path, "export.formats=[onnx]")
    assert result.returncode == 2 and "export.formats: unknown ['onnx']" in result.stderr
    result = pretrain("tiny_flexivit.py", tmp_path, "head.loss=bce")
    assert result.returncode == 2 and "head.pool='pixels' classifies each pixel" in result.stderr


def test_class_weight_scales_the_pixel_loss_as_the_fine_tuning_loss_does(tmp_path):
    """``head.class_weight`` gives mmseg's weighted cross-entropy of the same pixel scores (the
    loss the dense configs fine-tune with), and differs from the unweighted loss."""
    from mmseg.models.losses import CrossEntropyLoss

    cfg = Config.fromfile(str(CONFIGS / "tiny_flexivit.py"))
    weight = [0.2] + [1.0] * 10
    cfg.head = dict(pool='pixels', loss='softmax', class_weight=weight)
    trainer = Pretrainer(cfg, tmp_path / "w", tmp_path, say=lambda _: None)
    plain = Pretrainer(Config.fromfile(str(CONFIGS / "tiny_flexivit.py")), tmp_path / "p",
                       tmp_path, say=lambda _: None)
    torch.manual_seed(0)
    head = dict(weight=torch.randn_like(plain.model.head.weight),  # it starts at zero: every
                bias=torch.randn_like(plain.model.head.bias))      # class would score equal
    for model in (trainer.model, plain.model):
        model.head.load_state_dict(head)
    images, _, labels = trainer.data.train_batch(0, trainer.schedule.batch_size)
    trainer.model.backbone.activate(draw_choice(trainer.ids, 0, trainer.schedule.seed, None))
    with torch.no_grad():
        scores = trainer.model(images)  # (B, classes, H, W)
        reference = CrossEntropyLoss(class_weight=weight)(scores, labels)
        loss, _ = trainer.loss(0)
        unweighted, _ = plain.loss(0)
    torch.testing.assert_close(loss, reference)
    assert not torch.isclose(loss, unweighted)
    result = pretrain("tiny_flexivit.py", tmp_path, "head.class_weight=[1,2]")
    assert result.returncode == 2 and "head.class_weight must be 11 non-negative" in result.stderr
