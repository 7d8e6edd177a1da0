# ST-GCN on NW-UCLA cross-view, joint stream; the longer CPU schedule: 80 epochs (twice stgcn_joint.py),
# batch 16, 5 warm-up epochs then cosine to 0. Results, commands and wall times: docs/results.md.
_base_ = ['./stgcn_joint.py']
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=5, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=75, eta_min=0.0, by_epoch=True, begin=5, end=80,
         convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=80)
