"""A save killed at any point leaves the previous checkpoint whole under its name."""
import pytest
import torch
from mmengine.runner.checkpoint import save_checkpoint

from flexseg.compat import atomic_write, make_local_writes_atomic
from flexseg.compat.resume import is_whole_checkpoint, resume_checkpoint


class Killed(BaseException):
    """Stands for the process dying (not an exception anyone handles)."""


class DiesHalfway:
    """A file handle whose process dies after writing half of what it was given."""

    def __init__(self, handle) -> None:
        self.handle = handle

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.handle.close()

    def write(self, data: bytes) -> None:
        self.handle.write(data[: len(data) // 2])
        raise Killed


def _die_halfway_through_writes(monkeypatch) -> None:
    monkeypatch.setattr(atomic_write, "open", lambda path, mode: DiesHalfway(open(path, mode)),
                        raising=False)


def _die_before_rename(monkeypatch) -> None:
    def replace(*args) -> None:
        raise Killed

    monkeypatch.setattr(atomic_write.os, "replace", replace)


@pytest.mark.parametrize("die", [_die_halfway_through_writes, _die_before_rename])
def test_mmengine_checkpoint_saving_is_whole_or_previous(tmp_path, monkeypatch, die):
    make_local_writes_atomic()
    path = tmp_path / "iter_4.pth"
    save_checkpoint({"meta": {"iter": 2}, "state_dict": {"w": torch.ones(1000)}}, str(path))
    (tmp_path / "last_checkpoint").write_text(str(path))

    die(monkeypatch)
    with pytest.raises(Killed):
        save_checkpoint({"meta": {"iter": 4}, "state_dict": {"w": torch.zeros(1000)}},
                        str(path))

    assert is_whole_checkpoint(path)
    assert torch.load(path)["meta"]["iter"] == 2
    assert resume_checkpoint(tmp_path) == str(path)
    # The stray partial file never passes for a checkpoint.
    assert [p.name for p in tmp_path.glob("*.pth")] == ["iter_4.pth"]


def test_a_later_save_replaces_a_stray_partial_file(tmp_path):
    make_local_writes_atomic()
    path = tmp_path / "iter_2.pth"
    atomic_write.partial_path(path).write_bytes(b"left by a killed save")
    save_checkpoint({"meta": {"iter": 2}}, str(path))
    assert torch.load(path)["meta"]["iter"] == 2
    assert not atomic_write.partial_path(path).exists()
