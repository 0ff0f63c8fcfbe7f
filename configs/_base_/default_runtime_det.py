# Runtime shared by all flexseg detection configs (mmdet scope, flexseg registered).
default_scope = 'mmdet'
custom_imports = dict(imports=['flexseg'], allow_failed_imports=False)
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=1000, max_keep_ckpts=2),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='DetVisualizationHook'))
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='DetLocalVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(type='BudgetLogProcessor', by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False
# True: training skips samples whose image or annotation file cannot be read, and the
# multi-budget evaluation loops drop them before the pass; both warn with the count.
skip_unreadable_samples = False
