# MSR Action3D cross-subject (train: subjects 1, 3, 5, 7, 9, 284 clips; val/test: subjects 2, 4, 6, 8, 10, 273 clips),
# 20 actions, joint stream. Files as converted in ../shared/data/msr_action3d: (N, 3, 76, 20, 1) float32 + .pkl,
# joints reordered to the Kinect v1 order of NW-UCLA (projects/kinect_v1/layout.py).
#   ln -s /path/to/shared/data/msr_action3d data/msr_action3d
custom_imports = dict(imports=['projects.kinect_v1.layout'], allow_failed_imports=False)
data_root = 'data/msr_action3d'
layout = 'kinect-v1-20'
stream = 'joint'
clip_len = 40
label_map = dict(high_arm_wave=0, horizontal_arm_wave=1, hammer=2, hand_catch=3, forward_punch=4, high_throw=5,
                 draw_x=6, draw_tick=7, draw_circle=8, hand_clap=9, two_hand_wave=10, side_boxing=11, bend=12,
                 forward_kick=13, side_kick=14, jogging=15, tennis_swing=16, tennis_serve=17, golf_swing=18,
                 pick_up_and_throw=19)

# One fixed camera: milder rotations than NW-UCLA's cross-view recipe (directions such as forward vs side kick
# matter), plus per-axis scaling; clips are 13-76 frames (median 39), resampled to 40.
train_pipeline = [
    dict(type='CenterOnJoint', joint=1, mode='first'),
    dict(type='RandomRotate', angle=(15., 15., 0.), unit='deg'),
    dict(type='NormalizeScale', mode='minmax'),
    dict(type='RandomScale', scale=0.1, per_axis=True),
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
                 label_map=label_map, num_classes=20, num_joints=20, pipeline=train_pipeline),
)
val_dataloader = dict(
    batch_size=32,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='PoseDataset', data_path=data_root + '/val_data.npy', label_path=data_root + '/val_label.pkl',
                 label_map=label_map, num_classes=20, num_joints=20, pipeline=val_pipeline),
)
test_dataloader = dict(
    batch_size=32,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='PoseDataset', data_path=data_root + '/val_data.npy', label_path=data_root + '/val_label.pkl',
                 label_map=label_map, num_classes=20, num_joints=20, pipeline=test_pipeline),
)
val_evaluator = [dict(type='PoseAccMetric', topk=(1, 5))]
test_evaluator = [dict(type='PoseAccMetric', topk=(1, 5), with_confusion_matrix=True)]
