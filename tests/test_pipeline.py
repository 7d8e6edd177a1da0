"""posecls pipeline: DeepStream JSON + labels CSV -> dataset -> train -> evaluate -> ONNX/IR -> Triton -> report.

End to end on small synthetic DeepStream recordings with a 4-channel ST-GCN and 2 epochs; resume after a failed
stage (in-process) and after a training process is SIGKILLed (tests/helpers/fault_points.py); bad labels."""
import json
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import onnxruntime as ort
import pytest

from posecls.apis.pipeline import STAGES, PipelineError
from posecls.datasets.deepstream import generate_deepstream_json, ground_truth_labels
from posecls.tools.pipeline import main

from conftest import REPO

ACTIONS = ('walking', 'sitting', 'jumping')
TINY = ['--epochs', '2', '--batch-size', '4', '--sequence-length', '30', '--sequence-length-max', '30',
        '--cfg-options', 'model.backbone.base_channels=4', 'model.cls_head.in_channels=16']


@pytest.fixture(scope='module')
def scene(tmp_path_factory):
    """Two recordings of three people each and the labels CSV of their action schedules."""
    d = tmp_path_factory.mktemp('pipeline')
    rows = []
    for k in range(2):
        info = generate_deepstream_json(str(d / f'cam{k}.json'), num_frames=300, num_tracks=3, seed=10 + k,
                                        actions=ACTIONS)
        rows += ground_truth_labels(info).splitlines()[(1 if k else 0):]
    (d / 'labels.csv').write_text('\n'.join(rows) + '\n')
    return d


def _args(scene, results, *extra):
    return ['--data', str(scene / 'cam0.json'), str(scene / 'cam1.json'), '--labels', str(scene / 'labels.csv'),
            '--results-dir', str(results), *TINY, *extra]


def _marker_stamps(results):
    d = osp.join(results, 'stages')
    return {f: (os.stat(osp.join(d, f)).st_mtime_ns, open(osp.join(d, f)).read()) for f in sorted(os.listdir(d))}


def test_end_to_end_resume_after_a_failed_stage(scene, tmp_path, capsys):
    res = tmp_path / 'res'
    # run 1: the export stage fails (an opset ONNX does not have); the stages before it are done and kept
    with pytest.raises(ValueError, match='opset'):
        main(_args(scene, res, '--opset', '99'))
    out = capsys.readouterr().out
    assert '[4/6] export: FAILED' in out and '[3/6] evaluate: done in' in out
    assert sorted(os.listdir(res / 'stages')) == ['convert.json', 'evaluate.json', 'train.json', 'train.started.json']
    before = _marker_stamps(res)

    # run 2, the same command with a valid opset: continues with export; nothing earlier is redone
    summary = main(_args(scene, res))
    out = capsys.readouterr().out
    for i, stage in enumerate(STAGES[:3], 1):
        assert f'[{i}/6] {stage}: done earlier' in out
    assert summary['ran'] == ['export', 'triton', 'report']
    assert {k: v for k, v in _marker_stamps(res).items() if k in before} == before
    assert 'resuming' not in out and 'Epoch' not in out  # no training step ran
    assert out.rstrip().endswith(f'Report: {res / "report.html"}')

    # what every stage left, under the one results folder
    classes = json.load(open(res / 'dataset' / 'label_map.json'))
    assert sorted(classes) == sorted(ACTIONS)
    stages = json.load(open(res / 'pipeline.json'))['stages']
    assert list(stages) == list(STAGES)
    ckpt = stages['train']['outputs']['checkpoint']
    assert osp.basename(ckpt) == 'model_epoch_002.pth' and ckpt.startswith(str(res / 'train'))
    cfg_text = open(res / 'config.py').read()
    assert f"num_classes={len(classes)}" in cfg_text.replace(' ', '') and 'max_epochs=2' in cfg_text
    pred = np.load(stages['evaluate']['outputs']['predictions'])
    val = np.load(res / 'dataset' / 'val_data.npy')
    assert val.shape[1:] == (3, 30, 34, 1) and len(pred['scores']) == len(val)
    # the exported model gives the evaluation's predictions
    sess = ort.InferenceSession(stages['export']['outputs']['onnx'], providers=['CPUExecutionProvider'])
    logits = sess.run(None, {'input': val})[0]
    assert np.array_equal(logits.argmax(1), pred['scores'].argmax(1))
    assert osp.isfile(res / 'export' / 'model.xml') and osp.isfile(res / 'export' / 'model.bin')
    diffs = json.load(open(res / 'export' / 'export_report.json'))['openvino_max_abs_diff']
    assert set(diffs) == {'random', 'real'} and max(diffs.values()) < 1e-4  # the IR checked against ONNX Runtime
    model_dir = res / 'triton' / 'pose_classification_tao'
    assert (model_dir / 'labels.txt').read_text() == '\n'.join(sorted(classes, key=classes.get))
    pbtxt = (model_dir / 'config.pbtxt').read_text()
    assert 'platform: "onnxruntime_onnx"' in pbtxt and 'max_batch_size: 16' in pbtxt
    assert '  dims: 3\n  dims: 30\n  dims: 34\n  dims: 1\n' in pbtxt and f'  dims: {len(classes)}\n' in pbtxt
    assert (model_dir / '1' / 'model.onnx').read_bytes() == (res / 'export' / 'model.onnx').read_bytes()
    assert (res / 'report.html').read_text().startswith('<!DOCTYPE html>')
    assert not osp.exists(res / 'train' / 'report' / 'eval')  # the report used the evaluate stage's evaluation

    # run 3, other settings: the done training is not silently reused
    with pytest.raises(PipelineError, match=r'stage train was done .* train_cfg\.max_epochs: 2 -> 3.*--from train'):
        main(_args(scene, res, '--epochs', '3'))
    capsys.readouterr()
    # run 4: --from redoes a stage and the ones after it
    stamp = _marker_stamps(res)
    summary = main(_args(scene, res, '--from', 'triton'))
    assert summary['ran'] == ['triton', 'report']
    assert {k: stamp[k] for k in ('convert.json', 'train.json', 'export.json')} == {
        k: v for k, v in _marker_stamps(res).items() if k in ('convert.json', 'train.json', 'export.json')}


def test_bad_labels_name_the_file_and_line(scene, tmp_path):
    res = tmp_path / 'res'
    labels = tmp_path / 'labels.csv'
    good = (scene / 'labels.csv').read_text().splitlines()
    labels.write_text('\n'.join(good[:2] + ['nope.json,,,,walking'] + good[2:]) + '\n')
    with pytest.raises(ValueError, match=rf"{labels} line 3: file 'nope.json' is not one of the inputs \(cam0.json"):
        main(_args(scene, res, '--labels', str(labels)))
    labels.write_text('\n'.join(good[:3] + ['cam0.json,,,,'] + good[3:]) + '\n')
    with pytest.raises(ValueError, match=rf'{labels} line 4: empty label'):
        main(_args(scene, res, '--labels', str(labels)))
    label_map = tmp_path / 'map.json'
    label_map.write_text(json.dumps({'walking': 0, 'sitting': 1}))
    line = next(i for i, r in enumerate(good, 1) if r.endswith(',jumping'))
    with pytest.raises(ValueError, match=rf"{scene / 'labels.csv'} line {line}: label 'jumping' is not in "
                       r'dataset_convert.label_map \(classes: walking, sitting\)'):
        main(_args(scene, res, '--label-map', str(label_map)))
    assert not osp.exists(res / 'stages' / 'convert.json') and not osp.exists(res / 'dataset')
    # through the wrapper script: one error line
    labels.write_text('\n'.join(good[:2] + ['nope.json,,,,walking'] + good[2:]) + '\n')
    r = subprocess.run([sys.executable, osp.join(REPO, 'tools', 'pipeline.py'), *_args(scene, res, '--labels',
                                                                                        str(labels))],
                       capture_output=True, text=True, timeout=300, env=dict(os.environ, PYTHONPATH=REPO))
    assert r.returncode == 1 and '[1/6] convert: FAILED' in r.stdout
    assert r.stderr.splitlines()[0].startswith(f"tools/pipeline.py: error: {labels} line 3: file 'nope.json' is not")


@pytest.mark.slow
def test_killed_training_resumes(scene, tmp_path):
    """SIGKILL in the middle of epoch 2; the same command again skips convert and resumes from epoch 1."""
    cfg = tmp_path / 'kill_cfg.py'
    cfg.write_text(f"_base_ = [{osp.join(REPO, 'configs', 'stgcn_nvidia_sample.py')!r}]\n"
                   "custom_imports = dict(imports=['helpers.fault_points'], allow_failed_imports=False)\n"
                   f"custom_hooks = [dict(type='KillAt', point='mid_epoch', epoch=2, marker={str(tmp_path / 'k')!r})]\n"
                   "default_hooks = dict(checkpoint=dict(interval=1))\n")
    res = tmp_path / 'res'
    cmd = [sys.executable, osp.join(REPO, 'tools', 'pipeline.py'), *_args(scene, res, '--config', str(cfg),
                                                                          '--until', 'train')]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([osp.join(REPO, 'tests'), REPO]), OMP_NUM_THREADS='1')
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert first.returncode == -9, first.stderr[-2000:]
    assert osp.exists(tmp_path / 'k') and '[2/6] train: started' in first.stdout
    assert sorted(os.listdir(res / 'stages')) == ['convert.json', 'train.started.json']  # no train.json
    convert_marker = {k: v for k, v in _marker_stamps(res).items() if k == 'convert.json'}
    other = subprocess.run([*cmd, '--epochs', '3'], capture_output=True, text=True, timeout=300, env=env)
    assert other.returncode == 1 and 'the interrupted training in' in other.stderr
    assert 'train_cfg.max_epochs: 2 -> 3' in other.stderr and not osp.exists(res / 'stages' / 'train.json')
    second = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert second.returncode == 0, second.stderr[-2000:]
    assert '[1/6] convert: done earlier' in second.stdout
    assert 'resuming from the newest checkpoint' in second.stdout and '(model_epoch_001.pth)' in second.stdout
    assert 'stopped after train' in second.stdout and '[3/6]' not in second.stdout
    assert {k: v for k, v in _marker_stamps(res).items() if k == 'convert.json'} == convert_marker
    history = json.load(open(res / 'train' / 'training_history.json'))
    assert [r['epoch'] for r in history] == [1, 2]
    assert json.load(open(res / 'stages' / 'train.json'))['outputs']['checkpoint'].endswith('model_epoch_002.pth')
