"""The private mmengine members behind ``flexseg.compat.mmengine_private`` still do what flexseg
relies on; an mmengine upgrade that changes them fails here."""
import hashlib
import inspect
import logging
import shutil
import time

import torch
from mmengine.logging import MMLogger, print_log
from mmengine.model import BaseDataPreprocessor, BaseModel, MMDistributedDataParallel
from mmengine.optim import OptimWrapper

from flexseg.compat.mmengine_private import accumulative_counts, forget_logger, run_forward

# sha256 (first 16 hex digits) of the source of each member in the pinned mmengine 0.10.7.
PINNED_SOURCES = {
    BaseModel._run_forward: "bd09ddecac9298c3",
    MMDistributedDataParallel._run_forward: "67dfa91184a1ef11",
    # The multi-budget loops preprocess a batch once and predict through run_forward for every
    # choice: that is what these two steps do.
    BaseModel.val_step: "f0dd5f5b9985ca09",
    BaseModel.test_step: "8a750e8442fd4ff5",
}


class Recorder(BaseModel):
    """Returns what forward received; its preprocessor doubles the inputs."""

    def __init__(self) -> None:
        super().__init__(data_preprocessor=Doubling())
        self.weight = torch.nn.Parameter(torch.ones(1))

    def forward(self, *args, mode="tensor", **kwargs):
        return [("args", args), ("kwargs", kwargs), ("mode", mode)]


class Doubling(BaseDataPreprocessor):
    def forward(self, data, training=False):
        return {"inputs": data["inputs"] * 2, "data_samples": data["data_samples"]}


def test_pinned_sources_are_unchanged():
    for member, digest in PINNED_SOURCES.items():
        source = inspect.getsource(member)
        assert hashlib.sha256(source.encode()).hexdigest()[:16] == digest, (
            f"mmengine's {member.__qualname__} changed: re-read it and update "
            "flexseg/compat/mmengine_private.py (and the multi-budget loops' preprocessing)")


def test_run_forward_unpacks_dicts_as_keywords_and_sequences_as_arguments():
    model = Recorder()
    assert run_forward(model, {"inputs": 1, "data_samples": 2}, mode="loss") == [
        ("args", ()), ("kwargs", {"inputs": 1, "data_samples": 2}), ("mode", "loss")]
    assert run_forward(model, (1, 2), mode="predict") == [
        ("args", (1, 2)), ("kwargs", {}), ("mode", "predict")]


def test_a_step_is_preprocessing_then_run_forward_in_predict_mode():
    model = Recorder()
    batch = {"inputs": torch.ones(2), "data_samples": ["a", "b"]}
    by_hand = run_forward(model, model.data_preprocessor(batch, False), mode="predict")
    for step in (model.val_step, model.test_step):
        result = step(batch)
        assert [name for name, _ in result] == [name for name, _ in by_hand]
        assert torch.equal(result[1][1]["inputs"], torch.full((2,), 2.0))
        assert result[2] == ("mode", "predict")


def test_accumulative_counts_is_the_configured_count_and_mmengine_steps_by_it():
    param = torch.nn.Parameter(torch.zeros(1))
    assert accumulative_counts(OptimWrapper(torch.optim.SGD([param], lr=1.0))) == 1
    wrapper = OptimWrapper(torch.optim.SGD([param], lr=1.0), accumulative_counts=2)
    assert accumulative_counts(wrapper) == 2
    wrapper.initialize_count_status(torch.nn.Linear(1, 1), 0, 4)
    values = []
    for _ in range(4):
        wrapper.update_params((param * 1.0).sum())  # gradient 1 (scaled by 1/2 per call)
        values.append(param.item())
    assert values == [0.0, -1.0, -1.0, -2.0]  # a step every second call


def test_a_forgotten_logger_is_no_longer_the_one_mmengine_logs_through(tmp_path):
    earlier = MMLogger.get_instance(f"earlier_{time.time_ns()}")
    folder = tmp_path / "temporary"
    folder.mkdir()
    logger = MMLogger.get_instance(f"temporary_{time.time_ns()}",
                                   log_file=str(folder / "run.log"), log_level="WARNING")
    assert MMLogger.get_current_instance() is logger
    forget_logger(logger)
    shutil.rmtree(folder)
    assert not logger.handlers
    assert MMLogger.get_current_instance() is earlier
    print_log("the folder is gone", logger="current", level=logging.WARNING)  # no error
    assert not MMLogger.check_instance_created(logger.instance_name)
    forget_logger(earlier)
