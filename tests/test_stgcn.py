"""STGCN backbone, GCNHead and SkeletonRecognizer: TAO's structure, names, shapes and options."""
import pytest
import torch
from torch import nn

from posecls.registry import MODELS


def build(layout='nvidia', strategy='spatial', num_classes=6, in_channels=3, **backbone):
    return MODELS.build(dict(
        type='SkeletonRecognizer',
        backbone=dict(type='STGCN', in_channels=in_channels, graph_cfg=dict(layout=layout, strategy=strategy),
                      **backbone),
        cls_head=dict(type='GCNHead', num_classes=num_classes, in_channels=4 * backbone.get('base_channels', 64))))


def n_trainable(model):
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


@pytest.mark.parametrize('layout,num_classes,expected', [
    ('nvidia', 6, 3_100_938),  # the TAO NVIDIA model
    ('openpose', 400, 3_177_140),  # original ST-GCN Kinetics-400
    ('openpose', 5, 3_075_625),  # TAO Kinetics tutorial
    ('ntu-rgb+d', 60, 3_098_832),  # original ST-GCN NTU
])
def test_parameter_counts_match_tao(layout, num_classes, expected):
    assert n_trainable(build(layout, num_classes=num_classes)) == expected


def test_state_dict_keys_are_tao_keys_under_prefixes():
    sd = build().state_dict()
    assert len(sd) == 172
    keys = list(sd)
    assert keys[0] == 'backbone.A' and tuple(sd['backbone.A'].shape) == (3, 34, 34)
    assert keys[-2:] == ['cls_head.fcn.weight', 'cls_head.fcn.bias']
    assert tuple(sd['cls_head.fcn.weight'].shape) == (6, 256, 1, 1)
    assert tuple(sd['backbone.data_bn.weight'].shape) == (34 * 3, )
    for i in range(10):
        assert f'backbone.st_gcn_networks.{i}.gcn.conv.weight' in sd
        assert f'backbone.st_gcn_networks.{i}.tcn.2.weight' in sd
        assert tuple(sd[f'backbone.edge_importance.{i}'].shape) == (3, 34, 34)
    residual_blocks = {k.split('.')[2] for k in keys if '.residual.' in k}
    assert residual_blocks == {'4', '7'}
    assert tuple(sd['backbone.st_gcn_networks.4.residual.0.weight'].shape) == (128, 64, 1, 1)


def test_forward_shapes_and_temporal_downsampling():
    model = build(base_channels=8).eval()
    x = torch.randn(2, 3, 300, 34, 2)
    feats = model.backbone(x)
    assert tuple(feats.shape) == (2, 2, 32, 75, 34)
    logits = model(x)
    assert tuple(logits.shape) == (2, 6)
    # odd T: ceil division by 2 twice (stride-2 convs with padding 4)
    assert model.backbone(torch.randn(1, 3, 37, 34, 1)).shape[3] == 10


def test_einsum_and_matmul_aggregation_agree():
    model = build(base_channels=8).eval()
    x = torch.randn(3, 3, 40, 34, 1)
    with torch.no_grad():
        a = model(x)
        model.backbone.set_gcn_impl('matmul')
        b = model(x)
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match='einsum'):
        model.backbone.set_gcn_impl('fft')


def test_channels_last_training_form_equals_einsum_values_and_gradients():
    """gcn_impl='auto' (the default) trains channels-last with one matmul over (V * K); same values as einsum."""
    torch.manual_seed(0)
    model = build(base_channels=8, dropout=0.0)
    assert model.backbone.st_gcn_networks[0].gcn.impl == 'auto'
    x = torch.randn(2, 3, 20, 34, 2)
    results = {}
    for impl in ('einsum', 'channels_last', 'auto'):
        model.backbone.set_gcn_impl(impl)
        model.zero_grad(set_to_none=False)
        state = {k: v.clone() for k, v in model.state_dict().items()}
        feats = model.backbone(x)
        feats.square().mean().backward()
        model.load_state_dict(state)  # undo the BatchNorm running-statistics update of this forward
        grads = {n: p.grad.clone() for n, p in model.backbone.named_parameters()}
        results[impl] = (feats.detach(), grads)
        if impl != 'einsum':  # activations stay channels-last (no NCHW copy after any block)
            assert model.backbone.normalize_input(x).is_contiguous(memory_format=torch.channels_last)
    for impl in ('channels_last', 'auto'):
        torch.testing.assert_close(results[impl][0], results['einsum'][0], rtol=1e-4, atol=5e-5)
        for name, g in results['einsum'][1].items():
            torch.testing.assert_close(results[impl][1][name], g, rtol=1e-4, atol=5e-5, msg=name)
    # eval mode: 'auto' is TAO's einsum exactly (inference, export and parity unchanged)
    model.eval()
    with torch.no_grad():
        auto = model(x)
        model.backbone.set_gcn_impl('einsum')
        assert torch.equal(model(x), auto)
    assert not model.backbone.normalize_input(x).is_contiguous(memory_format=torch.channels_last)


def test_strided_pointwise_conv_on_channels_last_input_equals_conv2d():
    """The residual projection subsamples channels-last input before a stride-1 1x1 convolution: the values and
    gradients of ``nn.Conv2d(1x1, stride)``, and no call into oneDNN's strided 1x1 backward-weights kernel, which
    corrupts the heap for fewer than 16 input channels on AVX-512 CPUs without AMX (AMD EPYC Zen 4)."""
    from posecls.models.utils.residual import StridedPointwiseConv2d
    torch.manual_seed(0)
    for cin, stride in ((4, (2, 1)), (12, (2, 1)), (8, (2, 2)), (32, (3, 1))):
        ref = nn.Conv2d(cin, 2 * cin, 1, stride=stride)
        conv = StridedPointwiseConv2d(cin, 2 * cin, 1, stride=stride)
        conv.load_state_dict(ref.state_dict())
        assert list(conv.state_dict()) == ['weight', 'bias']
        x = torch.randn(3, cin, 21, 34)
        x_ref, x_cl = x.clone().requires_grad_(), x.clone().contiguous(memory_format=torch.channels_last)
        x_cl.requires_grad_()
        y_ref, y = ref(x_ref), conv(x_cl)
        assert y.shape == y_ref.shape == (3, 2 * cin, -(-21 // stride[0]), -(-34 // stride[1]))
        torch.testing.assert_close(y, y_ref, rtol=1e-5, atol=1e-5)
        (y_ref.square().sum()).backward()
        (y.square().sum()).backward()
        for a, b in ((conv.weight.grad, ref.weight.grad), (conv.bias.grad, ref.bias.grad), (x_cl.grad, x_ref.grad)):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match='kernel_size=\\(3, 3\\)'):
        StridedPointwiseConv2d(4, 8, 3, stride=2)


def test_persons_are_averaged_independent_samples():
    model = build(base_channels=8).eval()
    x = torch.randn(1, 3, 20, 34, 2)
    with torch.no_grad():
        both = model.backbone(x)
        p0 = model.backbone(x[..., :1])
        p1 = model.backbone(x[..., 1:])
        torch.testing.assert_close(both[:, 0], p0[:, 0])
        torch.testing.assert_close(both[:, 1], p1[:, 0])
        feats = torch.cat([p0, p1], dim=1)
        torch.testing.assert_close(model.cls_head(feats), model(x))


def test_data_bn_is_joint_major():
    """BatchNorm channel v * C + c normalises joint v, coordinate c."""
    model = build(base_channels=4).eval()
    bn = model.backbone.data_bn
    with torch.no_grad():
        bn.running_mean.zero_()
        bn.running_var.fill_(1.0)
        bn.weight.fill_(1.0)
        bn.bias.zero_()
        bn.bias[5 * 3 + 1] = 7.0  # joint 5, channel y
    x = torch.zeros(1, 3, 4, 34, 1)
    seen = {}

    def grab(module, inputs, output):
        seen['x'] = inputs[0].clone()

    model.backbone.st_gcn_networks[0].register_forward_hook(grab)
    with torch.no_grad():
        model.backbone(x)
    after_bn = seen['x']  # (N*M, C, T, V)
    assert torch.all(after_bn[0, 1, :, 5] == 7.0)
    assert after_bn.abs().sum() == 7.0 * 4


def test_edge_importance_off_and_no_data_bn():
    model = build(edge_importance_weighting=False, data_bn=False, base_channels=4)
    keys = model.state_dict().keys()
    assert not any('edge_importance' in k for k in keys)
    assert not any('data_bn' in k for k in keys)
    assert tuple(model(torch.randn(1, 3, 16, 34, 1)).shape) == (1, 6)


def test_configurable_small_model_and_strategies():
    model = build('coco', 'uniform', base_channels=4, temporal_kernel_size=3, dropout=0.0)
    assert model.backbone.A.shape[0] == 1
    assert model.backbone.st_gcn_networks[1].tcn[2].kernel_size == (3, 1)
    assert tuple(model(torch.randn(2, 3, 12, 17, 1)).shape) == (2, 6)
    with pytest.raises(ValueError, match='odd'):
        build(temporal_kernel_size=4)


def test_clear_errors_for_wrong_input():
    model = build(base_channels=4)
    with pytest.raises(ValueError, match="V=25 joints but graph layout 'nvidia' has 34"):
        model(torch.randn(1, 3, 16, 25, 1))
    with pytest.raises(ValueError, match='C=2 channels'):
        model(torch.randn(1, 2, 16, 34, 1))
    with pytest.raises(ValueError, match=r'\(N, C, T, V, M\)'):
        model(torch.randn(3, 16, 34, 1))


def test_recognizer_modes_and_multi_clip():
    from posecls.structures import PoseDataSample
    model = build(base_channels=4)
    x = torch.randn(2, 3, 16, 34, 1)
    samples = [PoseDataSample().set_gt_label(1), PoseDataSample().set_gt_label(4)]
    losses = model(x, samples, mode='loss')
    assert set(losses) == {'loss_cls', 'top1_acc'} and losses['loss_cls'].requires_grad
    model.eval()
    preds = model(x, [PoseDataSample(), PoseDataSample()], mode='predict')
    assert len(preds) == 2
    torch.testing.assert_close(preds[0].pred_score.sum(), torch.tensor(1.0))
    assert preds[0].pred_logits.shape == (6, ) and int(preds[0].pred_label) == int(preds[0].pred_score.argmax())
    # (N, clips, C, T, V, M): 'prob' averages softmax over clips
    clips = torch.randn(2, 3, 3, 16, 34, 1)
    with torch.no_grad():
        per_clip = torch.stack([model(clips[:, i]) for i in range(3)], dim=1)
        out = model(clips, mode='predict')
    torch.testing.assert_close(out[1].pred_score, per_clip[1].softmax(-1).mean(0))
    torch.testing.assert_close(out[1].pred_logits, per_clip[1].mean(0))
    with pytest.raises(ValueError, match='outside'):
        model(x, [PoseDataSample().set_gt_label(0), PoseDataSample().set_gt_label(6)], mode='loss')
    with pytest.raises(ValueError, match='mode'):
        model(x, mode='features')
