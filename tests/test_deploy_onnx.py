"""ONNX export: TAO names/shapes, opset per exporter, Einsum on/off, dynamic batch, parity, overwrite rules."""
import importlib
import json
import os
import os.path as osp

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from posecls.deploy import default_input_shape, export_onnx

from _deploy_fixtures import TINY_SHAPE, torch_logits


def _ops(path):
    return [n.op_type for n in onnx.load(path).graph.node]


def _io(path):
    g = onnx.load(path).graph
    dims = lambda v: [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]  # noqa: E731
    return {v.name: dims(v) for v in list(g.input) + list(g.output)}


def _ort_vs_torch(path, model, batch):
    sess = ort.InferenceSession(path, providers=['CPUExecutionProvider'])
    x = np.random.default_rng(batch).standard_normal((batch, ) + TINY_SHAPE).astype(np.float32)
    got = sess.run(['fc_pred'], {'input': x})[0]
    return got, torch_logits(model, x)


def test_opset12_export_matches_tao_layout(tiny_deploy):
    path, rep, model = tiny_deploy['onnx'], tiny_deploy['report'], tiny_deploy['model']
    proto = onnx.load(path)
    assert [o.version for o in proto.opset_import if o.domain in ('', 'ai.onnx')] == [12]
    assert rep['opset'] == 12 and rep['exporter'] == 'torchscript'
    assert _io(path) == {'input': ['batch', 3, 32, 34, 1], 'fc_pred': ['batch', 6]}
    assert _ops(path).count('Einsum') == 10 and rep['node_types']['Einsum'] == 10
    assert 'MatMul' not in rep['node_types']
    for batch in (1, 4):
        got, ref = _ort_vs_torch(path, model, batch)
        assert got.shape == (batch, 6)
        assert np.abs(got - ref).max() <= 1e-4
    assert 0 <= rep['max_abs_diff']['random'] <= 1e-4
    meta = {p.key: p.value for p in proto.metadata_props}
    assert json.loads(meta['posecls.classes']) == tiny_deploy['classes']


def test_opset18_uses_dynamo_exporter(tiny_deploy, tmp_path):
    path = str(tmp_path / 'o18.onnx')
    rep = export_onnx(tiny_deploy['model'], path, input_shape=TINY_SHAPE, opset=18)
    assert rep['exporter'] == 'dynamo' and rep['opset'] == 18
    assert [o.version for o in onnx.load(path).opset_import if o.domain in ('', 'ai.onnx')] == [18]
    assert _io(path)['input'][1:] == [3, 32, 34, 1] and isinstance(_io(path)['input'][0], str)
    got, ref = _ort_vs_torch(path, tiny_deploy['model'], 4)
    assert np.abs(got - ref).max() <= 1e-4


def test_default_shape_comes_from_layout_and_static_batch(tiny_deploy, tmp_path):
    model = tiny_deploy['model']
    assert default_input_shape(model) == (3, 300, 34, 1)
    path = str(tmp_path / 'static.onnx')
    rep = export_onnx(model, path, dynamic_batch=False)
    assert _io(path) == {'input': [1, 3, 300, 34, 1], 'fc_pred': [1, 6]}
    assert rep['input_shape'] == [3, 300, 34, 1]


def test_refuses_to_overwrite_unless_forced(tiny_deploy, tmp_path):
    path = str(tmp_path / 'exists.onnx')
    with open(path, 'wb') as f:
        f.write(b'old')
    with pytest.raises(FileExistsError, match='exists.onnx exists'):
        export_onnx(tiny_deploy['model'], path, input_shape=TINY_SHAPE, verify=False)
    assert open(path, 'rb').read() == b'old'
    export_onnx(tiny_deploy['model'], path, input_shape=TINY_SHAPE, force=True, verify=False)
    onnx.checker.check_model(onnx.load(path))


def test_parity_failure_raises_and_writes_nothing(tiny_deploy, tmp_path, monkeypatch):
    from posecls.deploy.backends import Backend
    verify = importlib.import_module('posecls.deploy.verify')
    real = verify.raw_logits
    monkeypatch.setattr(verify, 'raw_logits',
                        lambda model, x, bs=16: real(model, x, bs) + (1e-3 if isinstance(model, Backend) else 0.0))
    path = str(tmp_path / 'bad.onnx')
    with pytest.raises(ValueError, match=r'differs from PyTorch by .* > atol=0.0001.*was not written'):
        export_onnx(tiny_deploy['model'], path, input_shape=TINY_SHAPE)
    assert not os.listdir(tmp_path)


def test_bad_arguments_are_named(tiny_deploy, tmp_path):
    model = tiny_deploy['model']
    with pytest.raises(ValueError, match='opset must be an int in \\[12, 23\\]'):
        export_onnx(model, str(tmp_path / 'a.onnx'), opset=11)
    with pytest.raises(ValueError, match=r'\(C, T, V, M\) = \(3, 32, 34, 1\)'):
        export_onnx(model, str(tmp_path / 'a.onnx'), input_shape=TINY_SHAPE,
                    verify_data=np.zeros((2, 3, 300, 34, 1), np.float32))
    model.train()
    try:
        with pytest.raises(ValueError, match='eval mode'):
            export_onnx(model, str(tmp_path / 'a.onnx'), input_shape=TINY_SHAPE)
    finally:
        model.eval()
    assert not osp.exists(tmp_path / 'a.onnx')


def test_export_tool_verifies_on_the_config_test_data(tiny_deploy, tmp_path, capsys):
    from posecls.tools.export_onnx import main
    out, rep_file = str(tmp_path / 'tool.onnx'), str(tmp_path / 'report.json')
    impls = {m.impl for m in tiny_deploy['model'].modules() if hasattr(m, 'impl')}
    assert impls == {'auto'}  # STGCN's default
    report = main([tiny_deploy['cfg_file'], tiny_deploy['ckpt'], '--out', out, '--input-shape', '3', '32', '34', '1',
                   '--no-einsum', '--report', rep_file])
    printed = capsys.readouterr().out
    assert 'opset 12 (torchscript exporter)' in printed and 'Einsum: no (matmul form)' in printed
    ops = _ops(out)
    # 10 blocks x K = 3 partitions: one MatMul with a (V, V) constant each, concatenated per block
    assert 'Einsum' not in ops and ops.count('MatMul') == 30 and ops.count('Concat') == 10
    # the caller's model keeps its form after a matmul export
    assert {m.impl for m in tiny_deploy['model'].modules() if hasattr(m, 'impl')} == impls
    assert report['verify_data'] == tiny_deploy['data']
    assert report['num_real_samples'] == 6 and report['max_abs_diff']['real'] <= 1e-4
    assert json.load(open(rep_file))['path'] == osp.abspath(out)
    # weights come from the checkpoint: same logits as the fixture model, at any batch size
    for batch in (1, 3):
        got, ref = _ort_vs_torch(out, tiny_deploy['model'], batch)
        assert np.abs(got - ref).max() <= 1e-4
    with pytest.raises(FileExistsError, match='--force'):
        main([tiny_deploy['cfg_file'], tiny_deploy['ckpt'], '--out', out])
