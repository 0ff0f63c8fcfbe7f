"""Every shipped config parses and builds its model with the registered types."""
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

import flexseg  # noqa: F401  (registers models and datasets)
from tests.conftest import REPO

# Model configs (configs/pretrain/ holds the pretraining tool's own, tested in tests/pretrain).
CONFIGS = sorted(p for p in (REPO / "configs").rglob("*.py")
                 if "_base_" not in p.parts and "pretrain" not in p.parts)


def _build_model(cfg: Config) -> torch.nn.Module:
    init_default_scope(cfg.get("default_scope", "mmseg"))
    if cfg.default_scope == "mmdet":
        from mmdet.registry import MODELS
    else:
        from mmseg.registry import MODELS
    return MODELS.build(cfg.model)


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: str(p.relative_to(REPO / "configs")))
def test_config_builds(path: Path):
    cfg = Config.fromfile(str(path))
    assert cfg.custom_imports["imports"][0] == "flexseg"
    model = _build_model(cfg)
    assert sum(p.numel() for p in model.parameters()) > 0


# Segmentation configs (depth configs are checked in tests/depth/test_every_choice.py,
# detection configs in tests/detection/test_every_choice.py).
DIGITSEG_CONFIGS = [p for p in CONFIGS if "digitseg" in p.name
                    and p.parent.name not in ("depth", "detection")]


@pytest.mark.parametrize("path", DIGITSEG_CONFIGS,
                         ids=lambda p: str(p.relative_to(REPO / "configs")))
def test_digitseg_models_predict_class_logits_at_every_choice(path: Path):
    from flexseg.models.contract import FlexibleBackbone

    cfg = Config.fromfile(str(path))
    model = _build_model(cfg).eval()
    choices = model.backbone.space() if isinstance(model.backbone, FlexibleBackbone) else [None]
    images = torch.rand(2, 3, 64, 64)
    for choice in choices:
        if choice is not None:
            model.backbone.activate(choice)
        with torch.no_grad():
            logits = model(images, mode="tensor")
        assert logits.shape[:2] == (2, cfg.model.decode_head.num_classes)
        assert torch.isfinite(logits).all()


@pytest.mark.parametrize("path", DIGITSEG_CONFIGS,
                         ids=lambda p: str(p.relative_to(REPO / "configs")))
def test_digitseg_training_recipes_fit_their_budget_space(path: Path):
    """A recipe inherited from the main config must make sense in the derived config's space
    (e.g. its p8 teacher choice in a space without p8, or in-place keys under a frozen
    teacher); the budget loop would refuse it only after the run started."""
    from flexseg.budget.loop import BudgetTraining
    from flexseg.budget.space import build_budget_space

    cfg = Config.fromfile(str(path))
    train = cfg.train_cfg
    if not train.type.startswith("Budget"):
        pytest.skip("a single-choice baseline: no budget recipe")
    space = build_budget_space(_build_model(cfg), (64, 64))
    plan, _ = BudgetTraining(None, train.sampler, train.get("image_hw"), train.get("eval_choice"),
                             train.get("distill")).resolve(space, seed=0)
    trained = {entry.id for i in range(train.max_iters) for entry in plan.entries(i)}
    assert trained == {entry.id for entry in space}, "every choice of the space trains"
