"""FlexiViT feeds MMSegmentation's MultiLevelNeck + UPerHead unchanged at every patch size."""
import torch


def test_encoder_decoder_trains_and_predicts_at_every_patch_size():
    from mmseg.registry import MODELS
    from mmseg.structures import SegDataSample
    from mmseg.utils import register_all_modules
    from mmengine.config import ConfigDict
    from mmengine.structures import PixelData

    register_all_modules()
    torch.manual_seed(0)
    norm_cfg = dict(type="BN", requires_grad=True)
    segmentor = MODELS.build(ConfigDict(
        type="EncoderDecoder",
        data_preprocessor=dict(type="SegDataPreProcessor", mean=[0.0] * 3, std=[1.0] * 3,
                               size_divisor=16),
        backbone=dict(type="FlexiViT", img_size=64, patch_size=8, embed_dim=32, depth=4,
                      num_heads=2, mlp_ratio=2.0, out_indices=(0, 1, 2, 3),
                      patch_sizes=[8, 12, 16, 20, 32]),
        neck=dict(type="MultiLevelNeck", in_channels=[32] * 4, out_channels=32,
                  scales=[4, 2, 1, 0.5]),
        decode_head=dict(type="UPerHead", in_channels=[32] * 4, in_index=[0, 1, 2, 3],
                         pool_scales=(1, 2, 3, 6), channels=16, dropout_ratio=0.1,
                         num_classes=3, norm_cfg=norm_cfg, align_corners=False,
                         loss_decode=dict(type="CrossEntropyLoss", loss_weight=1.0)),
        train_cfg=dict(), test_cfg=dict(mode="whole")))
    samples = []
    for _ in range(2):
        sample = SegDataSample(metainfo=dict(img_shape=(64, 48), pad_shape=(64, 48),
                                             ori_shape=(64, 48)))
        sample.gt_sem_seg = PixelData(data=torch.randint(0, 3, (1, 64, 48)))
        samples.append(sample)
    images = torch.rand(2, 3, 64, 48)
    for choice in segmentor.backbone.space():
        segmentor.backbone.activate(choice)
        segmentor.train()
        losses = segmentor.loss(images, samples)
        assert torch.isfinite(losses["decode.loss_ce"])
        segmentor.eval()
        with torch.no_grad():
            result = segmentor.predict(images, samples)
        assert result[0].pred_sem_seg.data.shape == (1, 64, 48)


def test_segmentor_init_weights_loads_the_backbone_checkpoint(tmp_path):
    from mmengine.config import ConfigDict
    from mmseg.registry import MODELS
    from mmseg.utils import register_all_modules

    from flexseg.models import FlexiViT

    register_all_modules()
    backbone = dict(img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=2)
    source = FlexiViT(**backbone)
    torch.save({"state_dict": {f"backbone.{k}": v for k, v in source.state_dict().items()}},
               tmp_path / "segmentor.pth")
    segmentor = MODELS.build(ConfigDict(
        type="EncoderDecoder",
        backbone=dict(type="FlexiViT", **backbone, init_cfg=dict(
            type="Pretrained", checkpoint=str(tmp_path / "segmentor.pth"), strict=True)),
        decode_head=dict(type="FCNHead", in_channels=32, channels=8, num_convs=1,
                         num_classes=2, norm_cfg=dict(type="BN")),
        train_cfg=dict(), test_cfg=dict(mode="whole")))
    segmentor.init_weights()
    torch.testing.assert_close(segmentor.backbone.pos_embed, source.pos_embed)
    torch.testing.assert_close(segmentor.backbone.blocks[1].mlp.fc2.weight,
                               source.blocks[1].mlp.fc2.weight)
