# NW-UCLA cross-view (train: views 1 + 2, 1020 clips; val/test: view 3, 464 clips), joint stream.
# Files as converted in ../shared/data/nw_ucla: (N, 3, 201, 20, 1) float32 + [[names], [labels]] .pkl.
#   ln -s /path/to/shared/data/nw_ucla data/nw_ucla        (or override data_root and the paths)
# The 20-joint Kinect v1 skeleton is a user-registered layout (projects/kinect_v1/layout.py).
custom_imports = dict(imports=['projects.kinect_v1.layout'], allow_failed_imports=False)
data_root = 'data/nw_ucla'
layout = 'kinect-v1-20'
stream = 'joint'
clip_len = 52
label_map = dict(pick_up_with_one_hand=0, pick_up_with_two_hands=1, drop_trash=2, walk_around=3, sit_down=4,
                 stand_up=5, donning=6, doffing=7, throw=8, carry=9)

# CTR-GCN's NW-UCLA preprocessing: centre on the spine of the first frame, random rotation (+-60 deg about x and
# y) in training, per-clip min-max scaling to [-1, 1], uniform resampling to 52 frames.
train_pipeline = [
    dict(type='CenterOnJoint', joint=1, mode='first'),
    dict(type='RandomRotate', angle=(60., 60., 0.), unit='deg'),
    dict(type='NormalizeScale', mode='minmax'),
    dict(type='PoseStream', stream=stream, layout=layout),
    dict(type='UniformSample', clip_len=clip_len),
    dict(type='PackPoseInputs'),
]
val_pipeline = [
    dict(type='CenterOnJoint', joint=1, mode='first'),
    dict(type='NormalizeScale', mode='minmax'),
    dict(type='PoseStream', stream=stream, layout=layout),
    dict(type='UniformSample', clip_len=clip_len, test_mode=True),
    dict(type='PackPoseInputs'),
]
test_pipeline = val_pipeline

train_dataloader = dict(
    batch_size=16,
    num_workers=0,
    persistent_workers=False,
    drop_last=True,
    sampler=dict(type='PoseSampler', shuffle=True),
    dataset=dict(type='PoseDataset', data_path=data_root + '/train_data.npy', label_path=data_root + '/train_label.pkl',
                 label_map=label_map, num_classes=10, num_joints=20, pipeline=train_pipeline),
)
val_dataloader = dict(
    batch_size=32,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='PoseDataset', data_path=data_root + '/val_data.npy', label_path=data_root + '/val_label.pkl',
                 label_map=label_map, num_classes=10, num_joints=20, pipeline=val_pipeline),
)
test_dataloader = dict(
    batch_size=32,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='PoseDataset', data_path=data_root + '/val_data.npy', label_path=data_root + '/val_label.pkl',
                 label_map=label_map, num_classes=10, num_joints=20, pipeline=test_pipeline),
)
val_evaluator = [dict(type='PoseAccMetric', topk=(1, 5))]
test_evaluator = [dict(type='PoseAccMetric', topk=(1, 5), with_confusion_matrix=True)]
