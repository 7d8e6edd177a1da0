# ST-GCN on COCO-17 2D keypoints (x, y, score) with TAO's coco graph (19 links, centre: nose),
# e.g. NTU-60 actions from HRNet 2D poses: 60 classes.
_base_ = ['./stgcn_nvidia.py']
data_root = 'data/coco17'
model = dict(backbone=dict(graph_cfg=dict(layout='coco')), cls_head=dict(num_classes=60))
train_dataloader = dict(dataset=dict(data_path=data_root + '/train_data.npy',
                                     label_path=data_root + '/train_label.pkl', label_map=None,
                                     num_classes=60, num_joints=17))
val_dataloader = dict(dataset=dict(data_path=data_root + '/val_data.npy', label_path=data_root + '/val_label.pkl',
                                   label_map=None, num_classes=60, num_joints=17))
test_dataloader = val_dataloader
