"""ST-GCN++, CTR-GCN and ProtoGCN: shapes, published parameter counts, building blocks, training with the shared
tools, ONNX export."""
import numpy as np
import pytest
import torch

from posecls.graphs import Graph
from posecls.models.backbones.stages import stage_plan
from posecls.models.utils import CTRGC, MSTCN, AdaptiveGraphConv, MultiScaleTCN, SkeletonInputBN
from posecls.registry import MODELS


def num_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def recognizer(backbone: dict, num_classes: int, in_channels: int = 256):
    return MODELS.build(dict(type='SkeletonRecognizer', backbone=backbone,
                             cls_head=dict(type='GCNHead', num_classes=num_classes, in_channels=in_channels)))


# Published sizes: ST-GCN++ 1.39 M (mmaction2 stgcnpp README, 2D coco-17, 60 classes) and 1.4 M (3D ntu-rgb+d);
# CTR-GCN 1.46 M (paper, NTU RGB+D 120: 25 joints, 2 persons, 120 classes). The exact counts pin the structure.
@pytest.mark.parametrize('backbone, num_classes, published_m, exact', [
    (dict(type='STGCNPP', graph_cfg=dict(layout='coco')), 60, 1.39, 1_393_016),
    (dict(type='STGCNPP', graph_cfg=dict(layout='ntu-rgb+d')), 60, 1.40, 1_403_144),
    (dict(type='CTRGCN', graph_cfg=dict(layout='ntu-rgb+d'), data_bn_type='MVC', num_person=2), 120, 1.46,
     1_462_092),
])
def test_parameter_counts_match_published_models(backbone, num_classes, published_m, exact):
    n = num_params(recognizer(backbone, num_classes))
    assert round(n / 1e6, 2) == published_m
    assert n == exact


def protogcn_reference_count(num_classes: int, V: int = 25, K: int = 8, C: int = 3, prototypes: int = 400) -> int:
    """Parameters of the reference's NTU joint model, layer by layer from firework8/ProtoGCN (independent of posecls).

    ``ProtoGCN(num_prototype=400, graph_cfg=dict(layout='nturgb+d', mode='random', num_filter=8))`` (widths 96, 192,
    384; ``unit_gcn`` with ratio 0.125; ``mstcn`` with ``add_coeff`` of 25 joints), its ``post`` conv + BN and
    prototype network, and ``SimpleHead(in_channels=384, joint_cfg='nturgb+d')``: ``fc_cls`` and the contrastive
    loss's ``cl_fc`` Linear(625, 256).
    """
    conv, bn = (lambda i, o: i * o + o), (lambda c: 2 * c)

    def unit_gcn(i, o):
        m = int(0.125 * o) * K
        return K * V * V + 3 * conv(i, m) + bn(m) + conv(m, o) + 2 * K + bn(o) + (conv(i, o) + bn(o)) * (i != o)

    def mstcn(c):
        mid, n = c // 6, V + bn(c) + conv(c, c) + bn(c)
        for j, branch in enumerate(['d', 'd', 'd', 'd', 'max', '1x1']):
            b = c - 5 * mid if j == 0 else mid
            n += conv(c, b) + (bn(b) if branch != '1x1' else 0) + (3 * b * b + b if branch == 'd' else 0)
        return n

    plan = ([(C, 96, 1)] + [(96, 96, 1)] * 3 + [(96, 192, 2)] + [(192, 192, 1)] * 2 + [(192, 384, 2)]
            + [(384, 384, 1)] * 2)
    total = bn(C * V) + conv(384, 384) + bn(384) + 2 * 384 * prototypes + conv(384, num_classes) + conv(V * V, 256)
    for b, (i, o, s) in enumerate(plan):
        total += unit_gcn(i, o) + mstcn(o) + (conv(i, o) + bn(o)) * (b > 0 and (i != o or s != 1))
    return total


# ProtoGCN: the paper gives no parameter count in the material available here, so the pinned number is the exact count
# of the reference's published NTU RGB+D 120 / 60 joint configurations (firework8/ProtoGCN configs/ntu120_xsub/j.py,
# ntu60_xsub/j.py; MIT), computed from the reference's modules by protogcn_reference_count above: 4.37 M / 4.34 M.
@pytest.mark.parametrize('num_classes, exact', [(120, 4_367_960), (60, 4_344_860)])
def test_protogcn_parameter_count_matches_the_reference_configuration(num_classes, exact):
    model = MODELS.build(dict(
        type='ProtoGCNRecognizer',
        backbone=dict(type='ProtoGCN', graph_cfg=dict(layout='ntu-rgb+d'), num_prototype=400),
        cls_head=dict(type='ProtoGCNHead', num_classes=num_classes, in_channels=384, num_nodes=25)))
    assert protogcn_reference_count(num_classes) == exact
    assert num_params(model) == exact


@pytest.mark.parametrize('typ', ['STGCNPP', 'CTRGCN'])
def test_feature_and_logit_shapes(typ):
    model = recognizer(dict(type=typ, graph_cfg=dict(layout='coco'), base_channels=8), 5, in_channels=32)
    x = torch.randn(2, 3, 20, 17, 2)
    feats = model.backbone(x)
    assert tuple(feats.shape) == (2, 2, 32, 5, 17)  # T 20 -> 10 -> 5, channels 8 -> 16 -> 32
    assert tuple(model(x).shape) == (2, 5)
    clips = model(torch.randn(2, 3, 3, 20, 17, 2), mode='predict')  # (N, clips, C, T, V, M)
    assert len(clips) == 2 and tuple(clips[0].pred_score.shape) == (5, )


@pytest.mark.parametrize('typ', ['STGCNPP', 'CTRGCN'])
def test_input_checks_name_the_mismatch(typ):
    model = MODELS.build(dict(type=typ, graph_cfg=dict(layout='coco'), base_channels=8))
    with pytest.raises(ValueError, match="V=18 joints but graph layout 'coco' has 17"):
        model(torch.randn(1, 3, 8, 18, 1))
    with pytest.raises(ValueError, match='C=6 channels but the model was built with in_channels=3'):
        model(torch.randn(1, 6, 8, 17, 1))
    with pytest.raises(ValueError, match=r'expects input \(N, C, T, V, M\)'):
        model(torch.randn(3, 8, 17, 1))


def test_mvc_data_bn_needs_its_person_count():
    bn = SkeletonInputBN(3, 17, 'MVC', num_person=2, name='CTRGCN')
    assert tuple(bn(torch.randn(2, 3, 4, 17, 2)).shape) == (4, 3, 4, 17)
    with pytest.raises(ValueError, match="'MVC' was built for num_person=2 but the input has M=1"):
        bn(torch.randn(2, 3, 4, 17, 1))
    with pytest.raises(ValueError, match='data_bn_type must be one of'):
        SkeletonInputBN(3, 17, 'NCV')


def test_stage_plan_follows_pyskl_rule():
    assert stage_plan(3, 64, 10, (5, 8), (5, 8)) == [
        (3, 64, 1, False), (64, 64, 1, True), (64, 64, 1, True), (64, 64, 1, True), (64, 128, 2, True),
        (128, 128, 1, True), (128, 128, 1, True), (128, 256, 2, True), (256, 256, 1, True), (256, 256, 1, True)]
    assert len(stage_plan(64, 64, 10, (5, 8), (5, 8))) == 9  # no stem block when C == base (ST-GCN++)
    assert len(stage_plan(64, 64, 10, (5, 8), (5, 8), always_first=True)) == 10  # CTR-GCN keeps it
    with pytest.raises(ValueError, match=r'inflate_stages must be block numbers in \[2, 10\]'):
        stage_plan(3, 64, 10, (1, 8), (5, 8))


def test_mstcn_gives_the_remainder_channels_to_the_first_branch():
    tcn = MSTCN(64, 64, stride=2)
    widths = [b.out_channels if isinstance(b, torch.nn.Conv2d) else b[0].out_channels for b in tcn.branches]
    assert widths == [14, 10, 10, 10, 10, 10]
    assert tuple(tcn(torch.randn(2, 64, 9, 5)).shape) == (2, 64, 5, 5)
    with pytest.raises(ValueError, match='MSTCN branch 1'):
        MSTCN(16, 16, branches=[(3, 1), 'avg'])


def test_multiscale_tcn_needs_a_multiple_of_its_branches():
    with pytest.raises(ValueError, match='out_channels=30 must be a multiple of the number of branches'):
        MultiScaleTCN(30, 30)
    tcn = MultiScaleTCN(16, 32, stride=2, residual=True)
    assert tuple(tcn(torch.randn(2, 16, 9, 4)).shape) == (2, 32, 5, 4)


def test_ctrgc_refines_the_graph_per_sample_and_channel():
    """The aggregation equals the defining sum y[c,t,w] = sum_v (A[v,w] + alpha R[c,v,w]) x3[c,t,v]."""
    torch.manual_seed(0)
    unit = CTRGC(4, 6).eval()
    x = torch.randn(2, 4, 5, 3)
    A = torch.rand(3, 3)
    alpha = torch.tensor([0.7])
    out = unit(x, A, alpha)
    x1, x2, x3 = unit.conv1(x).mean(-2), unit.conv2(x).mean(-2), unit.conv3(x)
    ref = torch.zeros(2, 6, 5, 3)
    for n in range(2):
        rel = torch.tanh(x1[n][:, :, None] - x2[n][:, None, :])  # (R, V, V)
        R = unit.conv4(rel[None])[0]  # (C, V, V)
        for c in range(6):
            ref[n, c] = x3[n, c] @ (A + alpha * R[c])
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('mode, learnable', [('init', {'A'}), ('importance', {'PA'}), ('offset', {'PA'}),
                                             (None, set())])
def test_adaptive_graph_conv_modes(mode, learnable):
    A = torch.tensor(Graph('coco', 'spatial').A)
    unit = AdaptiveGraphConv(3, 8, A, adaptive=mode)
    graph_params = {name for name, _ in unit.named_parameters() if name in ('A', 'PA')}
    assert graph_params == learnable
    torch.testing.assert_close(unit.adjacency(), A, atol=1e-5, rtol=0)  # every mode starts at the graph
    x = torch.randn(2, 3, 4, 17)
    unit.eval()
    einsum = unit(x)
    unit.set_impl('matmul')
    torch.testing.assert_close(unit(x), einsum, rtol=1e-5, atol=1e-5)
    unit.train()
    unit(x).sum().backward()
    for name in learnable:
        assert getattr(unit, name).grad is not None and getattr(unit, name).grad.abs().sum() > 0
    with pytest.raises(ValueError, match='adaptive must be one of'):
        AdaptiveGraphConv(3, 8, A, adaptive='attention')


def test_ctrgcn_starts_like_the_original_initialisation():
    model = MODELS.build(dict(type='CTRGCN', graph_cfg=dict(layout='coco'), base_channels=8))
    for block in model.net:
        assert torch.all(block.gcn1.bn.weight == 1e-6)
        assert block.gcn1.alpha.item() == 0.0
        torch.testing.assert_close(block.gcn1.A.detach(), torch.tensor(Graph('coco', 'spatial').A))
    tcn_bn = model.net[1].tcn1.branches[0][1].weight
    assert 0.9 < float(tcn_bn.mean()) < 1.1 and float(tcn_bn.std()) > 0  # N(1, 0.02)


@pytest.mark.parametrize('typ', ['STGCNPP', 'CTRGCN'])
def test_trains_with_the_shared_runner_and_tools(typ, tiny_cfg):
    from posecls.tools.common import build_runner
    tiny_cfg.model.backbone = dict(type=typ, graph_cfg=dict(layout='nvidia', strategy='spatial'), base_channels=8)
    tiny_cfg.model.cls_head.in_channels = 32
    runner = build_runner(tiny_cfg)
    before = {k: v.clone() for k, v in runner.model.state_dict().items()}
    runner.train()
    after = runner.model.state_dict()
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert any(k.startswith('backbone.') for k in changed) and any(k.startswith('cls_head.') for k in changed)
    metrics = runner.val()
    hits = metrics['acc/top1'] * 6  # 6 validation sequences
    assert abs(hits - round(hits)) < 1e-9 and 0 <= round(hits) <= 6
    assert np.isfinite(metrics['loss']) and metrics['loss'] > 0


@pytest.mark.parametrize('typ', ['STGCNPP', 'CTRGCN'])
@pytest.mark.parametrize('use_einsum', [True, False])
def test_onnx_export_with_parity(typ, use_einsum, tmp_path):
    from posecls.deploy.export_onnx import export_onnx
    model = recognizer(dict(type=typ, graph_cfg=dict(layout='coco'), base_channels=8), 4, in_channels=32)
    with torch.no_grad():  # calibrate BatchNorm statistics as training would (untrained CTR-GCN logits are ~1e2)
        for _ in range(30):
            model(torch.randn(4, 3, 16, 17, 1))
    model.eval()
    report = export_onnx(model, str(tmp_path / 'm.onnx'), input_shape=(3, 16, 17, 1), opset=12,
                         use_einsum=use_einsum)
    assert report['io_shapes'] == {'input': ['batch', 3, 16, 17, 1], 'fc_pred': ['batch', 4]}
    assert report['max_abs_diff']['random'] <= 1e-4
    has_einsum = 'Einsum' in report['node_types']
    assert has_einsum == (use_einsum and typ == 'STGCNPP')  # CTR-GCN's refined graphs are a plain MatMul


@pytest.mark.parametrize('use_einsum', [True, False])
def test_protogcn_onnx_export_with_parity(use_einsum, tmp_path):
    """ProtoGCN exports its features and classifier only (the prototype branch is training-only), einsum or matmul."""
    import onnx

    from posecls.deploy.export_onnx import export_onnx
    torch.manual_seed(0)
    model = MODELS.build(dict(
        type='ProtoGCNRecognizer', backbone=dict(type='ProtoGCN', graph_cfg=dict(layout='coco'), base_channels=8),
        cls_head=dict(type='ProtoGCNHead', num_classes=4, in_channels=32, num_nodes=17)))
    with torch.no_grad():  # a trained model's enhancement graphs and global-joint terms are non-zero
        for block in model.backbone.gcn:
            block.gcn.alpha.fill_(0.5)
            block.gcn.beta.fill_(0.3)
            block.tcn.add_coeff.normal_(0.0, 0.5)
        for _ in range(30):  # calibrate BatchNorm statistics as training would
            model(torch.randn(4, 3, 16, 17, 1))
        model.cls_head.fcn.weight.normal_(0.0, 1.0)  # logits of order 1, so that 1e-4 is a real tolerance
    model.eval()
    with torch.no_grad():
        assert float(model(torch.randn(2, 3, 16, 17, 1)).abs().max()) > 0.5
    report = export_onnx(model, str(tmp_path / 'm.onnx'), input_shape=(3, 16, 17, 1), opset=12,
                         use_einsum=use_einsum)
    assert report['io_shapes'] == {'input': ['batch', 3, 16, 17, 1], 'fc_pred': ['batch', 4]}
    assert report['max_abs_diff']['random'] <= 1e-4
    ops = report['node_types']
    assert ('Einsum' in ops) == use_einsum and ops.get('MatMul', 0) == (0 if use_einsum else 20)
    assert ops['Softmax'] == 10  # one correlation graph per block; no prototype softmax in the export
    data_dependent = {'NonZero', 'TopK', 'Where', 'ArgMax', 'ScatterND', 'ScatterElements', 'GatherND',
                      'GatherElements', 'Loop', 'If', 'Range'}
    assert not data_dependent & set(ops)
    graph = onnx.load(str(tmp_path / 'm.onnx')).graph
    producer = {out: node.op_type for node in graph.node for out in node.output}
    gathers = [producer.get(node.input[0]) for node in graph.node if node.op_type == 'Gather']
    assert set(gathers) <= {'Shape'}  # Gather only picks dimensions of the dynamic batch, never values


# sha256 of [(key, shape), ...] of the state_dict, computed before the backbones shared GCNBackbone: the common
# skeleton must not rename or reshape a single tensor (checkpoints of every backbone keep loading).
@pytest.mark.parametrize('backbone, digest', [
    (dict(type='STGCN'), '8786e3c6bb8769ea2a648cd7c6f45111b0c681c6e9b0290fe81817333d860e24'),
    (dict(type='STGCN', edge_importance_weighting=False, data_bn=False, base_channels=8),
     '7dedd5afcfa72de9431363c9cb717bdf60454f10c27cf18f291401a5a5d547c0'),
    (dict(type='STGCNPP', graph_cfg=dict(layout='coco')),
     'a5019142056c9bbebf0cdac188a5743d3dd4b8251b94822a12250b40fa689625'),
    (dict(type='STGCNPP', graph_cfg=dict(layout='coco'), in_channels=64, base_channels=64),
     'f5741ef134217d26f43bdc2a28f11d53f151749e2e00c411c75006c12c607b6d'),
    (dict(type='CTRGCN', graph_cfg=dict(layout='ntu-rgb+d'), data_bn_type='MVC', num_person=2),
     '8229daf1fea65f067de23715dd008c8c508e778c4d0c2dd115b1d9d98e5b1b96'),
    (dict(type='CTRGCN', graph_cfg=dict(layout='coco'), base_channels=8),
     'a223ed4eebb083c2a3be22f728bfb467906f13e63509ebc9b4bbece643409aa7'),
])
def test_state_dict_keys_and_shapes_are_pinned(backbone, digest):
    import hashlib
    import json
    sd = MODELS.build(backbone).state_dict()
    got = hashlib.sha256(json.dumps([(k, list(v.shape)) for k, v in sd.items()]).encode()).hexdigest()
    assert got == digest


@pytest.mark.parametrize('typ', ['STGCN', 'STGCNPP', 'CTRGCN'])
def test_backbones_share_one_skeleton(typ):
    from posecls.models.backbones.base import GCNBackbone
    model = MODELS.build(dict(type=typ, graph_cfg=dict(layout='coco'), base_channels=8))
    assert isinstance(model, GCNBackbone)
    assert len(model.blocks) == 10 and model.num_node == 17 and model.in_channels == 3
    with pytest.raises(ValueError, match=f"{typ}: input has V=18 joints but graph layout 'coco' has 17"):
        model(torch.randn(1, 3, 8, 18, 1))
