"""Tiny FlexiViT/timm configurations shared by the model tests."""
import pytest
import torch

TINY = dict(embed_dim=32, depth=2, num_heads=2, mlp_ratio=2.0)


@pytest.fixture
def tiny_kwargs() -> dict:
    return dict(TINY)


@pytest.fixture
def timm_vit():
    """Factory for an untrained timm ViT in eval mode with TINY's dimensions."""
    from timm.models.vision_transformer import VisionTransformer

    def build(seed: int = 0, **kwargs) -> VisionTransformer:
        torch.manual_seed(seed)
        options = dict(img_size=32, patch_size=8, num_classes=10, **TINY)
        options.update(kwargs)
        model = VisionTransformer(**options).eval()
        with torch.no_grad():  # non-trivial prefix tokens, norms and biases
            for param in model.parameters():
                param.add_(0.05 * torch.randn_like(param))
        return model

    return build
