# TAO skeleton arrays: (N, C, T, V, M) .npy + [[names], [labels]] .pkl.
# Override data_root / label_map / num_classes / num_joints in the layout config.
data_root = 'data/nvidia_sample'
label_map = dict(sitting_down=0, getting_up=1, sitting=2, standing=3, walking=4, jumping=5)

# TAO's feeder: random_choose, random_move and window_size are off for the NVIDIA 3dbp recipe.
train_pipeline = [dict(type='PackPoseInputs')]
val_pipeline = [dict(type='PackPoseInputs')]
test_pipeline = val_pipeline

train_dataloader = dict(
    batch_size=16,
    num_workers=1,
    persistent_workers=False,
    drop_last=True,
    sampler=dict(type='PoseSampler', shuffle=True),
    dataset=dict(
        type='PoseDataset',
        data_path=data_root + '/train_data.npy',
        label_path=data_root + '/train_label.pkl',
        label_map=label_map,
        num_classes=6,
        num_joints=34,
        pipeline=train_pipeline,
    ),
)
val_dataloader = dict(
    batch_size=16,
    num_workers=1,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='PoseDataset',
        data_path=data_root + '/val_data.npy',
        label_path=data_root + '/val_label.pkl',
        label_map=label_map,
        num_classes=6,
        num_joints=34,
        pipeline=val_pipeline,
    ),
)
test_dataloader = val_dataloader

val_evaluator = [dict(type='PoseAccMetric', topk=(1, 5))]
test_evaluator = [dict(type='PoseAccMetric', topk=(1, 5), with_confusion_matrix=True)]
