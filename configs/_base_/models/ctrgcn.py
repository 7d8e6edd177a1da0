# CTR-GCN (Chen et al., ICCV 2021): channel-wise topology refinement, multi-scale TCN (kernel 5, dilations 1, 2).
model = dict(
    type='SkeletonRecognizer',
    backbone=dict(
        type='CTRGCN',
        in_channels=3,
        graph_cfg=dict(layout='nvidia', strategy='spatial'),
        base_channels=64,
        num_stages=10,
        inflate_stages=(5, 8),
        down_stages=(5, 8),
        data_bn_type='VC',
        kernel_size=5,
        dilations=(1, 2),
    ),
    cls_head=dict(type='GCNHead', num_classes=6, in_channels=256, dropout=0.0),
    data_preprocessor=dict(type='SkeletonDataPreprocessor'),
)
