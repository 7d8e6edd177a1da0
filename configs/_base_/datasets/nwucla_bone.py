# NW-UCLA cross-view, bone stream: nwucla_joint.py with PoseStream(stream='bone').
_base_ = ['./nwucla_joint.py']
stream = 'bone'
train_pipeline = [
    dict(type='CenterOnJoint', joint=1, mode='first'),
    dict(type='RandomRotate', angle=(60., 60., 0.), unit='deg'),
    dict(type='NormalizeScale', mode='minmax'),
    dict(type='PoseStream', stream=stream, layout={{_base_.layout}}),
    dict(type='UniformSample', clip_len={{_base_.clip_len}}),
    dict(type='PackPoseInputs'),
]
val_pipeline = [
    dict(type='CenterOnJoint', joint=1, mode='first'),
    dict(type='NormalizeScale', mode='minmax'),
    dict(type='PoseStream', stream=stream, layout={{_base_.layout}}),
    dict(type='UniformSample', clip_len={{_base_.clip_len}}, test_mode=True),
    dict(type='PackPoseInputs'),
]
test_pipeline = val_pipeline
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=val_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
