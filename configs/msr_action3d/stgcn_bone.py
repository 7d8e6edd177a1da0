# ST-GCN (TAO's network, no dropout) on
# MSR Action3D cross-subject (20 actions), bone stream; a CPU-sized schedule: 60 epochs, batch 16,
# cosine LR. Results, commands and wall times: docs/results.md.
_base_ = [
    '../_base_/models/stgcn.py',
    '../_base_/datasets/msr_action3d_bone.py',
    '../_base_/schedules/sgd_cosine.py',
    '../_base_/default_runtime.py',
]
model = dict(backbone=dict(dropout=0.0, graph_cfg=dict(layout='kinect-v1-20', strategy='spatial')),
             cls_head=dict(num_classes=20))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=5, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=55, eta_min=0.0, by_epoch=True, begin=5, end=60,
         convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=60, val_interval=5)
default_hooks = dict(checkpoint=dict(interval=20), logger=dict(interval=10))
