# TAO's "AutoReduce": ReduceLROnPlateau on val_loss (patience 1, x0.1, min_lr 1e-4).
_base_ = ['./sgd_multistep.py']
param_scheduler = [
    dict(type='AutoReduceLR', monitor='val_loss', rule='less', factor=0.1, patience=1, min_value=1e-4)
]
# The plateau is checked after each validation: validate every epoch.
train_cfg = dict(val_interval=1)
