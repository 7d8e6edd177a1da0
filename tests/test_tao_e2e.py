"""The seed spec (specs/experiment_nvidia.yaml) end to end from the CLI: train -> evaluate -> inference -> export.

Tiny: the embedded sample data at T=32 (conftest), a 4-channel ST-GCN (model.base_channels=4), 2 epochs. The
seed's encryption_key (nvidia_tao) stays on, so every checkpoint is written and read encrypted.
"""
import json
import os
import os.path as osp
import shutil

import numpy as np
import pytest
import torch

from posecls.tao.cli import main
from posecls.utils.encryption import is_encrypted_file, passphrase_scope

from conftest import LABEL_MAP, REPO

SEED_SPEC = osp.join(REPO, 'specs', 'experiment_nvidia.yaml')
KEY = 'nvidia_tao'
CLASSES = list(LABEL_MAP)


def data_overrides(data_dir):
    d = data_dir
    return [f'dataset.train_dataset.data_path={d}/train_data.npy',
            f'dataset.train_dataset.label_path={d}/train_label.pkl',
            f'dataset.val_dataset.data_path={d}/val_data.npy', f'dataset.val_dataset.label_path={d}/val_label.pkl',
            f'evaluate.test_dataset.data_path={d}/val_data.npy', f'evaluate.test_dataset.label_path={d}/val_label.pkl',
            f'inference.test_dataset.data_path={d}/val_data.npy',
            'model.base_channels=4', 'dataset.batch_size=4', 'dataset.num_workers=0']


@pytest.fixture(scope='module')
def trained(tiny_data_dir, tmp_path_factory):
    """One CLI training run of the seed spec: (results_dir, overrides shared by the other tasks)."""
    results = str(tmp_path_factory.mktemp('tao') / 'results')
    common = [f'results_dir={results}'] + data_overrides(tiny_data_dir)
    rc = main(['train', '-e', SEED_SPEC, *common, 'train.num_epochs=2', 'train.checkpoint_interval=1'])
    assert rc == 0
    return results, common


def _all_bytes(folder):
    for root, _, files in os.walk(folder):
        for name in files:
            path = osp.join(root, name)
            if not osp.islink(path):
                with open(path, 'rb') as f:
                    yield path, f.read()


def test_train_writes_encrypted_tao_checkpoints_without_the_key(trained):
    results, _ = trained
    wd = osp.join(results, 'train')
    for name in ('model_epoch_001.pth', 'model_epoch_002.pth'):
        assert is_encrypted_file(osp.join(wd, name))
    assert osp.islink(osp.join(wd, 'pc_model_latest.pth'))
    assert osp.realpath(osp.join(wd, 'pc_model_latest.pth')) == osp.realpath(osp.join(wd, 'model_epoch_002.pth'))
    leaked = [p for p, data in _all_bytes(results) if KEY.encode() in data]
    assert not leaked, f'the encryption key was written to {leaked}'
    assert 'encryption_key: null' in open(osp.join(wd, 'experiment_spec.yaml')).read()


def test_evaluate_prints_tao_table_and_writes_report(trained, capsys):
    results, common = trained
    assert main(['evaluate', '-e', SEED_SPEC, *common]) == 0
    out = capsys.readouterr().out
    for name in CLASSES:
        assert f'Class accuracy: {name}' in out
    assert 'Total accuracy' in out and 'Average class accuracy' in out and 'Top-5' not in out
    ev = osp.join(results, 'evaluate')
    rec = json.load(open(osp.join(ev, 'metrics.json')))
    cm = np.array(rec['confusion_matrix'])
    assert cm.sum() == 6 and rec['classes'] == CLASSES
    assert rec['total_accuracy'] == pytest.approx(100 * np.trace(cm) / cm.sum())
    assert f"{rec['total_accuracy']:.4f}" in out  # TAO's 4 decimals
    assert rec['kpi'] == dict(accuracy=round(rec['total_accuracy'], 2),
                              avg_accuracy=round(rec['mean_class_accuracy'], 2))
    assert open(osp.join(ev, 'confusion_matrix.csv')).readline().strip() == 'class,' + ','.join(CLASSES)
    assert open(osp.join(ev, 'confusion_matrix.png'), 'rb').read(4) == b'\x89PNG'


def test_evaluate_matches_the_mmaction_tools_on_the_converted_config(trained, tmp_path, monkeypatch):
    """Spec path and config path agree: `posecls config convert` + tools/test.py give the same numbers."""
    from posecls.tools import test as test_tool
    results, common = trained
    cfg_file = str(tmp_path / 'converted.py')
    assert main(['config', 'convert', SEED_SPEC, *common, '-o', cfg_file]) == 0
    assert KEY not in open(cfg_file).read()
    monkeypatch.setenv('POSECLS_ENCRYPTION_KEY', KEY)  # the config path takes the key from the environment
    metrics = test_tool.main([cfg_file, osp.join(results, 'train', 'pc_model_latest.pth'),
                              '--work-dir', str(tmp_path / 'test')])
    rec = json.load(open(osp.join(results, 'evaluate', 'metrics.json')))
    assert metrics['confusion_matrix'] == rec['confusion_matrix']
    assert 100 * metrics['acc/top1'] == pytest.approx(rec['total_accuracy'])


@pytest.mark.parametrize('key, message', [('wrong', 'wrong encryption key'),
                                          ('null', 'is encrypted by posecls: give the key it was written with')])
def test_evaluate_with_a_wrong_or_missing_key(trained, capsys, key, message):
    _, common = trained
    assert main(['evaluate', '-e', SEED_SPEC, *common, f'encryption_key={key}']) == 1
    assert message in capsys.readouterr().err


def test_inference_writes_class_names_in_input_order(trained, tiny_data_dir, tmp_path):
    from posecls.apis import format_ranked_line, inference_recognizer, init_model
    from posecls.tao.spec import load_spec
    from posecls.tao.tasks.common import task_config
    results, common = trained
    out = str(tmp_path / 'preds.txt')
    assert main(['inference', '-e', SEED_SPEC, *common, f'inference.output_file={out}', 'inference.output_scores=true',
                 'inference.batch_size=5']) == 0
    lines = open(out).read().splitlines()
    data = np.load(osp.join(tiny_data_dir, 'val_data.npy'))
    spec = load_spec(SEED_SPEC, common)
    with passphrase_scope(KEY):
        model = init_model(task_config(spec, 'inference'), osp.join(results, 'train', 'pc_model_latest.pth'))
    logits = inference_recognizer(model, data, batch_size=2)
    assert lines == [CLASSES[i] for i in logits.argmax(1)] and len(lines) == len(data)
    scores = open(osp.join(results, 'inference', 'results.txt')).read().splitlines()
    assert len(scores) == len(data)
    for i in (0, len(data) - 1):
        assert scores[i] == format_ranked_line(i, logits[i], CLASSES)
        values = [float(p.split('(')[0]) for p in scores[i].split(', ')[1:]]
        assert values == sorted(values, reverse=True) and len(values) == len(CLASSES)


def test_export_has_the_tools_shape_rule_and_parity_check(trained, tmp_path, capsys):
    import onnx

    from posecls.deploy import init_backend
    _, common = trained
    onnx_file = str(tmp_path / 'model.onnx')
    assert main(['export', '-e', SEED_SPEC, *common, f'export.onnx_file={onnx_file}']) == 0
    out = capsys.readouterr().out
    # the tools' rule: the shape of the evaluation samples (T=32 here), parity on random and on those samples
    assert 'parity vs PyTorch (max abs logit diff, atol 0.0001): random ' in out and '(6 samples)' in out
    onnx.checker.check_model(onnx.load(onnx_file))
    backend = init_backend(onnx_file)
    assert backend.input_shape == (3, 32, 34, 1) and backend.num_classes == len(CLASSES)


def test_dataset_convert_from_the_spec(tmp_path, capsys):
    """TAO's dataset_convert section (plus posecls's extras) reaches posecls.datasets.deepstream.convert."""
    deepstream = pytest.importorskip('posecls.datasets.deepstream', reason='dataset_convert (issue 4) not installed')
    poses = str(tmp_path / 'poses.json')
    deepstream.generate_deepstream_json(poses, num_frames=160, num_tracks=2, seed=1)
    results = str(tmp_path / 'results')
    assert main(['dataset_convert', '-e', SEED_SPEC, f'results_dir={results}', f'dataset_convert.data={poses}',
                 'dataset_convert.progress=false']) == 0
    out_dir = osp.join(results, 'dataset_convert')
    direct = deepstream.convert(poses, str(tmp_path / 'direct'), progress=False)
    written = sorted(f for f in os.listdir(out_dir) if f.endswith('.npy'))
    assert written and written == sorted(osp.basename(p) for p in direct['outputs'])
    for name in written:
        a, b = np.load(osp.join(out_dir, name)), np.load(osp.join(str(tmp_path / 'direct'), name))
        assert a.shape[1:] == (3, 300, 34, 1) and np.array_equal(a, b)
    assert 'dataset_convert (3dbp)' in capsys.readouterr().out
    # the converter's own option checks run before any work, as spec errors
    assert main(['dataset_convert', '-e', SEED_SPEC, f'results_dir={tmp_path}/r2', f'dataset_convert.data={poses}',
                 'dataset_convert.val_ratio=0.2']) == 2
    assert 'dataset_convert.val_ratio needs labels' in capsys.readouterr().err
    assert not osp.exists(str(tmp_path / 'r2'))


def _copy_train(results, dest):
    shutil.copytree(osp.join(results, 'train'), osp.join(dest, 'train'), symlinks=True)
    return osp.join(dest, 'train')


def _mtimes(wd):
    return {n: os.stat(osp.join(wd, n)).st_mtime_ns for n in os.listdir(wd) if n.startswith('model_epoch_')}


def test_auto_resume_from_latest(trained, tmp_path, capsys):
    results, common = trained
    wd = _copy_train(results, str(tmp_path))
    before = _mtimes(wd)
    assert main(['train', '-e', SEED_SPEC, *common, f'results_dir={tmp_path}', 'train.num_epochs=3',
                 'train.checkpoint_interval=1']) == 0
    assert f'({osp.realpath(osp.join(wd, "model_epoch_002.pth"))})' in capsys.readouterr().out  # Auto-resuming ...
    after = _mtimes(wd)
    assert {k: after[k] for k in before} == before  # epochs 1-2 were not trained again
    assert 'model_epoch_003.pth' in after
    assert osp.realpath(osp.join(wd, 'pc_model_latest.pth')).endswith('model_epoch_003.pth')


def test_resume_path_takes_precedence_and_is_bit_exact(trained, tmp_path, capsys):
    from posecls.utils.checkpoint import load_checkpoint_file
    results, common = trained
    wd = _copy_train(results, str(tmp_path))
    before = _mtimes(wd)
    with passphrase_scope(KEY):
        original = load_checkpoint_file(osp.join(wd, 'model_epoch_002.pth'))['state_dict']
    first = osp.join(wd, 'model_epoch_001.pth')
    assert main(['train', '-e', SEED_SPEC, *common, f'results_dir={tmp_path}', 'train.num_epochs=2',
                 'train.checkpoint_interval=1', f'train.resume_training_checkpoint_path={first}']) == 0
    assert f'Resuming training from {first} (train.resume_training_checkpoint_path)' in capsys.readouterr().out
    after = _mtimes(wd)
    assert after['model_epoch_001.pth'] == before['model_epoch_001.pth']
    assert after['model_epoch_002.pth'] != before['model_epoch_002.pth']  # epoch 2 trained again from epoch 1
    with passphrase_scope(KEY):
        again = load_checkpoint_file(osp.join(wd, 'model_epoch_002.pth'))['state_dict']
    for k in original:
        assert torch.equal(original[k], again[k]), k


@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the CPU (gloo) path')
def test_train_in_a_torchrun_worker_destroys_its_process_group(tiny_data_dir, tmp_path, monkeypatch,
                                                               one_process_group):
    """``posecls train`` as one of torchrun's processes (here a world of one) leaves no process group behind:
    a group alive at interpreter exit can abort a finished run (SIGABRT)."""
    import torch.distributed as torch_dist

    import posecls.tao.tasks.train as tao_train
    monkeypatch.setattr(tao_train, 'in_torchrun_worker', lambda: True)  # the worker branch: launcher 'pytorch'
    results = str(tmp_path / 'results')
    rc = main(['train', '-e', SEED_SPEC, f'results_dir={results}', *data_overrides(tiny_data_dir),
               'train.num_epochs=1', 'train.checkpoint_interval=1'])
    assert rc == 0
    assert not torch_dist.is_initialized()
    assert osp.isfile(osp.join(results, 'train', 'model_epoch_001.pth'))


def test_pretrained_weights_of_every_format_with_another_class_count(trained, tiny_data_dir, tmp_path):
    """pretrained_model_path loads posecls (encrypted), TAO Lightning and original ST-GCN weights; a 3-class head is
    re-initialised while the backbone is loaded."""
    from posecls.tao.checks import check_task
    from posecls.tao.spec import load_spec
    from posecls.tao.tasks.train import build_train_runner
    from posecls.utils.checkpoint import load_checkpoint_file
    results, common = trained
    latest = osp.join(results, 'train', 'pc_model_latest.pth')
    with passphrase_scope(KEY):
        sd = load_checkpoint_file(latest)['state_dict']
    bare = {(k[len('cls_head.'):] if k.startswith('cls_head.') else k[len('backbone.'):]): v for k, v in sd.items()}
    torch.save({'state_dict': {f'model.{k}': v for k, v in bare.items()}, 'epoch': 9}, str(tmp_path / 'tao.pth'))
    torch.save(bare, str(tmp_path / 'original.pth'))
    three = ['dataset.num_classes=3', 'dataset.label_map={a: 0, b: 1, c: 2}']
    for n, weights in enumerate([latest, str(tmp_path / 'tao.pth'), str(tmp_path / 'original.pth')]):
        spec = load_spec(SEED_SPEC, common + three + [f'results_dir={tmp_path}/run{n}',
                                                      f'model.pretrained_model_path={weights}'])
        check_task(spec, 'train')
        with passphrase_scope(KEY):
            runner = build_train_runner(spec)
            runner.load_or_resume()
        model = runner.model
        assert model.cls_head.fcn.weight.shape[0] == 3
        for k, v in model.state_dict().items():
            if k.startswith('backbone.') and not k.endswith('num_batches_tracked'):
                assert torch.equal(v, sd[k]), (weights, k)
