"""Derived-weight caches stay bounded however many image sizes an evaluation sees."""
import torch

from flexseg.layers.eval_cache import MAX_ENTRIES, EvalCache
from flexseg.models import FlexiViT


def test_the_least_recently_used_entries_go_first():
    cache, source, computed = EvalCache(), torch.ones(3), []

    def get(key):
        return cache.get(key, [source], lambda: computed.append(key) or source * key)

    with torch.no_grad():
        first = get(0)
        for key in range(1, 3 * MAX_ENTRIES):
            get(key)
            get(0)  # kept in use: never dropped
        assert len(cache) == MAX_ENTRIES
        assert get(0) is first and computed.count(0) == 1
        get(1)  # long unused: dropped, computed again
        assert computed.count(1) == 2


def test_a_backbone_evaluated_at_many_image_sizes_keeps_few_position_embeddings():
    model = FlexiViT(img_size=32, patch_size=8, patch_sizes=[8, 16], embed_dim=8, depth=1,
                     num_heads=1).eval()
    with torch.no_grad():
        for side in range(16, 16 + 8 * 2 * MAX_ENTRIES, 8):  # 64 token grids per patch size
            for choice in ("p8", "p16"):
                model.activate(choice)
                model(torch.zeros(1, 3, side, 16))
    assert len(model._pos_cache) == MAX_ENTRIES
    assert len(model.patch_embed._kernels) == 1  # one resized kernel (p16), reused throughout
