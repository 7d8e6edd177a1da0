# Runtime defaults shared by every posecls config.
default_scope = 'posecls'
runner_type = 'PoseRunner'

default_hooks = dict(
    runtime_info=dict(type='RuntimeInfoHook'),
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=20, ignore_last=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # TAO names: model_epoch_XXX.pth every `interval` epochs + pc_model_latest.pth, written atomically
    checkpoint=dict(type='PoseCheckpointHook', interval=5),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    sync_buffers=dict(type='SyncBuffersHook'),
)
# PoseRunner always adds SafeStateHook (weights_only-loadable checkpoints) and RNGStateHook (bit-exact resume).
custom_hooks = []

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # 'auto': nccl with CUDA GPUs, gloo without (CPU); set 'nccl' / 'gloo' to force one (docs/distributed.md).
    dist_cfg=dict(backend='auto'),
)
log_processor = dict(type='LogProcessor', window_size=20, by_epoch=True)
# TensorBoard: tools/train.py --tensorboard, or in a config
#   visualizer = dict(vis_backends=[dict(type='LocalVisBackend'), dict(type='TensorboardVisBackend')])
# (a list is replaced, not merged; a top-level `vis_backends = [...]` would not reach the visualizer).
# No fixed name: mmengine keys the visualizer singleton by name, so each run (experiment) gets its own.
visualizer = dict(type='Visualizer', vis_backends=[dict(type='LocalVisBackend')])
log_level = 'INFO'

randomness = dict(seed=1234, deterministic=False)
# tools/train.py --auto-scale-lr: lr x (processes x train batch_size) / base_batch_size (TAO: batch 16, 1 GPU).
auto_scale_lr = dict(enable=False, base_batch_size=16)
load_from = None
# True: resume automatically from <work_dir>/pc_model_latest.pth when it exists (TAO behaviour).
resume = True
