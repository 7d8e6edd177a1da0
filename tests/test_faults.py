"""Trust under faults: which checkpoint is resumed, what is never overwritten, longer runs, damaged files,
class counts, bad input and misspelt options -- each an error with the file, field and value, or the exact result."""
import json
import os
import os.path as osp
import zipfile

import numpy as np
import pytest
import torch

from posecls.tools.common import build_runner
from posecls.utils.checkpoint import CheckpointError, ClassCountError, load_checkpoint_file
from posecls.utils.input_checks import NonFiniteInputError

from conftest import tiny_config


def _train(cfg, epochs):
    cfg.train_cfg.max_epochs = epochs
    runner = build_runner(cfg)
    runner.train()
    return runner


def _bytes(work):
    return {n: open(osp.join(work, n), 'rb').read() for n in os.listdir(work) if n.endswith('.pth')
            and not osp.islink(osp.join(work, n))}


def _history(work):
    with open(osp.join(work, 'training_history.json')) as f:
        return json.load(f)


@pytest.mark.parametrize('damage', ['missing', 'dangling'])
def test_auto_resume_falls_back_to_the_newest_numbered_checkpoint(tiny_data_dir, tmp_path, damage):
    work = str(tmp_path / 'w')
    _train(tiny_config(tiny_data_dir, work), 2)
    os.remove(osp.join(work, 'last_checkpoint'))
    latest = osp.join(work, 'pc_model_latest.pth')
    os.remove(latest)
    if damage == 'dangling':
        os.symlink('model_epoch_009.pth', latest)
    kept = _bytes(work)
    runner = _train(tiny_config(tiny_data_dir, work), 3)
    assert runner.epoch == 3 and runner.train_loop.iter > 0
    assert {n: _bytes(work)[n] for n in kept} == kept  # epochs 1-2 resumed, never rewritten
    assert [r['epoch'] for r in _history(work)] == [1, 2, 3]
    assert osp.realpath(latest) == osp.join(osp.realpath(work), 'model_epoch_003.pth')


def test_checkpoints_of_another_config_are_refused_before_any_write(tiny_data_dir, tmp_path):
    work = str(tmp_path / 'w')
    _train(tiny_config(tiny_data_dir, work), 2)
    for name in ('pc_model_latest.pth', 'last_checkpoint'):
        os.remove(osp.join(work, name))
    kept = _bytes(work)
    other = tiny_config(tiny_data_dir, work, **{'model.backbone.base_channels': 8, 'model.cls_head.in_channels': 32})
    with pytest.raises(CheckpointError, match=r'model_epoch_002\.pth: another model .*Ways out: .*--work-dir'
                                              r'.*--no-auto-resume.*--resume PATH'):
        _train(other, 3)
    assert _bytes(work) == kept


def test_fresh_start_moves_old_checkpoints_aside(tiny_data_dir, tmp_path):
    from posecls.tools.train import main
    work = str(tmp_path / 'w')
    _train(tiny_config(tiny_data_dir, work), 2)
    kept = _bytes(work)
    cfg = tiny_config(tiny_data_dir, work)
    cfg_file = str(tmp_path / 'c.py')
    cfg.dump(cfg_file)
    main([cfg_file, '--no-auto-resume', '--cfg-options', 'train_cfg.max_epochs=1'])
    aside = [d for d in os.listdir(work) if d.startswith('superseded_')]
    assert len(aside) == 1 and _bytes(osp.join(work, aside[0])) == kept
    assert load_checkpoint_file(osp.join(work, 'pc_model_latest.pth'))['meta']['epoch'] == 1


def test_resume_does_not_overwrite_later_checkpoints_of_another_run(tiny_data_dir, tmp_path):
    from posecls.tools.train import main
    work_a, work_b = str(tmp_path / 'a'), str(tmp_path / 'b')
    _train(tiny_config(tiny_data_dir, work_a), 1)
    _train(tiny_config(tiny_data_dir, work_b), 2)  # another run
    os.replace(osp.join(work_b, 'model_epoch_002.pth'), osp.join(work_a, 'model_epoch_002.pth'))
    kept = _bytes(work_a)
    cfg = tiny_config(tiny_data_dir, work_a)
    cfg_file = str(tmp_path / 'c.py')
    cfg.dump(cfg_file)
    with pytest.raises(CheckpointError, match=r'would overwrite checkpoints of another run: model_epoch_002\.pth'):
        main([cfg_file, '--resume', osp.join(work_a, 'model_epoch_001.pth'), '--cfg-options',
              'train_cfg.max_epochs=2'])
    assert _bytes(work_a) == kept


def _schedule(cfg, kind):
    if kind == 'multistep':
        cfg.param_scheduler = [dict(type='MultiStepLR', by_epoch=True, milestones=[3], gamma=0.1)]
    else:
        cfg.param_scheduler = [dict(type='AutoReduceLR', monitor='val_loss', rule='less', factor=0.1, patience=0,
                                    min_value=1e-6, threshold=10.0)]  # threshold 1000 %: every epoch is a plateau
    cfg.train_dataloader.dataset.pipeline = [dict(type='RandomMove'), dict(type='PackPoseInputs')]
    return cfg


@pytest.mark.parametrize('kind', ['multistep', 'autoreduce'])
def test_resume_asked_to_train_longer_equals_the_longer_run(tiny_data_dir, tmp_path, kind):
    full = str(tmp_path / 'full')
    _train(_schedule(tiny_config(tiny_data_dir, full), kind), 4)
    part = str(tmp_path / 'part')
    _train(_schedule(tiny_config(tiny_data_dir, part), kind), 2)
    _train(_schedule(tiny_config(tiny_data_dir, part), kind), 4)  # "train 2 more epochs"
    a, b = (load_checkpoint_file(osp.join(w, 'model_epoch_004.pth')) for w in (full, part))
    for k in a['state_dict']:
        assert torch.equal(a['state_dict'][k], b['state_dict'][k]), k
    ha, hb = _history(full), _history(part)
    assert ha == hb
    lrs = [r['lr'] for r in ha]
    # MultiStep at epoch index 3; AutoReduce (patience 0, a plateau every epoch) after every validation
    assert lrs == pytest.approx([0.1, 0.1, 0.1, 0.01] if kind == 'multistep' else [0.1, 0.01, 0.001, 0.0001])
    assert a['param_schedulers'] == b['param_schedulers'] and a['optimizer']['state'].keys() == \
        b['optimizer']['state'].keys()
    for k, v in a['optimizer']['state'].items():
        assert torch.equal(v['momentum_buffer'], b['optimizer']['state'][k]['momentum_buffer'])


def test_cosine_schedule_rebuilt_over_the_new_length_says_so(tiny_data_dir, tmp_path, capsys):
    work = str(tmp_path / 'w')

    def cosine(epochs):
        cfg = tiny_config(tiny_data_dir, work)
        cfg.param_scheduler = [dict(type='CosineAnnealingLR', T_max=epochs, eta_min=0.0, by_epoch=True, begin=0,
                                    end=epochs)]
        return cfg
    _train(cosine(2), 2)
    runner = _train(cosine(4), 4)
    assert runner.param_schedulers[0].T_max == 4 and runner.param_schedulers[0].end == 4
    assert "CosineAnnealingLR: the config changed the schedule (T_max 2 -> 4" in capsys.readouterr().out


def _flip_tensor_byte(path, member_suffix='data/0', offset=3):
    with zipfile.ZipFile(path) as z:
        info = next(i for i in z.infolist() if i.filename.endswith(member_suffix))
    with open(path, 'r+b') as f:
        f.seek(info.header_offset + 26)
        name_len, extra_len = np.frombuffer(f.read(4), '<u2')
        pos = info.header_offset + 30 + int(name_len) + int(extra_len) + offset
        f.seek(pos)
        byte = f.read(1)
        f.seek(pos)
        f.write(bytes([byte[0] ^ 0x80]))


def test_a_flipped_byte_in_a_checkpoint_is_an_error(tiny_cfg, tmp_path):
    from posecls.tools.test import main
    _train(tiny_cfg, 1)
    path = osp.join(tiny_cfg.work_dir, 'model_epoch_001.pth')
    assert load_checkpoint_file(path)['posecls_content_sha256']
    _flip_tensor_byte(path)
    torch.load(path, weights_only=False)  # plain torch loads the damaged file without a word
    with pytest.raises(CheckpointError, match=r'model_epoch_001\.pth is damaged: its content hash'):
        load_checkpoint_file(path)
    cfg_file = str(tmp_path / 'c.py')
    tiny_cfg.dump(cfg_file)
    with pytest.raises(CheckpointError, match='is damaged'):
        main([cfg_file, path, '--work-dir', str(tmp_path / 't')])


def test_encrypted_checkpoints_are_sealed_too(tiny_cfg):
    from posecls.utils.encryption import passphrase_scope
    with passphrase_scope('k3y'):
        _train(tiny_cfg, 1)
        ckpt = load_checkpoint_file(osp.join(tiny_cfg.work_dir, 'model_epoch_001.pth'))
    assert len(ckpt['posecls_content_sha256']) == 64 and ckpt['meta']['run_id']


def test_resume_of_another_class_count_is_refused_before_the_optimizer(tiny_data_dir, tmp_path):
    work = str(tmp_path / 'w')
    _train(tiny_config(tiny_data_dir, work), 1)
    cfg = tiny_config(tiny_data_dir, str(tmp_path / 'other'), **{'model.cls_head.num_classes': 7})
    for split in ('train', 'val', 'test'):
        ds = cfg[f'{split}_dataloader'].dataset
        ds.label_map, ds.num_classes = dict(ds.label_map, extra=6), 7
    cfg.load_from, cfg.resume = osp.join(work, 'model_epoch_001.pth'), True
    with pytest.raises(ClassCountError, match='was trained for 6 classes but the config has 7'):
        _train(cfg, 2)


def test_validation_loss_is_logged_as_the_epochs_own_value(tiny_data_dir, tmp_path):
    work = str(tmp_path / 'w')
    runner = _train(tiny_config(tiny_data_dir, work), 4)
    own = [r['val']['loss'] for r in _history(work)]
    assert len(own) == 4 and len(set(own)) == 4
    scalars = [json.loads(line) for line in open(osp.join(runner.log_dir, 'vis_data', 'scalars.json'))]
    logged = [s['loss'] for s in scalars if 'acc/top1' in s]
    assert logged == pytest.approx(own, abs=1e-4)  # scalars.json rounds to 4 decimals
    assert logged[3] != pytest.approx(float(np.mean(own)), abs=1e-4)
    log = open(osp.join(runner.log_dir, f'{osp.basename(runner.log_dir)}.log')).read()
    assert f'loss: {own[3]:.4f}' in log


def test_misspelt_top_level_cfg_option_is_refused(tiny_cfg_file):
    from posecls.tools.train import main
    with pytest.raises(KeyError, match=r"'trian_cfg.max_epochs': the config has no top-level key 'trian_cfg'; "
                                       r"did you mean 'train_cfg'"):
        main([tiny_cfg_file, '--cfg-options', 'trian_cfg.max_epochs=1'])
    from posecls.apis import init_recognizer
    with pytest.raises(KeyError, match="did you mean 'model'"):
        init_recognizer(tiny_cfg_file, cfg_options={'modle.cls_head.num_classes': 3})


def test_channel_mismatch_is_found_before_training_and_names_the_file(tiny_cfg):
    tiny_cfg.model.backbone.in_channels = 2
    with pytest.raises(ValueError, match=r'train_dataloader.dataset \(data file .*train_data.npy\): samples have '
                                         r'C=3 channels .* expects in_channels=2'):
        _train(tiny_cfg, 1)
    assert not any(n.endswith('.pth') for n in os.listdir(tiny_cfg.work_dir))


def test_empty_npy_is_named(tmp_path):
    from posecls.datasets import PoseDataset
    path = tmp_path / 'empty.npy'
    path.write_bytes(b'')
    with pytest.raises(ValueError, match=r'empty\.npy: an empty file \(0 bytes\)'):
        PoseDataset(str(path))


def test_stale_temporary_files_are_removed_at_the_next_start(tiny_cfg):
    import subprocess
    import sys
    os.makedirs(tiny_cfg.work_dir, exist_ok=True)
    dead = subprocess.run([sys.executable, '-c', 'import os; print(os.getpid())'], capture_output=True, text=True)
    pid = int(dead.stdout)
    stale = osp.join(tiny_cfg.work_dir, f'.model_epoch_002.pth.{pid}.k2j4x8z1.tmp')
    live = osp.join(tiny_cfg.work_dir, f'.model_epoch_002.pth.{os.getppid()}.a1b2c3d4.tmp')
    for p in (stale, live):
        open(p, 'wb').write(b'partial')
    build_runner(tiny_cfg)
    assert not osp.exists(stale) and osp.exists(live)


def test_non_finite_input_never_gets_a_class(tiny_deploy, tmp_path):
    from posecls.apis import inference_recognizer
    from posecls.deploy import init_backend
    from posecls.tools.inference import main
    data = tiny_deploy['array'].copy()
    data[3, 1, 5, 7, 0] = np.nan
    data[4, 0, 0, 0, 0] = np.inf
    path = str(tmp_path / 'nan.npy')
    np.save(path, data)
    out = str(tmp_path / 'pred.txt')
    for model_file in (tiny_deploy['ckpt'], tiny_deploy['onnx']):
        with pytest.raises(NonFiniteInputError, match=r'nan\.npy: non-finite value nan at sample 3'):
            main([tiny_deploy['cfg_file'], model_file, path, '--out', out])
        assert not osp.exists(out)
    with pytest.raises(NonFiniteInputError, match='at sample 3') as e:
        inference_recognizer(tiny_deploy['model'], data)
    assert e.value.indices == [3, 4]
    with pytest.raises(NonFiniteInputError, match=r'sample 1 holds NaN or infinite values \(2 samples'):
        init_backend(tiny_deploy['onnx']).infer(data[2:5])
    batch = torch.from_numpy(data[3:5])
    with pytest.raises(NonFiniteInputError, match='sample 0 and 1 more holds NaN'):
        tiny_deploy['model'].test_step(dict(inputs=list(batch)))


@pytest.mark.parametrize('task', ['inference', 'evaluate'])
def test_posecls_evaluate_and_inference_refuse_non_finite_input(tmp_path, tiny_data_dir, tiny_deploy, capsys, task):
    """The TAO command line ends with one clear line naming the file and the sample."""
    from posecls.tao.cli import main

    from test_tao_e2e import SEED_SPEC
    data = np.load(osp.join(tiny_data_dir, 'val_data.npy'))
    data[2, 0, 1, 2, 0] = np.nan
    bad = str(tmp_path / 'bad.npy')
    np.save(bad, data)
    rc = main([task, '-e', SEED_SPEC, f'results_dir={tmp_path}/r', 'encryption_key=null', 'model.base_channels=4',
               f'{task}.checkpoint={tiny_deploy["ckpt"]}', f'{task}.test_dataset.data_path={bad}',
               f'{task}.test_dataset.label_path={osp.join(tiny_data_dir, "val_label.pkl")}'])
    err = capsys.readouterr().err
    assert rc == 1 and 'bad.npy: non-finite value nan at sample 2' in err
    assert not osp.exists(tmp_path / 'r' / task / 'inference.txt')
