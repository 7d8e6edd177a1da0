# TAO's Kinetics recipe (experiment_kinetics.yaml, tao_tutorials): openpose layout (18 joints, x, y, score),
# 5 Kinetics classes, random_choose + random_move with window 150, MultiStep [20, 30, 40], 50 epochs.
# Data: the original ST-GCN kinetics-skeleton arrays (N, 3, 300, 18, 2) subset to these classes.
_base_ = ['./stgcn_nvidia.py']
data_root = 'data/kinetics'
label_map = dict(_delete_=True, front_raises=0, pull_ups=1, clean_and_jerk=2, presenting_weather_forecast=3,
                 deadlifting=4)
model = dict(backbone=dict(graph_cfg=dict(layout='openpose')), cls_head=dict(num_classes=5))
train_pipeline = [
    dict(type='RandomChoose', window_size=150),
    dict(type='RandomMove'),
    dict(type='PackPoseInputs'),
]
train_dataloader = dict(dataset=dict(data_path=data_root + '/train_data.npy',
                                     label_path=data_root + '/train_label.pkl', label_map=label_map,
                                     num_classes=5, num_joints=18, pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(data_path=data_root + '/val_data.npy', label_path=data_root + '/val_label.pkl',
                                   label_map=label_map, num_classes=5, num_joints=18))
test_dataloader = val_dataloader
param_scheduler = [dict(type='MultiStepLR', by_epoch=True, milestones=[20, 30, 40], gamma=0.1)]
train_cfg = dict(max_epochs=50, val_interval=5)
