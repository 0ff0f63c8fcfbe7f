# COCO-Stuff-10K through mmseg's own COCOStuffDataset (171 classes, 0 = unlabelled ignored),
# for configs that inherit an ADE20K recipe and keep its 512x512 pipelines:
#   train_dataloader = dict(dataset={{_base_.coco_stuff10k_train}}), likewise val.
# Layout (mmseg's dataset_prepare): data/coco_stuff10k/{images,annotations}/{train2014,test2014},
# labels as *_labelTrainIds.png.
coco_stuff10k_train = dict(
    type='COCOStuffDataset', data_root='data/coco_stuff10k', reduce_zero_label=True,
    data_prefix=dict(img_path='images/train2014', seg_map_path='annotations/train2014'))
coco_stuff10k_val = dict(
    type='COCOStuffDataset', data_root='data/coco_stuff10k', reduce_zero_label=True,
    data_prefix=dict(img_path='images/test2014', seg_map_path='annotations/test2014'))
