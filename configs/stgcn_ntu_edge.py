# ST-GCN on the NTU "edge" stream: the 24 bones of the NTU skeleton as nodes (ntu_edge layout), 60 classes.
_base_ = ['./stgcn_ntu_rgbd.py']
data_root = 'data/ntu60_xsub_edge'
model = dict(backbone=dict(graph_cfg=dict(layout='ntu_edge')))
train_dataloader = dict(dataset=dict(data_path=data_root + '/train_data.npy',
                                     label_path=data_root + '/train_label.pkl', num_joints=24))
val_dataloader = dict(dataset=dict(data_path=data_root + '/val_data.npy', label_path=data_root + '/val_label.pkl',
                                   num_joints=24))
test_dataloader = val_dataloader
