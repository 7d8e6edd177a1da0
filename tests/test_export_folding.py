"""Export folding: the smallest exact ONNX graph of every backbone (constants, BatchNorm, static reshapes), parity with
PyTorch at 1e-5, the caller's model untouched, fold=False / --no-fold, models without a folding rule."""
import collections
import os.path as osp

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnx import numpy_helper

from posecls.deploy import export_onnx
from posecls.deploy.folding import fold_for_export, foldable
from posecls.deploy.folding.ops import FoldedGraphConv
from posecls.models.backbones import STGCN
from posecls.registry import MODELS

from _deploy_fixtures import TINY_SHAPE, torch_logits

ATOL = 1e-5
#: ops of the exporter's shape arithmetic and of unfolded constants: none of them survives folding
SHAPE_OPS = {'Shape', 'Gather', 'Unsqueeze', 'Cast', 'Constant', 'Identity', 'Div'}


def _realistic(model: torch.nn.Module, shape) -> torch.nn.Module:
    """A model as training leaves it: learned edge weights / topology terms and calibrated BatchNorm statistics."""
    torch.manual_seed(1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if 'edge_importance' in name or name.endswith(('.alpha', '.beta', 'add_coeff')):
                p.uniform_(0.5, 1.5)
            elif name.endswith('.weight') and p.dim() == 1:  # BatchNorm affine
                p.uniform_(0.5, 1.5)
            elif name.endswith('.bias') and p.dim() == 1:
                p.uniform_(-0.3, 0.3)
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.momentum = None  # cumulative average of the calibration batches
        model.train()
        for _ in range(3):
            model(torch.randn((4, ) + tuple(shape)), mode='tensor')
    return model.eval()


def _build(backbone: dict, in_channels: int, shape, head: str = 'GCNHead', recognizer: str = 'SkeletonRecognizer'):
    torch.manual_seed(0)
    head_cfg = dict(type=head, num_classes=5, in_channels=in_channels)
    if head == 'ProtoGCNHead':
        head_cfg['num_nodes'] = shape[2]
    model = MODELS.build(dict(type=recognizer, backbone=backbone, cls_head=head_cfg))
    return _realistic(model, shape)


COCO = dict(layout='coco', strategy='spatial')
CASES = {
    # TAO's network: NVIDIA 34-joint layout, one person, joint-major data_bn over V * C
    'STGCN': (dict(type='STGCN', base_channels=4), 16, TINY_SHAPE),
    'STGCNPP': (dict(type='STGCNPP', graph_cfg=COCO, base_channels=6, tcn_dropout=0.1), 24, (3, 16, 17, 2)),
    'CTRGCN': (dict(type='CTRGCN', graph_cfg=COCO, base_channels=8, data_bn_type='MVC', num_person=2), 32,
               (3, 16, 17, 2)),
}


def _ops(path: str) -> collections.Counter:
    return collections.Counter(n.op_type for n in onnx.load(path).graph.node)


def _ort_diff(path: str, model: torch.nn.Module, shape, batch: int) -> float:
    sess = ort.InferenceSession(path, providers=['CPUExecutionProvider'])
    x = np.random.default_rng(batch).standard_normal((batch, ) + tuple(shape)).astype(np.float32)
    return float(np.abs(sess.run(['fc_pred'], {'input': x})[0] - torch_logits(model, x)).max())


@pytest.mark.parametrize('use_einsum', [True, False], ids=['einsum', 'matmul'])
@pytest.mark.parametrize('name', list(CASES))
def test_folded_graph_is_smaller_and_exact(name, use_einsum, tmp_path):
    backbone, channels, shape = CASES[name]
    model = _build(backbone, channels, shape)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    impls = {m.impl for m in model.modules() if hasattr(m, 'impl')}
    plain, folded = str(tmp_path / 'plain.onnx'), str(tmp_path / 'folded.onnx')
    rep0 = export_onnx(model, plain, input_shape=shape, use_einsum=use_einsum, fold=False, verify=False)
    rep = export_onnx(model, folded, input_shape=shape, use_einsum=use_einsum, atol=ATOL)
    assert rep0['fold'] == 'off' and rep['fold'] == 'folded' and rep['fold_note'] is None
    ops0, ops = _ops(plain), _ops(folded)
    assert rep['node_types'] == dict(sorted(ops.items())) and rep['num_nodes'] == sum(ops.values())
    assert sum(ops.values()) < sum(ops0.values()) and rep['num_initializers'] < rep0['num_initializers']
    assert rep['file_bytes'] < rep0['file_bytes']
    assert not SHAPE_OPS & set(ops), ops  # static reshapes, constants as initializers
    blocks = len(model.backbone.blocks)
    Ks = {m.K for m in fold_for_export(model, shape).modules() if isinstance(m, FoldedGraphConv)}  # partitions
    K = Ks.pop() if Ks else 0
    # the TCN branches (ST-GCN++, CTR-GCN); the matmul form's K aggregated copies of the input (not CTR-GCN's)
    assert ops.get('Concat', 0) == (0 if name == 'STGCN' else blocks) + (0 if use_einsum or K == 0 else blocks)
    # BatchNorms left: ST-GCN none; ST-GCN++ the one after each MSTCN concatenation (its max-pool branch), CTR-GCN
    # the one after each max-pool (a negative scale does not commute with max)
    assert ops['BatchNormalization'] == {'STGCN': 0, 'STGCNPP': blocks, 'CTRGCN': blocks}[name]
    assert ops0['BatchNormalization'] > ops['BatchNormalization']
    assert ops['Mul'] == 1  # the input BatchNorm's scale (its shift is in the first layer or an Add)
    assert ops['Gemm'] == 1 and ops['ReduceMean'] == (1 if shape[3] == 1 else 2) + (blocks if name == 'CTRGCN' else 0)
    if name != 'CTRGCN':  # CTR-GCN's per-sample refined graphs are a MatMul in both forms
        assert ops.get('Einsum', 0) == (blocks if use_einsum else 0)
        assert ops.get('MatMul', 0) == (0 if use_einsum else K * blocks)
    assert 0 <= rep['max_abs_diff']['random'] <= ATOL
    for batch in (1, 3):
        assert _ort_diff(folded, model, shape, batch) <= ATOL
    # the caller's model is untouched: weights, buffers, graph-convolution form, eval mode
    after = model.state_dict()
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)
    assert {m.impl for m in model.modules() if hasattr(m, 'impl')} == impls and not model.training
    meta = {p.key: p.value for p in onnx.load(folded).metadata_props}
    assert meta['posecls.fold'] == 'folded'


@pytest.mark.parametrize('use_einsum', [True, False], ids=['einsum', 'matmul'])
def test_stgcn_adjacency_times_edge_importance_is_one_constant_per_block(use_einsum, tmp_path):
    backbone, channels, shape = CASES['STGCN']
    model = _build(backbone, channels, shape)
    path = str(tmp_path / 'm.onnx')
    export_onnx(model, path, input_shape=shape, use_einsum=use_einsum, atol=ATOL)
    graph = onnx.load(path).graph
    inits = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    assert not [n for n in inits if 'edge_importance' in n]
    op = 'Einsum' if use_einsum else 'MatMul'
    constants = [inits[n.input[1]] for n in graph.node if n.op_type == op]
    K = model.backbone.A.shape[0]
    if not use_einsum:  # the matmul form aggregates the input first, one (V, V) constant per partition
        constants = [np.stack(constants[i:i + K]) for i in range(0, len(constants), K)]
    assert len(constants) == len(model.backbone.edge_importance)
    for i, ei in enumerate(model.backbone.edge_importance):
        assert np.array_equal(constants[i], (model.backbone.A * ei).detach().numpy())
    # the BatchNorm after each aggregation is in the 1x1 weights: the first block's constant carries the
    # input BatchNorm's shift through the graph, one (C, 1, V) add; the other blocks add one (C, 1, 1) shift
    # (einsum) or their bias carried through the aggregation, (C, 1, V) (matmul)
    adds = [inits[n.input[1]].shape for n in graph.node if n.op_type == 'Add' and n.input[1] in inits]
    per_channel = {(4, 1, 1), (8, 1, 1), (16, 1, 1)} if use_einsum else {(4, 1, 34), (8, 1, 34), (16, 1, 34)}
    assert adds[0] == (4, 1, 34) and set(adds[1:]) == per_channel


def test_matmul_form_aggregates_first_with_one_convolution_per_block(tmp_path):
    """The folded matmul form: K MatMuls of x with (V, V) constants -> Concat -> one 1x1 Conv over K * C_in."""
    backbone, channels, shape = CASES['STGCN']
    model = _build(backbone, channels, shape)
    path = str(tmp_path / 'm.onnx')
    rep = export_onnx(model, path, input_shape=shape, use_einsum=False, atol=ATOL)
    graph = onnx.load(path).graph
    inits = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    producers = {o: n for n in graph.node for o in n.output}
    K, V = model.backbone.A.shape[0], model.backbone.A.shape[2]
    convs = [n for n in graph.node if n.op_type == 'Conv' and n.input[1] in inits]
    # every block's 1x1 convolution after the aggregation reads the K * C_in channels of a Concat of K MatMuls
    gcn_convs = [n for n in convs if producers.get(n.input[0]) is not None
                 and producers[n.input[0]].op_type == 'Concat']
    assert len(gcn_convs) == len(model.backbone.blocks)
    for i, (conv, block) in enumerate(zip(gcn_convs, model.backbone.blocks)):
        c_in = block.gcn.conv.in_channels
        assert inits[conv.input[1]].shape == (block.gcn.conv.out_channels // K, K * c_in, 1, 1)
        matmuls = [producers[t] for t in producers[conv.input[0]].input]
        assert [m.op_type for m in matmuls] == ['MatMul'] * K
        # the constants are the partitions of A * edge_importance, in order
        A = (model.backbone.A * model.backbone.edge_importance[i]).detach().numpy()
        for k, m in enumerate(matmuls):
            assert inits[m.input[1]].shape == (V, V)
            np.testing.assert_allclose(inits[m.input[1]], A[k], rtol=1e-6)
    assert 'Transpose' not in rep['node_types'] and 'Einsum' not in rep['node_types']
    assert rep['max_abs_diff']['random'] <= ATOL


@pytest.mark.parametrize('use_einsum', [True, False], ids=['einsum', 'matmul'])
def test_protogcn_is_graph_optimized_not_folded(use_einsum, tmp_path):
    shape = (3, 16, 17, 2)
    model = _build(dict(type='ProtoGCN', graph_cfg=COCO, base_channels=8, num_prototype=4), 32, shape,
                   head='ProtoGCNHead', recognizer='ProtoGCNRecognizer')
    assert 'backbone ProtoGCN has no folding rule' in foldable(model)
    plain, path = str(tmp_path / 'plain.onnx'), str(tmp_path / 'm.onnx')
    rep0 = export_onnx(model, plain, input_shape=shape, use_einsum=use_einsum, fold=False, verify=False)
    rep = export_onnx(model, path, input_shape=shape, use_einsum=use_einsum, atol=ATOL)
    assert rep['fold'] == 'graph' and 'ProtoGCN has no folding rule' in rep['fold_note']
    ops = _ops(path)
    assert rep['num_nodes'] < rep0['num_nodes'] and not {'Constant', 'Identity'} & set(ops)
    assert ops['Softmax'] == rep0['node_types']['Softmax'] == 10  # the same network, only constants folded
    assert rep['max_abs_diff']['random'] <= ATOL and _ort_diff(path, model, shape, 2) <= ATOL


class SubclassedSTGCN(STGCN):
    """A user backbone derived from ST-GCN: its forward pass may differ, so it has no folding rule."""

    def forward_block(self, index, block, x):
        return super().forward_block(index, block, x) * 0.5


@pytest.mark.parametrize('variant', ['two_persons', 'no_data_bn_no_edge_importance', 'subclass'])
def test_other_configurations_export_exactly(variant, tmp_path):
    shape = TINY_SHAPE
    if variant == 'subclass':
        torch.manual_seed(0)
        model = MODELS.build(dict(type='SkeletonRecognizer', backbone=dict(type='STGCN', base_channels=4),
                                  cls_head=dict(type='GCNHead', num_classes=5, in_channels=16)))
        model.backbone.__class__ = SubclassedSTGCN
        model = _realistic(model, shape)
    elif variant == 'two_persons':
        shape = shape[:3] + (2, )
        model = _build(dict(type='STGCN', base_channels=4), 16, shape)
    else:
        model = _build(dict(type='STGCN', base_channels=4, data_bn=False, edge_importance_weighting=False), 16, shape)
    path = str(tmp_path / 'm.onnx')
    rep = export_onnx(model, path, input_shape=shape, atol=ATOL)
    assert rep['fold'] == ('graph' if variant == 'subclass' else 'folded')
    if variant == 'subclass':
        assert rep['fold_note'] == 'backbone SubclassedSTGCN has no folding rule (folded: STGCN, STGCNPP, CTRGCN)'
    else:
        assert 'BatchNormalization' not in rep['node_types']
        assert rep['node_types'].get('Mul', 0) == (0 if variant.startswith('no_data_bn') else 1)
    assert rep['max_abs_diff']['random'] <= ATOL and _ort_diff(path, model, shape, 2) <= ATOL


def test_training_mode_is_refused_and_the_model_left_alone(tmp_path):
    backbone, channels, shape = CASES['STGCN']
    model = _build(backbone, channels, shape).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(ValueError, match='eval mode'):
        export_onnx(model, str(tmp_path / 'm.onnx'), input_shape=shape)
    with pytest.raises(ValueError, match='eval mode'):
        fold_for_export(model, shape)
    assert model.training and all(m.training for m in model.modules())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert not osp.exists(tmp_path / 'm.onnx')
    model.eval()  # the same model exports once in eval mode
    assert export_onnx(model, str(tmp_path / 'm.onnx'), input_shape=shape, atol=ATOL)['fold'] == 'folded'


def test_opset18_dynamo_exports_the_folded_graph(tmp_path):
    backbone, channels, shape = CASES['STGCN']
    model = _build(backbone, channels, shape)
    path = str(tmp_path / 'm.onnx')
    rep = export_onnx(model, path, input_shape=shape, opset=18, atol=ATOL)
    assert rep['exporter'] == 'dynamo' and rep['fold'] == 'folded'
    assert 'BatchNormalization' not in rep['node_types'] and rep['node_types']['Einsum'] == 10
    assert _ort_diff(path, model, shape, 2) <= ATOL


def test_export_tool_no_fold_option(tiny_deploy, tmp_path, capsys):
    from posecls.tools.export_onnx import main
    common = [tiny_deploy['cfg_file'], tiny_deploy['ckpt'], '--input-shape', *map(str, TINY_SHAPE), '--atol', '1e-5']
    rep = main(common + ['--out', str(tmp_path / 'folded.onnx')])
    assert 'graph: folded (A * edge_importance constants' in capsys.readouterr().out
    raw = main(common + ['--out', str(tmp_path / 'raw.onnx'), '--no-fold'])
    assert 'graph: as exported, not folded (--no-fold)' in capsys.readouterr().out
    assert rep['fold'] == 'folded' and raw['fold'] == 'off'
    assert 'BatchNormalization' not in rep['node_types'] and raw['node_types']['BatchNormalization'] == 11
    assert rep['num_nodes'] < raw['num_nodes']
    assert rep['max_abs_diff']['real'] <= 1e-5 and raw['max_abs_diff']['real'] <= 1e-5
