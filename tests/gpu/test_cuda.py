"""What only a GPU can show (marker ``gpu``: skipped, and counted as skipped, without CUDA):
mmcv's CUDA ops, float16 training with loss scaling, the float32 islands under CUDA autocast,
a compiled choice on the GPU. tools/gpu_check.sh runs the whole-job checks."""
import pytest
import torch

from flexseg.budget.compile import compile_model
from flexseg.compat.amp import autocast_on
from flexseg.layers.pi_resize import pi_resize_kernel
from tests.budget.conftest import build_segmentor

pytestmark = pytest.mark.gpu


def test_mmcv_has_cuda_ops():
    from mmcv.ops import get_compiling_cuda_version, nms

    assert get_compiling_cuda_version()[0].isdigit()
    boxes = torch.tensor([[0., 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30]], device="cuda")
    _, keep = nms(boxes, torch.tensor([0.9, 0.8, 0.7], device="cuda"), 0.5)
    assert keep.tolist() == [0, 2]


def test_pi_resize_stays_float32_under_float16_autocast():
    weight = torch.randn(16, 3, 8, 8, device="cuda")
    with autocast_on("cuda", True, "float16"):
        resized = pi_resize_kernel(weight, (4, 4))
    assert resized.dtype == torch.float32
    torch.testing.assert_close(resized, pi_resize_kernel(weight, (4, 4)))


def test_float16_training_step_with_loss_scaling():
    model = build_segmentor(embed_dim=16).cuda().train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    scaler = torch.amp.GradScaler("cuda")
    x = torch.randn(2, 3, 64, 64, device="cuda")
    before = [p.detach().clone() for p in model.parameters()]
    for choice in model.backbone.space():
        model.backbone.activate(choice)
        with autocast_on("cuda", True, "float16"):
            loss = model(x, mode="tensor").float().mean()
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad()
        assert torch.isfinite(loss)
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_compiled_choice_matches_eager_on_the_gpu():
    model = build_segmentor(embed_dim=16, out_stride=8).cuda().eval()
    x = torch.randn(2, 3, 64, 64, device="cuda")
    with torch.no_grad():
        eager = {c.id: (model.backbone.activate(c), model(x, mode="tensor"))[1]
                 for c in model.backbone.space()}
        compile_model(model)
        for choice in model.backbone.space():
            model.backbone.activate(choice)
            torch.testing.assert_close(model(x, mode="tensor"), eager[choice.id], rtol=1e-4,
                                       atol=1e-4)
