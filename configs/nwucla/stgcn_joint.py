# ST-GCN (TAO's network, no dropout) on
# NW-UCLA cross-view, joint stream; a CPU-sized schedule: 40 epochs, batch 16, cosine LR.
# Results, commands and wall times: docs/results.md.
_base_ = [
    '../_base_/models/stgcn.py',
    '../_base_/datasets/nwucla_joint.py',
    '../_base_/schedules/sgd_cosine.py',
    '../_base_/default_runtime.py',
]
model = dict(backbone=dict(dropout=0.0, graph_cfg=dict(layout='kinect-v1-20', strategy='spatial')),
             cls_head=dict(num_classes=10))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=5, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=35, eta_min=0.0, by_epoch=True, begin=5, end=40,
         convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=40, val_interval=5)
default_hooks = dict(checkpoint=dict(interval=10), logger=dict(interval=20))
