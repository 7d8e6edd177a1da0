# ProtoGCN (Liu et al., CVPR 2025): motion-topology graph convolution over 8 random initial topologies, a
# multi-scale TCN with a global joint, widths 96 -> 192 -> 384; in training a prototype reconstruction (400
# prototypes) of the last block's topology feeds a class-specific contrastive loss (weight 0.2) in ProtoGCNHead.
# Inference and export use the features and the classifier only. 4.37 M params for NTU RGB+D 120 (3-D joints).
model = dict(
    type='ProtoGCNRecognizer',
    backbone=dict(
        type='ProtoGCN',
        in_channels=3,
        graph_cfg=dict(layout='nvidia', strategy='spatial'),
        base_channels=96,
        num_stages=10,
        inflate_stages=(5, 8),
        down_stages=(5, 8),
        data_bn_type='VC',
        topology='random',
        num_filter=8,
        init_std=0.02,
        init_off=0.04,
        tcn_dropout=0.0,
        num_prototype=400,
    ),
    cls_head=dict(type='ProtoGCNHead', num_classes=6, in_channels=384, num_nodes=34, dropout=0.0,
                  proto_loss_weight=0.2),
    data_preprocessor=dict(type='SkeletonDataPreprocessor'),
)
