# Runtime shared by all flexseg segmentation configs (mmseg scope, flexseg registered).
default_scope = 'mmseg'
custom_imports = dict(imports=['flexseg'], allow_failed_imports=False)
env_cfg = dict(
    cudnn_benchmark=True,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='SegLocalVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False
tta_model = dict(type='SegTTAModel')
# True: training skips samples whose image or annotation file cannot be read, and the
# multi-budget evaluation loops drop them before the pass; both warn with the count.
skip_unreadable_samples = False
