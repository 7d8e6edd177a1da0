"""Backends: onnxruntime through init_backend / inference_recognizer / tools; TensorRT errors without a GPU."""
import importlib.util
import json
import os.path as osp

import numpy as np
import pytest
import torch

from posecls.apis import inference_recognizer
from posecls.deploy import Backend, build_trt_engine, check_parity, init_backend

from _deploy_fixtures import TINY_SHAPE, torch_logits

HAS_TRT = importlib.util.find_spec('tensorrt') is not None
HAS_GPU_TRT = HAS_TRT and torch.cuda.is_available()


def test_onnx_backend_matches_pytorch(tiny_deploy):
    backend = init_backend(tiny_deploy['onnx'])
    assert isinstance(backend, Backend)
    assert backend.input_shape == TINY_SHAPE
    assert backend.dataset_meta['classes'] == tiny_deploy['classes']
    x = tiny_deploy['array']
    logits = backend.infer(x)
    assert logits.shape == (len(x), 6) and logits.dtype == np.float32
    np.testing.assert_allclose(logits, torch_logits(tiny_deploy['model'], x), atol=1e-4)
    parity = check_parity(tiny_deploy['model'], backend, x)
    assert parity['passed'] and parity['top1_agreement'] == {'random': 1.0, 'real': 1.0}


def test_inference_recognizer_accepts_a_backend(tiny_deploy):
    backend = init_backend(tiny_deploy['onnx'], cfg=tiny_deploy['cfg_file'])
    ref = inference_recognizer(tiny_deploy['model'], tiny_deploy['data'], batch_size=4)
    got = inference_recognizer(backend, tiny_deploy['data'], batch_size=4)
    np.testing.assert_allclose(got, ref, atol=1e-4)
    probs = inference_recognizer(backend, tiny_deploy['array'][0], return_probs=True)
    assert probs.shape == (1, 6) and abs(float(probs.sum()) - 1.0) < 1e-5


def test_backend_rejects_bad_input_and_files(tiny_deploy, tmp_path):
    backend = init_backend(tiny_deploy['onnx'])
    with pytest.raises(ValueError, match=r'must be \(3, 32, 34, 1\).*got \(3, 300, 34, 1\)'):
        backend.infer(np.zeros((1, 3, 300, 34, 1), np.float32))
    with pytest.raises(ValueError, match=r'expects input \(N, C, T, V, M\)'):
        backend.infer(np.zeros(TINY_SHAPE, np.float32))
    with pytest.raises(FileNotFoundError, match='missing.onnx'):
        init_backend(str(tmp_path / 'missing.onnx'))
    other = tmp_path / 'model.bin'
    other.write_bytes(b'x')
    with pytest.raises(ValueError, match='unknown model type'):
        init_backend(str(other))
    broken = tmp_path / 'broken.onnx'
    broken.write_bytes(b'not onnx')
    with pytest.raises(ValueError, match='onnxruntime cannot load'):
        init_backend(str(broken))


def test_inference_tool_with_onnx_equals_checkpoint(tiny_deploy, tmp_path):
    from posecls.tools.inference import main
    a, b = str(tmp_path / 'pth.txt'), str(tmp_path / 'onnx.txt')
    names_pth = main([tiny_deploy['cfg_file'], tiny_deploy['ckpt'], tiny_deploy['data'], '--out', a])
    names_onnx = main([tiny_deploy['cfg_file'], tiny_deploy['onnx'], tiny_deploy['data'], '--out', b,
                       '--scores-out', str(tmp_path / 'scores.txt')])
    assert names_onnx == names_pth and open(a).read() == open(b).read()
    assert set(names_onnx) <= set(tiny_deploy['classes'])
    assert open(tmp_path / 'scores.txt').read().startswith('0, ')


def test_test_tool_with_onnx_equals_checkpoint(tiny_deploy, tmp_path, capsys):
    from posecls.tools.test import main
    ref = main([tiny_deploy['cfg_file'], tiny_deploy['ckpt'], '--work-dir', str(tmp_path / 'pth')])
    got = main([tiny_deploy['cfg_file'], tiny_deploy['onnx'], '--work-dir', str(tmp_path / 'onnx'),
                '--dump', str(tmp_path / 'pred.json')])
    assert 'Total accuracy' in capsys.readouterr().out
    assert got['confusion_matrix'] == ref['confusion_matrix']
    for key in ('acc/top1', 'acc/top5', 'acc/mean1'):
        assert got[key] == pytest.approx(ref[key])
    assert got['loss'] == pytest.approx(ref['loss'], abs=1e-4)
    metrics = json.load(open(got['report']['json']))
    assert metrics['confusion_matrix'] == ref['confusion_matrix']
    assert osp.isfile(got['report']['png']) and osp.isfile(got['report']['csv'])
    dumped = json.load(open(tmp_path / 'pred.json'))
    assert len(dumped) == 6 and {'pred_logits', 'gt_label', 'sample_name'} <= set(dumped[0])


def test_trt_engine_arguments_are_checked_before_tensorrt(tiny_deploy, tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.onnx'):
        build_trt_engine(str(tmp_path / 'nope.onnx'), str(tmp_path / 'e.engine'))
    with pytest.raises(ValueError, match='min <= opt <= max'):
        build_trt_engine(tiny_deploy['onnx'], str(tmp_path / 'e.engine'), min_batch=8, opt_batch=4)
    existing = tmp_path / 'old.engine'
    existing.write_bytes(b'old')
    with pytest.raises(FileExistsError, match='--force'):
        build_trt_engine(tiny_deploy['onnx'], str(existing))


@pytest.mark.skipif(HAS_GPU_TRT, reason='checks the message shown without TensorRT or a GPU')
def test_tensorrt_fails_clearly_without_tensorrt_or_gpu(tiny_deploy, tmp_path):
    with pytest.raises(RuntimeError, match='(TensorRT is not installed|needs a CUDA GPU|could not create a builder)'):
        build_trt_engine(tiny_deploy['onnx'], str(tmp_path / 'e.engine'))
    assert not osp.exists(tmp_path / 'e.engine')
    fake = tmp_path / 'fake.engine'
    fake.write_bytes(b'\0' * 16)
    with pytest.raises(RuntimeError, match='(TensorRT is not installed|needs a CUDA GPU)'):
        init_backend(str(fake))


@pytest.mark.skipif(not HAS_GPU_TRT, reason='needs tensorrt and a CUDA GPU')
@pytest.mark.parametrize('fp16', [False, True])
def test_tensorrt_engine_build_and_parity(tiny_deploy, tmp_path, fp16):
    from posecls.deploy.verify import FP16_ATOL, FP32_ATOL
    engine = str(tmp_path / 'tiny.engine')
    settings = build_trt_engine(tiny_deploy['onnx'], engine, fp16=fp16, max_batch=8,
                                timing_cache=str(tmp_path / 'cache.bin'))
    assert osp.isfile(engine) and osp.isfile(tmp_path / 'cache.bin')
    assert json.load(open(engine + '.json'))['profile']['max'] == [8, 3, 32, 34, 1]
    assert settings['precision'] == ('fp16' if fp16 else 'fp32')
    backend = init_backend(engine, device='cuda')
    assert backend.max_batch == 8 and backend.dataset_meta['classes'] == tiny_deploy['classes']
    model = tiny_deploy['model'].cuda()
    try:
        parity = check_parity(model, backend, np.concatenate([tiny_deploy['array']] * 2),
                              atol=FP16_ATOL if fp16 else FP32_ATOL)
    finally:
        tiny_deploy['model'].cpu()
    assert parity['passed'], parity
