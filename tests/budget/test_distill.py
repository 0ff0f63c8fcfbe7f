"""Distillation: the term reaches the students' gradients exactly as its formula says, the
frozen teacher stays frozen, the teacher choice trains on the task loss alone, one step."""
import copy

import numpy as np
import pytest
import torch
from mmengine.optim import OptimWrapper

from flexseg.budget.distill import DistillConfig, Distiller, FrozenTeacher, distillation_distance
from flexseg.budget.loop import plan_training
from flexseg.budget.train_step import DISTILL_LOG_KEY, accumulated_train_step
from flexseg.models.intercept import capture_output

from .conftest import build_segmentor, make_space
from .test_train_step import _batch


class CountingSGD(torch.optim.SGD):
    steps = 0

    def step(self, closure=None):
        CountingSGD.steps += 1
        return super().step(closure)


def _sgd(model) -> OptimWrapper:
    CountingSGD.steps = 0
    return OptimWrapper(CountingSGD(model.parameters(), lr=0.1))


def _hand_kl(student: torch.Tensor, target: torch.Tensor, temperature: float) -> torch.Tensor:
    """sum_c p_t (log p_t - log p_s) per position, averaged, times T^2: written out."""
    p_t = torch.exp(target / temperature) / torch.exp(target / temperature).sum(1, keepdim=True)
    p_s = torch.exp(student / temperature) / torch.exp(student / temperature).sum(1, keepdim=True)
    return (p_t * (p_t.log() - p_s.log())).sum(1).mean() * temperature ** 2


def _forward_with_logits(model, data):
    with capture_output(model.decode_head) as out:
        losses = model(**data, mode="loss")
    loss, _ = model.parse_losses(losses)
    return loss, out["output"]


def _assert_sgd_update(trained, reference, lr=0.1):
    checked = 0
    for (name, param), ref in zip(trained.named_parameters(), reference.parameters()):
        if ref.grad is None:
            continue
        torch.testing.assert_close(param, ref - lr * ref.grad, msg=name)
        checked += 1
    assert checked > 0


def test_distance_matches_a_numpy_kl_and_resizes_the_target():
    generator = torch.Generator().manual_seed(0)
    student, target = (torch.randn(2, 5, 4, 4, generator=generator) for _ in range(2))
    s, t = student.numpy().astype(np.float64) / 2, target.numpy().astype(np.float64) / 2
    p_s = np.exp(s) / np.exp(s).sum(1, keepdims=True)
    p_t = np.exp(t) / np.exp(t).sum(1, keepdims=True)
    expected = (p_t * np.log(p_t / p_s)).sum(1).mean() * 4
    assert distillation_distance(student, target, "kl", 2.0).item() == pytest.approx(expected,
                                                                                    rel=1e-5)
    assert distillation_distance(target, target, "kl").item() == pytest.approx(0, abs=1e-6)
    # A teacher map at another resolution is resized to the student's before comparing.
    coarse = target[..., ::2, ::2]
    upsampled = torch.nn.functional.interpolate(coarse, size=(4, 4), mode="bilinear")
    assert distillation_distance(student, coarse, "mse").item() == pytest.approx(
        torch.mean((student - upsampled) ** 2).item())


class ConstantTeacher:
    """A teacher whose output is a fixed tensor (the 'known teacher output')."""

    def __init__(self, output: torch.Tensor) -> None:
        self.output = output

    def __call__(self, data) -> torch.Tensor:
        return self.output


@pytest.mark.parametrize("choices, keep", [
    (("p8", "p16"), {}),
    (("p8-k0.5", "p16-k0.7"), dict(keep_points=(1,), keep_rates=(1.0, 0.7, 0.5))),
], ids=["patch sizes", "joint patch x keep"])
def test_kl_toward_a_known_target_is_exactly_what_reaches_the_student(choices, keep):
    tiny_segmentor = build_segmentor(**keep)
    config = DistillConfig(mode="teacher", teacher=dict(config="-", checkpoint="-"),
                           weight=0.7, task_weight=0.3, temperature=2.0)
    reference = copy.deepcopy(tiny_segmentor)
    reference.train()
    data = reference.data_preprocessor(_batch(), True)
    reference.backbone.activate("p8")
    _, logits = _forward_with_logits(reference, data)
    target = torch.randn(logits.shape, generator=torch.Generator().manual_seed(1)) * 3
    for choice in choices:
        reference.backbone.activate(choice)
        task, logits = _forward_with_logits(reference, data)
        (0.3 * task + 0.7 * _hand_kl(logits, target, 2.0)).backward()

    tiny_segmentor.train()
    distiller = Distiller(config, tiny_segmentor, teacher=ConstantTeacher(target))
    log_vars = accumulated_train_step(tiny_segmentor, _batch(), _sgd(tiny_segmentor),
                                      tiny_segmentor.backbone, list(choices), distiller)
    _assert_sgd_update(tiny_segmentor, reference)
    assert CountingSGD.steps == 1
    assert log_vars[DISTILL_LOG_KEY] > 0


def test_in_place_teacher_choice_trains_on_its_task_loss_and_teaches_the_others(
        tiny_segmentor):
    reference = copy.deepcopy(tiny_segmentor)
    reference.train()
    data = reference.data_preprocessor(_batch(), True)
    reference.backbone.activate("p4")
    task, teacher_logits = _forward_with_logits(reference, data)
    task.backward()
    for choice in ("p16", "p12"):
        reference.backbone.activate(choice)
        task, logits = _forward_with_logits(reference, data)
        (task + _hand_kl(logits, teacher_logits.detach(), 1.0)).backward()

    tiny_segmentor.train()
    distiller = Distiller(DistillConfig(mode="inplace"), tiny_segmentor)
    accumulated_train_step(tiny_segmentor, _batch(), _sgd(tiny_segmentor),
                           tiny_segmentor.backbone, ["p4", "p16", "p12"], distiller)
    _assert_sgd_update(tiny_segmentor, reference)
    assert CountingSGD.steps == 1


def test_a_choice_weighted_zero_trains_on_its_task_loss_alone(tiny_segmentor):
    """choice_weights: p16 keeps distilling toward p4, p12 (weight 0) learns from labels only."""
    reference = copy.deepcopy(tiny_segmentor)
    reference.train()
    data = reference.data_preprocessor(_batch(), True)
    reference.backbone.activate("p4")
    task, teacher_logits = _forward_with_logits(reference, data)
    task.backward()
    for choice, weight in (("p16", 0.5), ("p12", 0.0)):
        reference.backbone.activate(choice)
        task, logits = _forward_with_logits(reference, data)
        (task + weight * _hand_kl(logits, teacher_logits.detach(), 1.0)).backward()

    tiny_segmentor.train()
    config = DistillConfig(mode="inplace", weight=0.5, choice_weights=dict(p12=0.0))
    accumulated_train_step(tiny_segmentor, _batch(), _sgd(tiny_segmentor),
                           tiny_segmentor.backbone, ["p4", "p16", "p12"],
                           Distiller(config, tiny_segmentor))
    _assert_sgd_update(tiny_segmentor, reference)


def test_choice_weights_of_choices_the_space_lacks_are_named_and_ignored(tiny_segmentor,
                                                                         monkeypatch):
    said = []
    monkeypatch.setattr("flexseg.budget.distill.print_log",
                        lambda message, **_: said.append(message))
    distiller = Distiller(DistillConfig(weight=0.5, choice_weights=dict(p5=0.0, p16=0.0)),
                          tiny_segmentor)
    assert said == [f"distill.choice_weights: p5 not in the space "
                    f"({', '.join(c.id for c in tiny_segmentor.backbone.space())}); ignored"]
    logits = torch.zeros(1, 3, 4, 4)
    target = torch.randn(1, 3, 4, 4, generator=torch.Generator().manual_seed(0))
    task = torch.tensor(1.0)
    total, term = distiller.student_loss(task, logits, target, "p12")
    torch.testing.assert_close(total, task + 0.5 * term)
    assert distiller.student_loss(task, logits, target, "p16")[0] == task


def test_teacher_only_iterations_train_the_teacher_alone_and_leave_later_draws_unchanged():
    space = make_space({16: 1.0, 12: 2.0, 8: 4.0, 4: 16.0})
    options = dict(strategy="uniform", num_choices=2)
    plain = plan_training(space, options, DistillConfig(teacher_choice="p8"), seed=3)
    warm = plan_training(space, options,
                         DistillConfig(teacher_choice="p8", teacher_only_iters=5), seed=3)
    assert [[e.id for e in warm.entries(i)] for i in range(5)] == [["p8"]] * 5
    later = range(5, 40)
    assert [warm.entries(i) for i in later] == [plain.entries(i) for i in later]
    assert all(len(warm.entries(i)) == 3 and warm.entries(i)[0].id == "p8" for i in later)
    assert {e.id for i in later for e in warm.entries(i)[1:]} == {"p16", "p12", "p4"}


def test_skip_idle_teacher_leaves_the_teacher_out_only_where_no_student_uses_it():
    space = make_space({16: 1.0, 12: 2.0, 8: 4.0, 6: 8.0, 4: 16.0})
    options = dict(strategy="uniform")
    task_only = dict(p6=0.0, p4=0.0)
    plain = plan_training(space, options, DistillConfig(
        teacher_choice="p8", teacher_only_iters=5, choice_weights=task_only), seed=3)
    skipping = plan_training(space, options, DistillConfig(
        teacher_choice="p8", teacher_only_iters=5, choice_weights=task_only,
        skip_idle_teacher=True), seed=3)
    assert [skipping.entries(i) for i in range(5)] == [plain.entries(i) for i in range(5)]
    later = range(5, 60)
    for i in later:
        drawn = plain.entries(i)[1:]  # the same draws: skipping changes only the teacher
        expected = drawn if drawn[0].id in task_only else plain.entries(i)
        assert skipping.entries(i) == expected
    assert {skipping.entries(i)[0].id for i in later} == {"p8", "p6", "p4"}
    # With one global weight of 0 no student ever uses the teacher: it trains only alone.
    idle = plan_training(space, options, DistillConfig(
        teacher_choice="p8", teacher_only_iters=5, weight=0.0, skip_idle_teacher=True), seed=3)
    assert all(len(idle.entries(i)) == 1 for i in later)
    assert "p8" not in {idle.entries(i)[0].id for i in later}


TEACHER_CONFIG = """
model = dict(
    type='EncoderDecoder',
    data_preprocessor=dict(type='SegDataPreProcessor', mean=[0.0] * 3, std=[255.0] * 3,
                           size=(64, 64)),
    backbone=dict(type='FlexiViT', img_size=64, patch_size=8, patch_sizes=[8], embed_dim=32,
                  depth=4, num_heads=2, mlp_ratio=2.0, out_indices=(0, 1, 2, 3)),
    neck=dict(type='MultiLevelNeck', in_channels=[32] * 4, out_channels=32,
              scales=[4, 2, 1, 0.5]),
    decode_head=dict(type='UPerHead', in_channels=[32] * 4, in_index=[0, 1, 2, 3],
                     pool_scales=(1, 2, 3, 6), channels=16, dropout_ratio=0.5, num_classes=3,
                     norm_cfg=dict(type='BN'), align_corners=False,
                     loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0)),
    auxiliary_head=dict(type='FCNHead', in_channels=32, in_index=2, channels=8, num_convs=1,
                        num_classes=3, dropout_ratio=0.0, norm_cfg=dict(type='BN'),
                        loss_decode=dict(type='CrossEntropyLoss', loss_weight=0.4)),
    train_cfg=dict(), test_cfg=dict(mode='whole'))
"""


@pytest.fixture
def teacher_files(tmp_path):
    """A fixed-p8 teacher: its config file and a checkpoint of a trained-looking model."""
    config = tmp_path / "teacher.py"
    config.write_text(TEACHER_CONFIG)
    model = build_segmentor()
    model.backbone.activate("p8")
    with torch.no_grad():
        for param in model.parameters():
            param.add_(torch.randn_like(param) * 0.01)
    checkpoint = tmp_path / "teacher.pth"
    torch.save(dict(meta=dict(iter=10), state_dict=model.state_dict()), checkpoint)
    return str(config), str(checkpoint), model


def test_a_frozen_teacher_gets_no_gradient_stays_in_eval_and_is_unchanged(teacher_files,
                                                                         tiny_segmentor):
    config, checkpoint, _ = teacher_files
    teacher = FrozenTeacher(config, checkpoint, "decode_head", None, torch.device("cpu"))
    before = {k: v.clone() for k, v in teacher.model.state_dict().items()}
    tiny_segmentor.train()
    distiller = Distiller(DistillConfig(mode="teacher", teacher=dict(config=config,
                                                                     checkpoint=checkpoint)),
                          tiny_segmentor, teacher)
    data = tiny_segmentor.data_preprocessor(_batch(), True)
    first, second = teacher(data), teacher(data)
    torch.testing.assert_close(first, second)  # eval mode: dropout 0.5 is off
    accumulated_train_step(tiny_segmentor, _batch(), _sgd(tiny_segmentor),
                           tiny_segmentor.backbone, ["p16"], distiller)
    assert not teacher.model.training
    assert all(p.grad is None and not p.requires_grad for p in teacher.model.parameters())
    for key, value in teacher.model.state_dict().items():
        assert torch.equal(value, before[key]), key  # BN statistics included


def test_the_student_starts_from_the_teacher_weights(teacher_files, tiny_segmentor):
    config, checkpoint, source = teacher_files
    FrozenTeacher(config, checkpoint, "decode_head", None, torch.device("cpu")).init_student(
        tiny_segmentor)
    for key, value in source.state_dict().items():
        assert torch.equal(tiny_segmentor.state_dict()[key], value), key


def test_a_teacher_checkpoint_that_does_not_fit_its_config_is_refused(teacher_files, tmp_path):
    config, _, _ = teacher_files
    other = build_segmentor(embed_dim=16)
    path = tmp_path / "other.pth"
    torch.save(other.state_dict(), path)
    with pytest.raises((ValueError, RuntimeError), match="size mismatch|does not fit"):
        FrozenTeacher(config, str(path), "decode_head", None, torch.device("cpu"))

def test_an_unknown_distilled_module_names_the_model_children(tiny_segmentor):
    with pytest.raises(ValueError, match="not a submodule of EncoderDecoder .*decode_head"):
        Distiller(DistillConfig(module="head"), tiny_segmentor)


def test_a_missing_teacher_checkpoint_says_to_train_the_teacher(teacher_files, tmp_path):
    config, _, _ = teacher_files
    with pytest.raises(FileNotFoundError, match=r"teacher checkpoint not found: .*nope.pth; "
                                                r"train the teacher first \(python tools/train"):
        FrozenTeacher(config, str(tmp_path / "nope.pth"), "decode_head", None,
                      torch.device("cpu"))
