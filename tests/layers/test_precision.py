"""fp32 islands: under CPU autocast (bfloat16, and float16 which the CPU also runs) each island
returns float32 and exactly the result computed without autocast.

Where autocast alone would already keep float32 on the CPU (interpolation, log-softmax), the
island is still what keeps it on CUDA, whose autocast lists differ; the tests that fail without
their island here are the PI-resize, the SiLog loss and the stitching fit.
"""
import pytest
import torch
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from flexseg.budget.distill import distillation_distance
from flexseg.budget.space import build_budget_space
from flexseg.layers import float32_island, pi_resize_kernel, resample_pos_embed
from flexseg.models import StitchedViT
from flexseg.models.depth.dpt_head import DPTDepthHead

DTYPES = [torch.bfloat16, torch.float16]


def _autocast(dtype: torch.dtype):
    return torch.autocast("cpu", dtype=dtype)


def _equal_in_float32(compute, dtype: torch.dtype, reference=None) -> None:
    """``compute()`` under autocast returns float32 tensors equal to ``reference()``'s without
    autocast (default: ``compute()``'s)."""
    reference = (reference or compute)()
    with _autocast(dtype):
        mixed = compute()
    for ref, out in zip(torch.utils._pytree.tree_leaves(reference),
                        torch.utils._pytree.tree_leaves(mixed), strict=True):
        assert out.dtype == torch.float32
        assert torch.equal(out, ref)


@pytest.mark.parametrize("dtype", DTYPES)
def test_island_turns_autocast_off_inside_and_back_on_after(dtype):
    x = torch.randn(8, 8)
    with _autocast(dtype):
        with float32_island():
            assert not torch.is_autocast_enabled("cpu")
            assert (x @ x).dtype == torch.float32
        assert (x @ x).dtype == dtype


@pytest.mark.parametrize("dtype", DTYPES)
def test_pi_resize_under_autocast(dtype):
    weight = torch.randn(16, 3, 8, 8, requires_grad=True)
    _equal_in_float32(lambda: pi_resize_kernel(weight, (12, 12)), dtype)
    _equal_in_float32(lambda: pi_resize_kernel(weight, (5, 5)), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_position_embedding_resampling_under_autocast(dtype):
    grid = torch.randn(1, 7 * 7, 32)
    _equal_in_float32(lambda: resample_pos_embed(grid, (7, 7), (16, 12)), dtype)
    _equal_in_float32(lambda: resample_pos_embed(grid, (7, 7), (4, 4)), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("distance", ["kl", "mse"])
def test_distillation_term_under_autocast(dtype, distance):
    generator = torch.Generator().manual_seed(0)
    student = torch.randn(2, 5, 8, 8, generator=generator)
    target = torch.randn(2, 5, 4, 4, generator=generator)  # resized to the student's size
    _equal_in_float32(lambda: distillation_distance(student, target, distance, 2.0), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_silog_loss_of_a_half_precision_prediction(dtype):
    """The head's prediction comes out of autocast in half precision; its loss is the loss of
    that prediction computed in float32."""
    head = DPTDepthHead(in_channels=[8] * 4, channels=8, reassemble_channels=(4, 4, 8, 8),
                        head_channels=4, max_depth=10.0)
    generator = torch.Generator().manual_seed(0)
    prediction = (torch.rand(2, 1, 16, 16, generator=generator) * 10).to(dtype)
    depth = torch.rand(2, 1, 32, 32, generator=generator) * 10
    depth[:, :, :4] = 0  # pixels without depth
    samples = []
    for index in range(2):
        sample = SegDataSample()
        sample.gt_depth_map = PixelData(data=depth[index])
        samples.append(sample)
    _equal_in_float32(lambda: head.loss_by_feat(prediction, samples), dtype,
                      reference=lambda: head.loss_by_feat(prediction.float(), samples))


@pytest.mark.parametrize("dtype", DTYPES)
def test_stitching_fit_under_autocast(dtype):
    def fitted() -> list[torch.Tensor]:
        torch.manual_seed(0)
        model = StitchedViT(dict(embed_dim=16, depth=2, num_heads=2, mlp_ratio=2.0),
                            dict(embed_dim=24, depth=4, num_heads=2, mlp_ratio=2.0),
                            routes=("S", "L", "S-L", "L-S"), img_size=32, patch_size=8,
                            lora_rank=2, out_indices=(0, 1), out_stride=8)
        generator = torch.Generator().manual_seed(1)
        model.fit_stitches([torch.randn(4, 3, 32, 32, generator=generator)])
        return [layer.weight for layer in model.stitching_layers()]

    _equal_in_float32(fitted, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_flop_pricing_under_autocast(dtype):
    from tests.budget.conftest import build_segmentor

    model = build_segmentor(embed_dim=16, depth=4)
    reference = build_budget_space(model, (64, 64)).to_rows()
    with _autocast(dtype):
        assert build_budget_space(model, (64, 64)).to_rows() == reference
