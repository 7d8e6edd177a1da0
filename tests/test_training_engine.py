"""Runner-level behaviour: checkpoints, auto-resume (bit-exact), atomic writes, schedulers, safe loading."""
import os
import os.path as osp

import pytest
import torch

from posecls.tools.common import build_runner
from posecls.utils.atomic_io import atomic_write_bytes
from posecls.utils.checkpoint import load_checkpoint_file

from conftest import tiny_config


def augmenting(cfg):
    """Random augmentation in training, so resume must restore the per-epoch RNG."""
    cfg.train_dataloader.dataset.pipeline = [dict(type='RandomChoose', window_size=24), dict(type='RandomMove'),
                                             dict(type='PackPoseInputs')]
    cfg.model.backbone.dropout = 0.3
    cfg.train_cfg.max_epochs = 3
    return cfg


def final_weights(work_dir):
    return load_checkpoint_file(osp.join(work_dir, 'pc_model_latest.pth'))['state_dict']


def test_interrupted_run_resumes_bit_exactly(tiny_data_dir, tmp_path):
    full = augmenting(tiny_config(tiny_data_dir, str(tmp_path / 'full')))
    build_runner(full).train()

    part = augmenting(tiny_config(tiny_data_dir, str(tmp_path / 'part')))
    part.train_cfg.max_epochs = 1  # "interrupted" after epoch 1 ...
    build_runner(part).train()
    again = augmenting(tiny_config(tiny_data_dir, str(tmp_path / 'part')))  # ... and restarted
    runner = build_runner(again)
    runner.train()
    assert runner.epoch == 3
    a, b = final_weights(str(tmp_path / 'full')), final_weights(str(tmp_path / 'part'))
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    ckpt = load_checkpoint_file(osp.join(str(tmp_path / 'part'), 'model_epoch_003.pth'))
    assert ckpt['meta']['epoch'] == 3 and set(ckpt['rng_state']) >= {'python', 'numpy', 'torch'}


def test_checkpoints_load_with_weights_only_and_no_extra_globals(tiny_cfg):
    build_runner(tiny_cfg).train()
    path = osp.join(tiny_cfg.work_dir, 'model_epoch_002.pth')
    assert torch.serialization.get_unsafe_globals_in_checkpoint(path) == []
    ckpt = torch.load(path, weights_only=True)  # plain torch, no allow-list at all
    assert set(ckpt) >= {'meta', 'state_dict', 'message_hub', 'optimizer', 'param_schedulers', 'rng_state'}
    assert ckpt['meta']['dataset_meta']['classes'][0] == 'sitting_down'


def test_no_auto_resume_and_explicit_resume(tiny_data_dir, tmp_path):
    from posecls.tools.train import main
    cfg = tiny_config(tiny_data_dir, str(tmp_path / 'w'))
    cfg_file = str(tmp_path / 'c.py')
    cfg.dump(cfg_file)
    main([cfg_file, '--cfg-options', 'train_cfg.max_epochs=1'])
    first = os.stat(osp.join(str(tmp_path / 'w'), 'model_epoch_001.pth')).st_mtime_ns
    main([cfg_file, '--cfg-options', 'train_cfg.max_epochs=1', '--no-auto-resume'])
    aside = [d for d in os.listdir(str(tmp_path / 'w')) if d.startswith('superseded_')]
    assert len(aside) == 1 and os.stat(osp.join(str(tmp_path / 'w'), aside[0], 'model_epoch_001.pth')).st_mtime_ns \
        == first  # the first run's checkpoint moved aside, not overwritten
    assert os.stat(osp.join(str(tmp_path / 'w'), 'model_epoch_001.pth')).st_mtime_ns != first  # retrained
    # explicit --resume PATH into a fresh work dir continues from that epoch
    main([cfg_file, '--work-dir', str(tmp_path / 'w2'), '--resume',
          osp.join(str(tmp_path / 'w'), 'model_epoch_001.pth'), '--cfg-options', 'train_cfg.max_epochs=2'])
    assert not osp.exists(osp.join(str(tmp_path / 'w2'), 'model_epoch_001.pth'))
    assert osp.exists(osp.join(str(tmp_path / 'w2'), 'model_epoch_002.pth'))
    with pytest.raises(SystemExit, match='contradict'):
        main([cfg_file, '--resume', '--no-auto-resume'])


def test_latest_is_a_full_checkpoint_between_intervals(tiny_cfg):
    tiny_cfg.default_hooks.checkpoint.interval = 2
    tiny_cfg.train_cfg.max_epochs = 3
    tiny_cfg.default_hooks.checkpoint.save_last = False
    build_runner(tiny_cfg).train()
    wd = tiny_cfg.work_dir
    assert sorted(f for f in os.listdir(wd) if f.endswith('.pth')) == ['model_epoch_002.pth', 'pc_model_latest.pth']
    latest = osp.join(wd, 'pc_model_latest.pth')
    assert not osp.islink(latest)  # epoch 3 wrote no numbered file: latest is a checkpoint of its own
    assert load_checkpoint_file(latest)['meta']['epoch'] == 3
    assert not [f for f in os.listdir(wd) if f.endswith('.tmp')]


def test_atomic_write_keeps_old_file_on_failure(tmp_path, monkeypatch):
    path = str(tmp_path / 'ckpt.pth')
    atomic_write_bytes(path, b'old')

    def broken_replace(src, dst):
        raise OSError('disk full')

    monkeypatch.setattr(os, 'replace', broken_replace)
    with pytest.raises(OSError, match='disk full'):
        atomic_write_bytes(path, b'new-but-interrupted')
    assert open(path, 'rb').read() == b'old'
    assert os.listdir(tmp_path) == ['ckpt.pth']  # no temporary file left behind


def lrs(runner):
    return [g['lr'] for g in runner.optim_wrapper.optimizer.param_groups]


def test_autoreduce_on_val_loss_reduces_after_patience(tiny_cfg):
    tiny_cfg.param_scheduler = [dict(type='AutoReduceLR', monitor='val_loss', factor=0.1, patience=0,
                                     min_value=1e-4, threshold=10.0)]  # nothing counts as improvement
    tiny_cfg.train_cfg.max_epochs = 3
    runner = build_runner(tiny_cfg)
    runner.train()
    # no validation improves by 1000 % (not even the first on the initial "worst" value): every validation
    # reduces, the last one included (mmengine's default end=max_epochs used to skip it), down to min_value
    import json
    history = json.load(open(osp.join(tiny_cfg.work_dir, 'training_history.json')))
    assert [r['lr'] for r in history] == pytest.approx([0.1, 0.01, 0.001])
    assert lrs(runner)[0] == pytest.approx(1e-4)


def test_autoreduce_on_train_loss(tiny_cfg):
    tiny_cfg.param_scheduler = [dict(type='AutoReduceLR', monitor='train_loss', factor=0.5, patience=0,
                                     min_value=0.04, threshold=10.0)]
    tiny_cfg.train_cfg.max_epochs = 4
    tiny_cfg.val_cfg = None
    tiny_cfg.val_dataloader = None
    tiny_cfg.val_evaluator = None
    runner = build_runner(tiny_cfg)
    runner.train()
    assert lrs(runner)[0] == pytest.approx(0.04)  # 0.1 -> 0.05 -> 0.04 (min_lr) -> 0.04


def test_multistep_and_grad_clip(tiny_cfg):
    tiny_cfg.param_scheduler = [dict(type='MultiStepLR', by_epoch=True, milestones=[1], gamma=0.1)]
    tiny_cfg.optim_wrapper.clip_grad = dict(max_norm=1e-6, norm_type=2)
    runner = build_runner(tiny_cfg)
    before = {k: v.clone() for k, v in runner.model.state_dict().items()}
    runner.train()
    assert lrs(runner)[0] == pytest.approx(0.01)
    # with a tiny max_norm every update is minute (SGD lr <= 0.1, clipped grads, wd 1e-4)
    w = 'backbone.st_gcn_networks.1.tcn.2.weight'
    assert (runner.model.state_dict()[w] - before[w]).abs().max() < 1e-3


def test_too_small_training_set_is_a_clear_error(tiny_cfg):
    tiny_cfg.train_dataloader.batch_size = 64
    with pytest.raises(ValueError, match='fewer than one batch'):
        build_runner(tiny_cfg).train()
