# Original ST-GCN NTU RGB+D recipe: ntu-rgb+d layout (25 Kinect v2 joints, x, y, z, 2 persons), 60 classes,
# dropout 0.5, step [10, 50], 80 epochs (batch 64 over 4 GPUs = 16 per GPU).
_base_ = ['./stgcn_nvidia.py']
data_root = 'data/ntu60_xsub'
model = dict(backbone=dict(graph_cfg=dict(layout='ntu-rgb+d')), cls_head=dict(num_classes=60))
train_dataloader = dict(dataset=dict(data_path=data_root + '/train_data.npy',
                                     label_path=data_root + '/train_label.pkl', label_map=None,
                                     num_classes=60, num_joints=25))
val_dataloader = dict(dataset=dict(data_path=data_root + '/val_data.npy', label_path=data_root + '/val_label.pkl',
                                   label_map=None, num_classes=60, num_joints=25))
test_dataloader = val_dataloader
param_scheduler = [dict(type='MultiStepLR', by_epoch=True, milestones=[10, 50], gamma=0.1)]
train_cfg = dict(max_epochs=80, val_interval=5)
