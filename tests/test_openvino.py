"""OpenVINO backend (f32 / bf16 / int8, .onnx and IR .xml) through every entry point, and INT8 quantization.

Real OpenVINO and NNCF runs on the tiny 4-channel ST-GCN (T=32). bf16 tolerance: logits within
:data:`BF16_ATOL` of PyTorch fp32 (bfloat16 keeps 8 mantissa bits; the tiny model differs by ~2e-3).
"""
import json
import os.path as osp
import re

import numpy as np
import pytest

from posecls.apis import inference_recognizer, init_model
from posecls.deploy import init_backend
from posecls.deploy.backends import BACKENDS, PRECISIONS
from posecls.deploy.backends.openvino_backend import OpenVINOBackend, cpu_supports_bf16
from posecls.utils.checkpoint import ClassCountError
from posecls.utils.input_checks import NonFiniteInputError

from _deploy_fixtures import TINY_SHAPE, torch_logits
from conftest import REPO, TINY_T

ov = pytest.importorskip('openvino')
BF16_ATOL = 2e-2
needs_bf16 = pytest.mark.skipif(not cpu_supports_bf16(), reason='this CPU has no native bf16 in OpenVINO')


@pytest.fixture(scope='module')
def ir_file(tiny_deploy, tmp_path_factory):
    """The tiny export converted to an OpenVINO IR (.xml + .bin) with OpenVINO's own converter."""
    path = str(tmp_path_factory.mktemp('ir') / 'tiny.xml')
    ov.save_model(ov.convert_model(tiny_deploy['onnx']), path, compress_to_fp16=False)
    return path


def test_f32_equals_pytorch_and_the_ir_opens(tiny_deploy, ir_file):
    x = tiny_deploy['array']
    ref = torch_logits(tiny_deploy['model'], x)
    for path, kwargs in ((tiny_deploy['onnx'], dict(backend='openvino')), (ir_file, {}),
                         (ir_file, dict(precision='f32'))):
        backend = init_backend(path, **kwargs)
        assert isinstance(backend, OpenVINOBackend) and backend.precision == 'f32'
        assert backend.compiled.get_property('INFERENCE_PRECISION_HINT') == ov.Type.f32
        assert backend.input_shape == TINY_SHAPE and backend.num_classes == 6 and backend.max_batch is None
        assert backend.dataset_meta['classes'] == tiny_deploy['classes']  # kept from the export's metadata
        got = backend.infer(x)
        assert got.shape == (len(x), 6) and got.dtype == np.float32
        np.testing.assert_allclose(got, ref, atol=1e-4, rtol=0)
    # the inference loop with the config's pipeline gives what the checkpoint gives
    model = init_model(tiny_deploy['cfg_file'], ir_file)
    np.testing.assert_allclose(inference_recognizer(model, tiny_deploy['data'], batch_size=4),
                               inference_recognizer(tiny_deploy['model'], tiny_deploy['data'], batch_size=4), atol=1e-4)


@needs_bf16
def test_bf16_is_close_to_pytorch(tiny_deploy):
    backend = init_backend(tiny_deploy['onnx'], backend='openvino', precision='bf16')
    assert backend.precision == 'bf16'
    assert backend.compiled.get_property('INFERENCE_PRECISION_HINT') == ov.Type.bf16
    x = tiny_deploy['array']
    got, ref = backend.infer(x), torch_logits(tiny_deploy['model'], x)
    diff = float(np.abs(got - ref).max())
    assert 0 < diff <= BF16_ATOL  # really bf16 (not f32), and close


def test_checks_and_errors(tiny_deploy, ir_file, tmp_path, monkeypatch):
    from posecls.deploy.backends import openvino_backend
    onnx = tiny_deploy['onnx']
    backend = init_backend(onnx, backend='openvino')
    with pytest.raises(ValueError, match=r'must be \(3, 32, 34, 1\).*got \(3, 300, 34, 1\)'):
        backend.infer(np.zeros((1, 3, 300, 34, 1), np.float32))
    with pytest.raises(ValueError, match=r'expects input \(N, C, T, V, M\)'):
        backend.infer(np.zeros(TINY_SHAPE, np.float32))
    bad = np.zeros((2, ) + TINY_SHAPE, np.float32)
    bad[1, 0, 3] = np.nan
    with pytest.raises(NonFiniteInputError, match='sample 1'):
        backend.infer(bad)
    cases = [
        (dict(backend='openvino', precision='fp16'), ValueError, r"precision must be one of \('f32', 'bf16', 'int8'\)"),
        (dict(backend='openvino', precision='int8'), ValueError, 'int8 needs an INT8-quantized model'),
        (dict(precision='bf16'), ValueError, "bf16 is not offered by onnxruntime.*backend='openvino'"),
        (dict(backend='tensorrt'), ValueError, r"backend tensorrt opens \('.engine'"),
        (dict(backend='ov'), ValueError, 'backend must be one of'),
        (dict(backend='openvino', device='cuda'), ValueError, "runs on the CPU.*got device 'cuda'"),
    ]
    for kwargs, exc, msg in cases:
        with pytest.raises(exc, match=msg):
            init_backend(onnx, **kwargs)
    with pytest.raises(FileNotFoundError, match='missing.xml'):
        init_backend(str(tmp_path / 'missing.xml'))
    lone = tmp_path / 'lone.xml'
    lone.write_text(open(ir_file).read())
    with pytest.raises(FileNotFoundError, match=r'weights file .*lone.bin is missing'):
        init_backend(str(lone))
    broken = tmp_path / 'broken.xml'
    broken.write_text('<net>')
    (tmp_path / 'broken.bin').write_bytes(b'')
    with pytest.raises(ValueError, match='OpenVINO cannot read'):
        init_backend(str(broken))
    with pytest.raises(ClassCountError, match='predicts 6 classes but the config has 5'):
        init_model(tiny_deploy['cfg_file'], ir_file, cfg_options={'model.cls_head.num_classes': 5})
    # a CPU without bf16: refused with OpenVINO's own capability list, not silently run in f32
    monkeypatch.setattr(openvino_backend, 'cpu_supports_bf16', lambda core=None: False)
    with pytest.raises(ValueError, match=r"bf16 needs a CPU with bf16 instructions.*OpenVINO reports \['"):
        init_backend(onnx, backend='openvino', precision='bf16')


def test_test_and_inference_tools_with_openvino(tiny_deploy, ir_file, tmp_path):
    from posecls.tools.inference import main as inference_main
    from posecls.tools.test import main as test_main
    ref = test_main([tiny_deploy['cfg_file'], tiny_deploy['ckpt'], '--work-dir', str(tmp_path / 'pth')])
    got = test_main([tiny_deploy['cfg_file'], tiny_deploy['onnx'], '--backend', 'openvino', '--precision', 'f32',
                     '--work-dir', str(tmp_path / 'ov')])
    assert got['confusion_matrix'] == ref['confusion_matrix']
    for key in ('acc/top1', 'acc/top5', 'acc/mean1'):
        assert got[key] == pytest.approx(ref[key])
    assert got['loss'] == pytest.approx(ref['loss'], abs=1e-4)
    names_pth = inference_main([tiny_deploy['cfg_file'], tiny_deploy['ckpt'], tiny_deploy['data'],
                                '--out', str(tmp_path / 'a.txt')])
    names_ir = inference_main([tiny_deploy['cfg_file'], ir_file, tiny_deploy['data'], '--out',
                               str(tmp_path / 'b.txt'), '--precision', 'f32'])
    assert names_ir == names_pth
    with pytest.raises(ValueError, match='--backend/--precision choose the runtime of an exported model.*PyTorch'):
        test_main([tiny_deploy['cfg_file'], tiny_deploy['ckpt'], '--backend', 'openvino'])
    with pytest.raises(ValueError, match="--backend/--precision: precision must be one of"):
        inference_main([tiny_deploy['cfg_file'], tiny_deploy['onnx'], tiny_deploy['data'], '--out',
                        str(tmp_path / 'c.txt'), '--precision', 'half'])
    assert not (tmp_path / 'c.txt').exists()


def test_tao_evaluate_and_inference_keys(tiny_deploy, tiny_data_dir, tmp_path, capsys):
    from posecls.tao.cli import main
    from posecls.tao.schema import SPEC
    # the spec's allowed values are the backends' (kept literal there so `posecls --help` imports no runtime)
    assert SPEC.fields['evaluate'].fields['backend'].choices == list(BACKENDS)
    assert SPEC.fields['inference'].fields['precision'].choices == list(PRECISIONS)
    spec = osp.join(REPO, 'specs', 'experiment_nvidia.yaml')
    d = tiny_data_dir
    common = [f'results_dir={tmp_path}', 'model.base_channels=4', 'dataset.batch_size=4', 'dataset.num_workers=0',
              f'evaluate.test_dataset.data_path={d}/val_data.npy',
              f'evaluate.test_dataset.label_path={d}/val_label.pkl',
              f'inference.test_dataset.data_path={d}/val_data.npy', 'evaluate.checkpoint=null',
              'inference.checkpoint=null']
    assert main(['evaluate', '-e', spec, *common, f"evaluate.trt_engine={tiny_deploy['onnx']}"]) == 0
    ref = json.load(open(tmp_path / 'evaluate' / 'metrics.json'))
    assert main(['evaluate', '-e', spec, *common, f"evaluate.trt_engine={tiny_deploy['onnx']}",
                 'evaluate.backend=openvino', 'evaluate.precision=f32']) == 0
    got = json.load(open(tmp_path / 'evaluate' / 'metrics.json'))
    assert got['confusion_matrix'] == ref['confusion_matrix'] and got['total_accuracy'] == ref['total_accuracy']
    names = {}
    for extra in ([], ['inference.backend=openvino']):
        assert main(['inference', '-e', spec, *common, f"inference.trt_engine={tiny_deploy['onnx']}", *extra]) == 0
        names[len(extra)] = open(tmp_path / 'inference' / 'inference.txt').read().split()
    assert names[1] == names[0] and len(names[0]) == 6
    capsys.readouterr()
    bad = [(['evaluate.backend=openvino', f"evaluate.checkpoint={tiny_deploy['ckpt']}"], 'runs in PyTorch'),
           (['evaluate.precision=fp16', f"evaluate.trt_engine={tiny_deploy['onnx']}"], 'evaluate.precision'),
           (['evaluate.precision=bf16', f"evaluate.trt_engine={tiny_deploy['onnx']}"],
            "evaluate.backend/evaluate.precision: .*bf16 is not offered by onnxruntime")]
    for extra, msg in bad:
        assert main(['evaluate', '-e', spec, *common, *extra]) != 0
        err = capsys.readouterr().err
        assert re.search(msg, err), (msg, err)


def test_stream_with_openvino_equals_onnxruntime(tiny_deploy, tmp_path):
    from posecls.datasets.deepstream import generate_deepstream_json
    from posecls.tools.stream import main
    src = str(tmp_path / 'demo.json')
    generate_deepstream_json(src, num_frames=60, num_tracks=2, seed=1)
    args = [tiny_deploy['cfg_file'], tiny_deploy['onnx'], '--source', src, '--sequence-length', '20',
            '--sequence-length-min', '5', '--stride', '7']
    main(args + ['--out', str(tmp_path / 'ort.jsonl')])
    summary = main(args + ['--out', str(tmp_path / 'ov.jsonl'), '--backend', 'openvino', '--precision', 'f32'])
    ort = [json.loads(line) for line in open(tmp_path / 'ort.jsonl')]
    got = [json.loads(line) for line in open(tmp_path / 'ov.jsonl')]
    assert summary['emissions'] == len(got) == len(ort) > 5
    assert [r['action'] for r in got] == [r['action'] for r in ort]
    np.testing.assert_allclose([r['logits'] for r in got], [r['logits'] for r in ort], atol=1e-4)


def test_triton_repository_for_openvino(tiny_deploy, ir_file, tmp_path):
    pytest.importorskip('tritonclient')
    from posecls.deploy.triton.triton_repo import write_triton_repository
    res = write_triton_repository(ir_file, str(tmp_path / 'repo'), precision='f32')
    assert res['platform'] == 'python'
    vdir = osp.join(res['model_dir'], '1')
    assert osp.isfile(osp.join(vdir, 'model.xml')) and osp.isfile(osp.join(vdir, 'model.bin'))
    assert 'key: "precision"' in res['config'] and 'string_value: "f32"' in res['config']
    assert 'dims: 3' in res['config'] and 'dims: 32' in res['config'] and 'dims: 6' in res['config']
    # the served copy opens like the original
    np.testing.assert_allclose(init_backend(osp.join(vdir, 'model.xml')).infer(tiny_deploy['array']),
                               torch_logits(tiny_deploy['model'], tiny_deploy['array']), atol=1e-4)
    res = write_triton_repository(tiny_deploy['onnx'], str(tmp_path / 'repo2'), backend='openvino')
    assert res['platform'] == 'python' and 'string_value: "openvino"' in res['config']
    with pytest.raises(ValueError, match='backend/precision choose the runtime of the python platform'):
        write_triton_repository(tiny_deploy['onnx'], str(tmp_path / 'repo3'), platform='onnxruntime_onnx',
                                backend='openvino')
    with pytest.raises(ValueError, match='backend tensorrt opens'):
        write_triton_repository(tiny_deploy['onnx'], str(tmp_path / 'repo4'), backend='tensorrt')


# ----------------------------------------------------------------------------------------------- quantization
def test_quantize_writes_an_int8_model_and_reports_agreement(tiny_deploy, tmp_path, capsys):
    from posecls.tools.quantize import main
    out = str(tmp_path / 'int8.xml')
    res = main([tiny_deploy['cfg_file'], tiny_deploy['onnx'], '--out', out, '--num-samples', '8',
                '--report', str(tmp_path / 'q.json')])
    assert 'top-1 agreement with fp32 100.00% on 6 sequences' in capsys.readouterr().out
    assert osp.isfile(out) and osp.isfile(str(tmp_path / 'int8.bin')) and res['written']
    assert json.load(open(tmp_path / 'q.json'))['agreement'] == res['agreement'] == 1.0
    assert res['num_calib'] == 8 and res['calib_data'].endswith('train_data.npy')
    assert res['accuracy_fp32'] == res['accuracy_int8']
    # the written model is INT8 (FakeQuantize, runs int8 kernels) and is opened as such by suffix
    backend = init_backend(out)
    assert backend.precision == 'int8' and backend.dataset_meta['classes'] == tiny_deploy['classes']
    runtime = backend.compiled.get_runtime_model()
    assert {op.get_rt_info()['runtimePrecision'].astype(str) for op in runtime.get_ordered_ops()} & {'i8', 'u8'}
    x = tiny_deploy['array']
    got, ref = backend.infer(x), torch_logits(tiny_deploy['model'], x)
    assert float((got.argmax(1) == ref.argmax(1)).mean()) == res['agreement']
    with pytest.raises(ValueError, match='is INT8-quantized.*precision f32 would be wrong'):
        init_backend(out, precision='f32')
    # an .onnx output is a QDQ model for onnxruntime, checked there
    res = main([tiny_deploy['cfg_file'], tiny_deploy['onnx'], '--out', str(tmp_path / 'int8.onnx'),
                '--num-samples', '4'])
    assert res['runtime'] == 'onnxruntime' and res['agreement'] == 1.0
    assert init_backend(str(tmp_path / 'int8.onnx'), precision='int8').infer(x).shape == (6, 6)


def test_quantize_refuses_below_min_agreement(fragile, tiny_deploy, tmp_path, capsys):
    from posecls.tools.cli import run_tool
    from posecls.tools.quantize import main
    out = tmp_path / 'int8.xml'
    rc = run_tool(main, [tiny_deploy['cfg_file'], fragile['onnx'], '--out', str(out), '--num-samples', '12'],
                  prog='posecls-quantize')
    err = capsys.readouterr().err
    assert rc == 1 and 'below the required 99.00% (--min-agreement): not written to' in err, err
    assert 'top-1 accuracy fp32' in err
    assert not out.exists() and not (tmp_path / 'int8.bin').exists()
    # the agreement it reported is below the threshold: a lower threshold writes the model
    reported = float(err.split('top-1 agreement with fp32 ')[1].split('%')[0]) / 100
    assert reported < 0.99
    res = main([tiny_deploy['cfg_file'], fragile['onnx'], '--out', str(out), '--num-samples', '12',
                '--min-agreement', str(reported - 1e-3)])
    assert res['agreement'] == pytest.approx(reported, abs=1e-4) and out.exists()
    # an impossible threshold is refused before any work
    with pytest.raises(SystemExit) as e:
        main([tiny_deploy['cfg_file'], fragile['onnx'], '--out', str(tmp_path / 'x.xml'), '--min-agreement', '1.01'])
    assert e.value.code == 2 and 'an agreement above 1 can never be reached' in capsys.readouterr().err


def test_quantize_errors(tiny_deploy, tmp_path):
    from posecls.deploy.quantize import quantize_model
    cfg, onnx = tiny_deploy['cfg_file'], tiny_deploy['onnx']
    cases = [
        ((cfg, tiny_deploy['ckpt'], str(tmp_path / 'a.xml')), {}, ValueError, 'export a checkpoint first'),
        ((cfg, str(tmp_path / 'missing.onnx'), str(tmp_path / 'a.xml')), {}, FileNotFoundError, 'missing.onnx'),
        ((cfg, onnx, str(tmp_path / 'a.engine')), {}, ValueError, r'must be .xml \(OpenVINO IR\) or .onnx'),
        ((cfg, onnx, onnx), {}, ValueError, 'must not replace the fp32 model'),
        ((cfg, onnx, str(tmp_path / 'a.xml')), dict(min_agreement=1.5), ValueError, r'fraction in \[0, 1\]'),
        ((cfg, onnx, str(tmp_path / 'a.xml')), dict(preset='fast'), ValueError, 'preset must be one of'),
        ((cfg, onnx, str(tmp_path / 'a.xml')), dict(calib_data=str(tmp_path / 'no.npy')), FileNotFoundError,
         'calibration data not found'),
        ((cfg, onnx, str(tmp_path / 'a.xml')), dict(cfg_options={'model.cls_head.num_classes': 5}), ClassCountError,
         'predicts 6 classes but the config has 5'),
    ]
    for args, kwargs, exc, msg in cases:
        with pytest.raises(exc, match=msg):
            quantize_model(*args, **kwargs)
    existing = tmp_path / 'b.xml'
    existing.write_text('x')
    with pytest.raises(ValueError, match='b.xml exists'):
        quantize_model(cfg, onnx, str(existing))
    assert not list(tmp_path.glob('a.*'))


def test_quantize_keeps_the_input_stage_in_float(tiny_deploy, tmp_path):
    """The layers before the first nonlinearity (they see raw coordinates) stay float unless asked otherwise."""
    import onnx

    from posecls.deploy import export_onnx
    from posecls.deploy.backends.openvino_backend import read_model
    from posecls.deploy.quantize import input_stage_layers, quantize_model
    matmul = str(tmp_path / 'matmul.onnx')
    export_onnx(tiny_deploy['model'], matmul, input_shape=(3, TINY_T, 34, 1), use_einsum=False)
    # folded matmul form: block 0's K = 3 aggregation MatMuls and its 1x1 convolution; Einsum form: conv and Einsum
    aggregation = ['/blocks.0/main/main.0/MatMul', '/blocks.0/main/main.0/MatMul_1', '/blocks.0/main/main.0/MatMul_2']
    assert input_stage_layers(onnx.load(matmul)) == aggregation + ['/blocks.0/main/main.0/conv/Conv']
    assert input_stage_layers(read_model(matmul)) == aggregation + ['/blocks.0/main/main.0/conv/Conv/WithoutBiases']
    einsum = input_stage_layers(onnx.load(tiny_deploy['onnx']))
    assert [n.split('/')[-1] for n in einsum] == ['Conv', 'Einsum'] and all('/blocks.0/' in n for n in einsum)

    def fake_quantized_inputs(xml):
        """Weighted layer name -> whether its activation input comes from a FakeQuantize (via reshapes, concats)."""
        out = {}
        for op in ov.Core().read_model(xml).get_ordered_ops():
            if op.get_type_name() in ('MatMul', 'Convolution'):
                src = op.input(0).get_source_output().get_node()
                while src.get_type_name() in ('Reshape', 'Transpose', 'Concat'):
                    src = src.input(0).get_source_output().get_node()
                out[op.get_friendly_name()] = src.get_type_name() == 'FakeQuantize'
        return out

    kept = quantize_model(tiny_deploy['cfg_file'], matmul, str(tmp_path / 'kept.xml'), num_samples=8,
                          min_agreement=0.0, echo=False)
    every = quantize_model(tiny_deploy['cfg_file'], matmul, str(tmp_path / 'all.xml'), num_samples=8,
                           min_agreement=0.0, echo=False, keep_input_stage=False)
    assert kept['float_layers'] == input_stage_layers(read_model(matmul)) and every['float_layers'] == []
    fq_kept = fake_quantized_inputs(str(tmp_path / 'kept.xml'))
    fq_all = fake_quantized_inputs(str(tmp_path / 'all.xml'))
    first = kept['float_layers'][0]
    assert all(not fq_kept[n] and fq_all[n] for n in kept['float_layers'])
    # everything after the input stage is quantized either way
    later = [n for n in fq_kept if n not in kept['float_layers'] and '/blocks.1/' in n]
    assert later and all(fq_kept[n] and fq_all[n] for n in later)
    # the CLI flag; the ONNX (QDQ) output leaves the same layers unquantized
    from posecls.tools.quantize import main
    res = main([tiny_deploy['cfg_file'], matmul, '--out', str(tmp_path / 'cli.xml'), '--num-samples', '4',
                '--min-agreement', '0', '--quantize-input-stage'])
    assert res['float_layers'] == [] and fake_quantized_inputs(str(tmp_path / 'cli.xml'))[first]
    res = main([tiny_deploy['cfg_file'], matmul, '--out', str(tmp_path / 'q.onnx'), '--num-samples', '4',
                '--min-agreement', '0'])
    qdq = onnx.load(str(tmp_path / 'q.onnx'))
    producers = {o: n.op_type for n in qdq.graph.node for o in n.output}
    by_name = {n.name: n for n in qdq.graph.node}
    assert res['float_layers'] == input_stage_layers(onnx.load(matmul))
    assert producers[by_name['/blocks.0/main/main.0/MatMul'].input[0]] != 'DequantizeLinear'
    assert producers[by_name['/blocks.1/main/main.0/MatMul'].input[0]] == 'DequantizeLinear'
