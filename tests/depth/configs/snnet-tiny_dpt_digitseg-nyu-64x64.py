# Tiny stitched ViT (16-d/2 blocks and 32-d/4 blocks, 4 route kinds) + DPT depth head on
# DigitSeg-NYU 64x64: the depth tests' stitched model.
_base_ = ['../../../configs/depth/snnet-tiny_dpt_1k_digitseg-nyu-64x64.py']
out_channels = 32
model = dict(
    backbone=dict(
        # random anchors: the pretrained ones are of another size
        small=dict(embed_dim=16, depth=2, num_heads=2, mlp_ratio=2.0, pos_embed_grid=8,
                   init_cfg=None),
        large=dict(embed_dim=out_channels, depth=4, num_heads=2, mlp_ratio=2.0,
                   pos_embed_grid=8, init_cfg=None),
        routes=('S', 'L', 'S-L', 'L-S'),
        lora_rank=2,
        out_indices=(0, 1)),
    decode_head=dict(
        in_channels=[out_channels] * 2,
        channels=16,
        reassemble_channels=(8, 16),
        scales=(2, 0.5),
        in_index=(0, 1),
        head_channels=8))
