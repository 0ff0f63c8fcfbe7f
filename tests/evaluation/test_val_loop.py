"""The validation loop during training: per-choice metrics in the logs, the summary under the
plain name for best-checkpoint selection, and the training sub-network untouched."""
import json

import pytest

from flexseg.models.contract import find_flexible
from tests.evaluation.conftest import make_runner


def test_validation_during_training(tmp_path, small_digitseg, tiny_checkpoint):
    runner = make_runner(
        tmp_path, small_digitseg, tiny_checkpoint, dict(type="TestLoop"),
        val_cfg=dict(type="MultiBudgetValLoop", choices="p16,p8", summary="mean"),
        **{"train_dataloader.dataset.data_root": str(small_digitseg),
           "val_dataloader.dataset.data_root": str(small_digitseg),
           "train_dataloader.batch_size": 2, "train_dataloader.num_workers": 0,
           "train_dataloader.persistent_workers": False, "val_dataloader.num_workers": 0,
           "val_dataloader.persistent_workers": False, "train_cfg.max_iters": 2,
           "train_cfg.val_interval": 2, "default_hooks.logger.interval": 1,
           "default_hooks.checkpoint.interval": 2,
           "default_hooks.checkpoint.save_best": "mIoU", "default_hooks.checkpoint.rule":
           "greater"})
    find_flexible(runner.model).activate("p4")
    runner.train()

    assert find_flexible(runner.model).active_choice.id == "p4"
    scalars = runner.message_hub.log_scalars
    per_choice = [scalars[f"val/{c}/mIoU"].current() for c in ("p16", "p8")]
    assert scalars["val/mIoU"].current() == pytest.approx(sum(per_choice) / 2)
    assert list(tmp_path.glob("best_mIoU_iter_2.pth"))
    document = json.loads((tmp_path / "multibudget_val.json").read_text())
    assert [row["id"] for row in document["choices"]] == ["p16", "p8"]
