# ST-GCN++ (pyskl / mmaction2): learned topology ('init'), GCN residuals, multi-scale TCN; 1.39-1.40 M params.
model = dict(
    type='SkeletonRecognizer',
    backbone=dict(
        type='STGCNPP',
        in_channels=3,
        graph_cfg=dict(layout='nvidia', strategy='spatial'),
        base_channels=64,
        num_stages=10,
        inflate_stages=(5, 8),
        down_stages=(5, 8),
        gcn_adaptive='init',
        gcn_with_res=True,
        tcn_type='mstcn',
        tcn_dropout=0.0,
    ),
    cls_head=dict(type='GCNHead', num_classes=6, in_channels=256, dropout=0.0),
    data_preprocessor=dict(type='SkeletonDataPreprocessor'),
)
