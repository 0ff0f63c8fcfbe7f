"""Inference speed of FlexiViT against timm's VisionTransformer with the same weights.

For each patch size a timm ViT is built for that size and given FlexiViT's effective weights
(PI-resized kernel, resampled position embedding), so both compute the same function. Timing is
interleaved (each round runs every model once, alternating which goes first) in one process,
eval mode, no grad; the median per model is reported with the ratio FlexiViT / timm.

Example: python tools/benchmark_flexivit.py --patch-sizes 8 16 32 --rounds 15
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch
from timm.models.vision_transformer import VisionTransformer

from flexseg.models import FlexiViT


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--img-size", type=int, default=224)
    parser.add_argument("--patch-sizes", type=int, nargs="+", default=[8, 16, 32])
    parser.add_argument("--underlying-patch", type=int, default=32)
    parser.add_argument("--embed-dim", type=int, default=384)
    parser.add_argument("--depth", type=int, default=12)
    parser.add_argument("--num-heads", type=int, default=6)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    return parser.parse_args()


def timm_twin(model: FlexiViT, patch: int, img_size: int, num_heads: int) -> VisionTransformer:
    """A timm ViT at ``patch`` carrying ``model``'s effective weights at that patch size."""
    grid = (img_size // patch, img_size // patch)
    twin = VisionTransformer(img_size=img_size, patch_size=patch, embed_dim=model.embed_dim,
                             depth=model.depth, num_heads=num_heads,
                             mlp_ratio=model.mlp_hidden_dim / model.embed_dim, num_classes=0,
                             no_embed_class=True).eval()
    state = {k: v for k, v in model.state_dict().items() if k in twin.state_dict()}
    with torch.no_grad():
        state["patch_embed.proj.weight"] = model.patch_embed.kernel((patch, patch)).clone()
        state["pos_embed"] = model.pos_embed_for(grid).clone()
    twin.load_state_dict(state, strict=True)
    return twin


def time_call(fn, x: torch.Tensor) -> float:
    start = time.perf_counter()
    fn(x)
    return time.perf_counter() - start


def main() -> None:
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = FlexiViT(img_size=args.img_size, patch_size=args.underlying_patch,
                     patch_sizes=args.patch_sizes, embed_dim=args.embed_dim, depth=args.depth,
                     num_heads=args.num_heads).eval()
    x = torch.randn(args.batch, 3, args.img_size, args.img_size)
    print(f"ViT {args.embed_dim}-d x {args.depth} blocks, {args.img_size}px, batch {args.batch}, "
          f"{torch.get_num_threads()} threads, {args.rounds} rounds")
    print(f"{'patch':>5} {'tokens':>6} {'FlexiViT ms':>12} {'timm ms':>9} {'ratio':>6} "
          f"{'dense fwd ms':>12} {'max |diff|':>10}")
    with torch.no_grad():
        for patch in args.patch_sizes:
            model.activate(f"p{patch}")
            twin = timm_twin(model, patch, args.img_size, args.num_heads)
            diff = (model.forward_features(x) - twin.forward_features(x)).abs().max().item()
            runs = {"ours": model.forward_features, "timm": twin.forward_features,
                    "dense": model.forward}
            for _ in range(args.warmup):
                for fn in runs.values():
                    fn(x)
            times = {name: [] for name in runs}
            order = list(runs)
            for round_index in range(args.rounds):
                for name in (order if round_index % 2 == 0 else order[::-1]):
                    times[name].append(time_call(runs[name], x))
            median = {name: statistics.median(values) * 1e3 for name, values in times.items()}
            tokens = (args.img_size // patch) ** 2
            print(f"{patch:>5} {tokens:>6} {median['ours']:>12.2f} {median['timm']:>9.2f} "
                  f"{median['ours'] / median['timm']:>6.3f} {median['dense']:>12.2f} "
                  f"{diff:>10.2e}")


if __name__ == "__main__":
    main()
