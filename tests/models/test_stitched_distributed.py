"""The least-squares fit is computed on rank 0 only and every rank ends with the same layers.

Two gloo ranks: rank 0 reads real batches, rank 1 gets data that fails if read, so rank 1 can
only hold the fit through the broadcast.
"""
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from flexseg.models import StitchedViT
from flexseg.models.stitch_init_hook import fit_on_rank_zero
from tests.conftest import free_port

WORLD_SIZE = 2


def _model() -> StitchedViT:
    torch.manual_seed(0)
    return StitchedViT(dict(embed_dim=16, depth=2, num_heads=2, mlp_ratio=2.0),
                       dict(embed_dim=24, depth=4, num_heads=2, mlp_ratio=2.0),
                       routes=("S", "L", "S-L", "L-S"), img_size=32, patch_size=8,
                       lora_rank=2, out_indices=(0, 1), out_stride=8)


def _batches() -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    return [torch.randn(4, 3, 32, 32, generator=generator) for _ in range(2)]


class _Unreadable:
    def __iter__(self):
        raise AssertionError("a rank other than 0 read the data")


def _stitching_state(model: StitchedViT) -> dict[str, torch.Tensor]:
    return {name: value for name, value in model.state_dict().items()
            if name.startswith(("stitches.", "level_maps."))}


def _worker(rank: int, port: int, out_dir: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=WORLD_SIZE)
    try:
        model = _model()
        images = fit_on_rank_zero(model, _batches() if rank == 0 else _Unreadable())
        assert images == (8 if rank == 0 else 0)
        torch.save(_stitching_state(model), f"{out_dir}/rank{rank}.pth")
    finally:
        dist.destroy_process_group()


def test_fit_is_identical_on_every_rank(tmp_path):
    mp.spawn(_worker, args=(free_port(), str(tmp_path)), nprocs=WORLD_SIZE, join=True)
    states = [torch.load(tmp_path / f"rank{rank}.pth", weights_only=True)
              for rank in range(WORLD_SIZE)]
    single = _model()
    single.fit_stitches(_batches())
    expected = _stitching_state(single)
    assert all(bool(value) for name, value in states[1].items() if name.endswith(".fitted"))
    for state in states:
        assert state.keys() == expected.keys()
        for name, value in state.items():
            assert torch.equal(value, expected[name]), name
