# FlexiViT's recipe on DigitSeg: the flexible model starts from the fixed p8 model's weights and
# every sampled patch size is distilled toward its frozen predictions (KL) on top of the task
# loss; two distinct sizes per step, p6 and p4 drawn twice as often as the others (the sizes
# farthest below the teacher lag most). Train the teacher first (about 11 minutes on 2 cores),
# then this (about 18):
#   bash tools/run_demo.sh configs/flexivit/flexivit-ti6_upernet_fixed-p8_1.3k_digitseg-64x64.py
#   bash tools/run_demo.sh configs/flexivit/flexivit-ti6_upernet_distill-p8_1.3k_digitseg-64x64.py
# docs/results.md compares it with a fixed model per patch size.
_base_ = ['./flexivit-ti6_upernet_1.3k_digitseg-64x64.py']
teacher_name = 'flexivit-ti6_upernet_fixed-p8_1.3k_digitseg-64x64'
train_cfg = dict(
    sampler=dict(_delete_=True, strategy='weighted',
                 weights=dict(p16=1, p12=1, p8=1, p6=2, p4=2),
                 num_choices=2),
    distill=dict(
        _delete_=True,  # replaces the base's in-place recipe
        mode='teacher',
        init_student=True,
        teacher=dict(config=f'configs/flexivit/{teacher_name}.py',
                     checkpoint=f'work_dirs/{teacher_name}/iter_1300.pth')))
