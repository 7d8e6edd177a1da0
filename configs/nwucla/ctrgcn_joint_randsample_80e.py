# CTR-GCN on NW-UCLA cross-view, joint stream, 80 epochs (ctrgcn_joint_80e.py) with the temporal draw of CTR-GCN's own
# NW-UCLA feeder in training: 52 frames drawn uniformly at random from the clip, then sorted
# (UniformSample(sampling='random')), instead of one random frame per segment. Results: docs/results.md.
_base_ = ['./ctrgcn_joint_80e.py']
train_pipeline = [
    dict(type='CenterOnJoint', joint=1, mode='first'),
    dict(type='RandomRotate', angle=(60., 60., 0.), unit='deg'),
    dict(type='NormalizeScale', mode='minmax'),
    dict(type='PoseStream', stream='joint', layout={{_base_.layout}}),
    dict(type='UniformSample', clip_len={{_base_.clip_len}}, sampling='random'),
    dict(type='PackPoseInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
