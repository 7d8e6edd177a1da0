"""INT8 quantization with accuracy control (``--accuracy-control``): NNCF reverts layers to float until the INT8
model agrees with fp32 on a held-out split of the training data; real OpenVINO, ONNX Runtime and NNCF runs on the
tiny ST-GCN whose INT8 rounding changes many predictions (the ``fragile`` fixture of test_openvino.py)."""
import numpy as np
import pytest

ov = pytest.importorskip('openvino')
pytest.importorskip('nncf')


def test_accuracy_control_reverts_layers_until_the_held_out_split_agrees(fragile, tiny_deploy, tmp_path,
                                                                         capsys):
    from posecls.apis import init_model
    from posecls.deploy import init_backend
    from posecls.deploy.backends.openvino_backend import read_model
    from posecls.deploy.quantize import calibration_inputs, draw_sequences, quantize_model, unquantized_layers
    from posecls.tools.quantize import main
    cfg, model = tiny_deploy['cfg_file'], fragile['onnx']
    res = main([cfg, model, '--out', str(tmp_path / 'ac.xml'), '--num-samples', '6', '--min-agreement', '0',
                '--accuracy-control', '0.6', '--control-samples', '12'])
    # the control split: the 6 of the 12 training sequences that the calibration draw left
    train = res['calib_data']
    calib, control = draw_sequences(train, 6, 0), draw_sequences(train, 12, 1, exclude=draw_sequences(train, 6, 0))
    assert len(calib) == len(control) == 6 and not set(calib) & set(control) and res['num_control'] == 6
    fp32 = init_backend(model, backend='openvino')
    x = np.concatenate(calibration_inputs(init_model(cfg, model, backend='openvino'), train, 6, indices=control))
    ref = fp32.infer(x).argmax(1)
    agree = lambda path: float((init_backend(path, precision='int8').infer(x).argmax(1) == ref).mean())  # noqa: E731
    # the written model reaches the target on that split; the same quantization without control does not
    assert res['accuracy_control'] == 0.6 and res['control_agreement'] == agree(str(tmp_path / 'ac.xml')) >= 0.6
    plain = quantize_model(cfg, model, str(tmp_path / 'plain.xml'), num_samples=6, min_agreement=0.0, echo=False)
    assert plain['control_agreement'] is None and plain['reverted_layers'] == [] and plain['num_control'] == 0
    assert agree(str(tmp_path / 'plain.xml')) < 0.6
    # the reverted layers are quantized in the plain model and float in the written one; nothing else changed
    reverted = res['reverted_layers']
    before = unquantized_layers(read_model(str(tmp_path / 'plain.xml')))
    after = unquantized_layers(read_model(str(tmp_path / 'ac.xml')))
    assert reverted and not set(reverted) & set(before) and set(after) == set(before) | set(reverted)
    assert set(plain['float_layers']) <= set(before) and res['float_layers'] == plain['float_layers']
    out = capsys.readouterr().out
    assert (f'accuracy control: {len(reverted)} layers reverted to float, agreement '
            f"{res['control_agreement']:.2%} on 6 held-out inputs from {train} (target 60.00%)") in out
    assert res['control_data'] == train
    # the validation set stays the independent check, measured as without accuracy control
    assert res['num_val'] == 6 and 0.0 <= res['agreement'] <= 1.0 and res['written']


def test_accuracy_control_errors(fragile, tiny_deploy, tmp_path):
    """Every layer reverted (no INT8 model reaches the target), through the ONNX (QDQ) path; bad values."""
    from posecls.deploy.quantize import AgreementError, quantize_model
    cfg, model = tiny_deploy['cfg_file'], fragile['onnx']
    with pytest.raises(AgreementError, match=r'reverted every quantized layer to float: no INT8 model agrees with '
                       r'fp32 on 100.00% of the 6 held-out inputs'):
        quantize_model(cfg, model, str(tmp_path / 'b.onnx'), num_samples=6, accuracy_control=1.0, echo=False)
    with pytest.raises(ValueError, match='all 12 were drawn to calibrate'):
        quantize_model(cfg, model, str(tmp_path / 'b.xml'), num_samples=12, accuracy_control=0.99)
    with pytest.raises(FileNotFoundError, match=r'accuracy-control data not found: .*no.npy \(--control-data\)'):
        quantize_model(cfg, model, str(tmp_path / 'b.xml'), accuracy_control=0.99,
                       control_data=str(tmp_path / 'no.npy'))
    for bad in (1.5, True, '0.9'):
        with pytest.raises(ValueError, match='accuracy_control must be None or an agreement fraction'):
            quantize_model(cfg, model, str(tmp_path / 'b.xml'), accuracy_control=bad)
    with pytest.raises(ValueError, match='control_samples must be a positive int'):
        quantize_model(cfg, model, str(tmp_path / 'b.xml'), accuracy_control=0.9, control_samples=0)
    assert not list(tmp_path.glob('b.*'))


def test_quantize_file_keeps_named_layers_in_float(tiny_deploy, tmp_path):
    """``keep_float``: the layers an accuracy-controlled run reverted, applied to another export of the same layers."""
    from posecls.deploy.backends.openvino_backend import read_model
    from posecls.deploy.quantize import input_stage_layers, quantize_file, unquantized_layers
    rng = np.random.default_rng(0)
    calib = [rng.standard_normal((1, ) + tiny_deploy['array'].shape[1:]).astype(np.float32) for _ in range(4)]
    model = tiny_deploy['onnx']
    (tmp_path / 'a').mkdir()
    (tmp_path / 'b').mkdir()
    plain = unquantized_layers(read_model(quantize_file(model, calib, str(tmp_path / 'a'))))
    assert set(plain) >= set(input_stage_layers(read_model(model)))
    later = [op.get_friendly_name() for op in read_model(model).get_ordered_ops()
             if op.get_type_name() == 'Convolution' and '/blocks.2/' in op.get_friendly_name()]
    assert later and not set(later) & set(plain)
    kept = unquantized_layers(read_model(quantize_file(model, calib, str(tmp_path / 'b'), keep_float=later)))
    assert set(kept) == set(plain) | set(later)
    with pytest.raises(ValueError, match=r"keep_float names layers this model does not have: \['/no/such/Conv'\]"):
        quantize_file(model, calib, str(tmp_path / 'b'), keep_float=['/no/such/Conv'])


def test_accuracy_control_draws_from_control_data(fragile, tiny_deploy, tmp_path):
    """``--control-data``: the split comes from another file (no labels needed), the whole calibration set stays
    available; the same file as the calibration data still excludes the calibration draw."""
    from posecls.tools.quantize import main
    cfg, model, other = tiny_deploy['cfg_file'], fragile['onnx'], tiny_deploy['data']
    res = main([cfg, model, '--out', str(tmp_path / 'a.xml'), '--num-samples', '12', '--min-agreement', '0',
                '--accuracy-control', '0', '--control-samples', '50', '--control-data', other])
    assert res['control_data'] == other and res['num_control'] == 6 and res['num_calib'] == 12  # all of both
    assert res['reverted_layers'] == [] and 0.0 <= res['control_agreement'] <= 1.0
    res = main([cfg, model, '--out', str(tmp_path / 'b.xml'), '--num-samples', '8', '--min-agreement', '0',
                '--accuracy-control', '0', '--control-data', res['calib_data']])
    assert res['num_control'] == 4  # 12 training sequences, 8 drawn to calibrate
