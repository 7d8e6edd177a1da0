# ST-GCN on Human3.6M 17-joint 3D poses with TAO's human3.6m wiring (centre: thorax); the 15 H3.6M actions.
# TAO exports this layout with T=3163 frames (the whole sequence).
_base_ = ['./stgcn_nvidia.py']
data_root = 'data/human36m'
label_map = dict(_delete_=True, directions=0, discussion=1, eating=2, greeting=3, phoning=4, photo=5, posing=6,
                 purchases=7,
                 sitting=8, sitting_down=9, smoking=10, waiting=11, walk_dog=12, walking=13, walk_together=14)
model = dict(backbone=dict(graph_cfg=dict(layout='human3.6m')), cls_head=dict(num_classes=15))
train_dataloader = dict(dataset=dict(data_path=data_root + '/train_data.npy',
                                     label_path=data_root + '/train_label.pkl', label_map=label_map,
                                     num_classes=15, num_joints=17))
val_dataloader = dict(dataset=dict(data_path=data_root + '/val_data.npy', label_path=data_root + '/val_label.pkl',
                                   label_map=label_map, num_classes=15, num_joints=17))
test_dataloader = val_dataloader
