# FlexiViT-Ti6 (192-d, 6 blocks) pretrained on DigitTags 64x64 with FlexiViT's recipe: a
# uniformly drawn patch size every step, the patch kernel stored at 8x8 and PI-resized.
# The stand-in for big_vision's flexible ImageNet-21k weights; written as a timm state dict
# and a big_vision .npz.
backbone = dict(
    type='FlexiViT',
    img_size=64,
    patch_size=8,
    patch_sizes=[4, 6, 8, 12, 16],
    embed_dim=192,
    depth=6,
    num_heads=3,
    pos_embed_grid=8,
    out_indices=(-1, ),
    final_norm=True,
    drop_path_rate=0.0)
data = dict(
    scene=dict(image_size=64, digits_per_image=(1, 4), digit_size=(12, 34), seed=1,
               num_train=0, num_val=0),
    dense_seed=0,
    dense_val_fraction=0.2,
    num_val=512)
# Every pixel classified (background or digit) from its patch token's scores, bilinearly
# upsampled (pool='pixels', a linear decoder): the densest signal of the task. With
# image-level tags (class token, mean or smooth-max pooled), per-patch tags or per-patch
# majority labels, small ViTs stayed at or near the label prior for 400-1,300 steps
# (docs/results.md, "Pretraining").
head = dict(pool='pixels', loss='softmax')
schedule = dict(steps=2000, batch_size=16, lr=2e-3, min_lr=1e-5, weight_decay=0.05,
                warmup_steps=200, clip_grad=1.0, seed=0, log_interval=50)
sampler = dict(weights=None)  # None: uniform over the patch sizes
distill = None  # or dict(config=..., weights=..., choice=None, weight=1.0)
export = dict(name='flexivit-ti6_digittags-64x64', formats=['timm', 'big_vision'],
              dtype='float16')
