"""The loops live in mmengine's root registry, so configs of either library's scope find them."""
import pytest
from mmdet.registry import LOOPS as MMDET_LOOPS
from mmseg.registry import LOOPS as MMSEG_LOOPS

from flexseg.evaluation import MultiBudgetTestLoop, MultiBudgetValLoop


@pytest.mark.parametrize("registry", [MMSEG_LOOPS, MMDET_LOOPS], ids=["mmseg", "mmdet"])
def test_scoped_registries_find_the_loops(registry):
    assert registry.get("MultiBudgetValLoop") is MultiBudgetValLoop
    assert registry.get("MultiBudgetTestLoop") is MultiBudgetTestLoop
