# TAO's optimiser and MultiStep schedule: SGD lr 0.1, momentum 0.9, nesterov, wd 1e-4; x0.1 at epochs 10 and 60.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-4),
    # TAO's train.grad_clip (L2 norm); None disables clipping.
    clip_grad=None,
)
param_scheduler = [dict(type='MultiStepLR', by_epoch=True, milestones=[10, 60], gamma=0.1)]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=70, val_begin=1, val_interval=5)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
