# A FlexiViT small enough to pretrain in seconds (tests).
backbone = dict(type='FlexiViT', img_size=32, patch_size=8, patch_sizes=[8, 16], embed_dim=32,
                depth=2, num_heads=2, pos_embed_grid=4, out_indices=(-1, ), final_norm=True)
data = dict(scene=dict(image_size=32, digits_per_image=(1, 2), digit_size=(10, 16), seed=1,
                       num_train=0, num_val=0),
            dense_seed=0, dense_val_fraction=0.2, num_val=8)
schedule = dict(steps=4, batch_size=4, lr=1e-3, warmup_steps=1, log_interval=1,
                checkpoint_interval=2, seed=0)
head = dict(pool='pixels', loss='softmax')
sampler = dict(weights=None)
distill = None
export = dict(name='tiny-flexivit', formats=['timm', 'big_vision'], dtype='float32')
