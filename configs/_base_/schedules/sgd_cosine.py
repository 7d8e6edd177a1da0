# SGD with nesterov momentum; linear warm-up for 5 epochs, then cosine annealing to 0, both per iteration
# (pyskl / CTR-GCN practice). A config that changes max_epochs restates param_scheduler with the new `end`.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-4),
    clip_grad=None,
)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=5, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=45, eta_min=0.0, by_epoch=True, begin=5, end=50,
         convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=50, val_begin=1, val_interval=5)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
