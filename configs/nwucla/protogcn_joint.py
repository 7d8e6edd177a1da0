# ProtoGCN on NW-UCLA cross-view, joint stream; the CPU-sized schedule of the other recipes: 40 epochs, batch 16,
# cosine LR (the reference trains NTU for 150 epochs at lr 0.025, batch 16). Results: docs/results.md.
_base_ = [
    '../_base_/models/protogcn.py',
    '../_base_/datasets/nwucla_joint.py',
    '../_base_/schedules/sgd_cosine.py',
    '../_base_/default_runtime.py',
]
model = dict(backbone=dict(graph_cfg=dict(layout='kinect-v1-20', strategy='spatial')),
             cls_head=dict(num_classes=10, num_nodes=20))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=5, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=35, eta_min=0.0, by_epoch=True, begin=5, end=40,
         convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=40, val_interval=5)
default_hooks = dict(checkpoint=dict(interval=10), logger=dict(interval=20))
