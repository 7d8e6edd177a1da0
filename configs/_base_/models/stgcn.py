# ST-GCN as TAO PoseClassificationNet builds it (3,100,938 parameters for nvidia/spatial/6 classes).
model = dict(
    type='SkeletonRecognizer',
    backbone=dict(
        type='STGCN',
        in_channels=3,
        graph_cfg=dict(layout='nvidia', strategy='spatial', max_hop=1, dilation=1),
        edge_importance_weighting=True,
        data_bn=True,
        base_channels=64,
        temporal_kernel_size=9,
        dropout=0.5,
    ),
    cls_head=dict(type='GCNHead', num_classes=6, in_channels=256, dropout=0.0,
                  loss_cls=dict(type='CrossEntropyLoss')),
    data_preprocessor=dict(type='SkeletonDataPreprocessor'),
)
