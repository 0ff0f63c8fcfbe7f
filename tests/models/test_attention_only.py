"""Attention-only fine-tuning end to end: a real training run (tools/train.py, AdamW with weight
decay) from shared pretrained weights changes only the attention tensors, the position
embedding, the neck and the head; the task-specific export holds exactly those, and with the
shared file it reloads to the trained model bit for bit."""

import pytest
import torch

from flexseg.evaluation.export.task_specific import load_task_specific, save_task_specific
from tests.conftest import load_run_checkpoint, quick_run_options, run_tool_here
from tests.evaluation.conftest import TINY_CONFIG, build_segmentor, tiny_cfg

ATTENTION = (".attn.qkv.", ".attn.proj.")


def _is_attention(key: str) -> bool:
    return any(part in key for part in ATTENTION) or key == "backbone.pos_embed"


@pytest.fixture(scope="module")
def trained(tmp_path_factory, small_digitseg):
    """(shared pretrained file, initial state, trained checkpoint path, its state)."""
    directory = tmp_path_factory.mktemp("attn_only")
    torch.manual_seed(0)
    source = build_segmentor(tiny_cfg()).backbone
    with torch.no_grad():  # non-trivial norms, biases, tokens
        for param in source.parameters():
            param.add_(0.05 * torch.randn_like(param))
    shared = directory / "shared.pth"
    torch.save(source.state_dict(), shared)
    init = {"model.backbone.attn_only": True,
            "model.backbone.init_cfg": dict(type="Pretrained", checkpoint=str(shared))}
    model = build_segmentor(tiny_cfg(**init))
    model.init_weights()
    initial = {k: v.clone() for k, v in model.state_dict().items()}
    options = [f"{key}={value}" for key, value in (
        ("model.backbone.attn_only", True), ("model.backbone.init_cfg.type", "Pretrained"),
        ("model.backbone.init_cfg.checkpoint", shared))]
    result = run_tool_here("tools/train.py", str(TINY_CONFIG), "--work-dir",
                           str(directory / "run"), "--cfg-options", *options,
                           *quick_run_options(small_digitseg, max_iters=3),
                           "train_cfg.val_interval=100")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    checkpoint = directory / "run/iter_3.pth"
    state = load_run_checkpoint(checkpoint)["state_dict"]
    return shared, initial, checkpoint, state


def test_training_changes_only_attention_position_embedding_neck_and_head(trained):
    _, initial, _, state = trained
    changed = {key for key, value in state.items() if not torch.equal(value, initial[key])}
    backbone_changed = {key for key in changed if key.startswith("backbone.")}
    attention = {key for key in initial if _is_attention(key)}
    assert backbone_changed == attention  # every attention tensor learned, nothing else
    assert any(key.startswith("neck.") for key in changed)
    assert any(key.startswith("decode_head.conv_seg") for key in changed)


def test_task_specific_export_holds_the_trained_tensors_and_reloads_exactly(
        trained, tmp_path, monkeypatch):
    shared, _, checkpoint, state = trained
    out = tmp_path / "task.pth"
    from tests.evaluation.test_export import export
    config = tmp_path / "config.py"
    tiny_cfg(**{"model.backbone.attn_only": True}).dump(str(config))
    export(monkeypatch, config, checkpoint, "--only-task-specific", "--shared", shared,
           "--out", out)
    kept = torch.load(out, weights_only=True)["state_dict"]
    assert {k for k in kept if k.startswith("backbone.")} == {k for k in state
                                                              if _is_attention(k)}
    assert {k for k in kept if not k.startswith("backbone.")} == {
        k for k in state if not k.startswith("backbone.")}

    reloaded = load_task_specific(build_segmentor(tiny_cfg()), out, shared).state_dict()
    assert reloaded.keys() == state.keys()
    for key, value in state.items():
        assert torch.equal(reloaded[key], value), key


def test_reload_refuses_another_shared_file_and_a_plain_checkpoint(trained, tmp_path):
    shared, _, checkpoint, _ = trained
    model = build_segmentor(tiny_cfg())
    model.load_state_dict(load_run_checkpoint(checkpoint)["state_dict"])
    out = tmp_path / "task.pth"
    save_task_specific(model, shared, out)
    other = tmp_path / "other.pth"
    weights = torch.load(shared, weights_only=True)
    torch.save({k: v + 1 for k, v in weights.items()}, other)
    with pytest.raises(ValueError, match="not the shared file"):
        load_task_specific(build_segmentor(tiny_cfg()), out, other)
    with pytest.raises(ValueError, match="not a task-specific export"):
        load_task_specific(build_segmentor(tiny_cfg()), shared, shared)


@pytest.mark.parametrize("args, message", [
    (["--only-task-specific"], "needs --shared"),
    (["--only-task-specific", "--shared", "x.pth", "--choice", "p8"], "drop --choice"),
    (["--shared", "x.pth", "--choice", "p8"], "--shared applies to --only-task-specific"),
    ([], "one of the arguments --choice --budget --latency-ms is required")])
def test_export_flags_are_checked_in_one_line(monkeypatch, capsys, args, message):
    from tests.evaluation.test_export import export
    with pytest.raises(SystemExit):
        export(monkeypatch, TINY_CONFIG, "missing.pth", *args)
    assert message in capsys.readouterr().err
