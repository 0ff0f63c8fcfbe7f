"""Resuming needs mmengine's own types allowed by torch's safe loader, and nothing more."""
import os
import pickle
import subprocess
import sys
import textwrap

import pytest
import torch
from mmengine.logging import MessageHub

from flexseg.compat import allow_mmengine_checkpoints


def _save_mmengine_like_checkpoint(path) -> None:
    hub = MessageHub.get_instance("compat-test")
    for step in range(3):
        hub.update_scalar("train/loss", 1.0 / (step + 1))
    hub.update_info("iter", 3)
    torch.save({"meta": {"iter": 3}, "message_hub": hub.state_dict(),
                "state_dict": {"w": torch.ones(2)}}, path)


class _Exploit:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


@pytest.mark.parametrize("with_fix", [False, True])
def test_resume_load_needs_the_fix(tmp_path, with_fix):
    """In a fresh process: stock save+load of mmengine state fails; with the fix it loads."""
    code = textwrap.dedent(f"""
        import torch
        from flexseg.compat import allow_mmengine_checkpoints
        from tests.compat.test_checkpoint import _save_mmengine_like_checkpoint
        if {with_fix}:
            allow_mmengine_checkpoints()
        _save_mmengine_like_checkpoint({str(tmp_path / 'c.pth')!r})
        torch.load({str(tmp_path / 'c.pth')!r})
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    if with_fix:
        assert result.returncode == 0, result.stderr
    else:
        assert "UnpicklingError" in result.stderr


def test_allowlisted_checkpoint_keeps_history(tmp_path):
    allow_mmengine_checkpoints()
    path = tmp_path / "iter_3.pth"
    _save_mmengine_like_checkpoint(path)
    loaded = torch.load(path)
    buffer = loaded["message_hub"]["log_scalars"]["train/loss"]
    assert buffer.data[0].tolist() == pytest.approx([1.0, 0.5, 1 / 3])
    assert buffer.mean() == pytest.approx((1 + 0.5 + 1 / 3) / 3)
    assert loaded["message_hub"]["runtime_info"]["iter"] == 3


def test_safe_loading_stays_on_for_other_objects(tmp_path):
    allow_mmengine_checkpoints()
    path = tmp_path / "evil.pth"
    torch.save({"x": _Exploit()}, path)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path)
