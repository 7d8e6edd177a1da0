"""kill -9 at any point (mid-epoch, mid-checkpoint-write, during validation), then the same command again: the
uninterrupted run's final weights, optimizer state, LR history and every epoch's validation metrics.

Training runs in real subprocesses (tools/train.py) that are SIGKILLed by tests/helpers/fault_points.py."""
import json
import os
import os.path as osp
import signal
import subprocess
import sys

import pytest
import torch

from posecls.utils.checkpoint import load_checkpoint_file

from conftest import REPO, tiny_config

EPOCHS = 4
SCHEDULES = {
    'multistep': [dict(type='MultiStepLR', by_epoch=True, milestones=[2, 3], gamma=0.1)],
    # TAO's AutoReduce on val_loss with patience 1, and on accuracy with patience 0 (a plateau every epoch here)
    'val_loss': [dict(type='AutoReduceLR', monitor='val_loss', rule='less', factor=0.1, patience=1, min_value=1e-6,
                      threshold=10.0)],
    'acc': [dict(type='AutoReduceLR', monitor='acc/top1', rule='greater', factor=0.1, patience=0, min_value=1e-6,
                 threshold=10.0)],
    'cosine': [dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=1, convert_to_iter_based=True),
               dict(type='CosineAnnealingLR', T_max=3, eta_min=0.0, by_epoch=True, begin=1, end=EPOCHS,
                    convert_to_iter_based=True)],
}


def _config(tiny_data_dir, tmp_path, schedule, kill=None):
    cfg = tiny_config(tiny_data_dir, str(tmp_path / 'work'))
    cfg.param_scheduler = SCHEDULES[schedule]
    cfg.train_cfg.max_epochs = EPOCHS
    cfg.default_hooks.checkpoint.interval = 2  # numbered files at 2 and 4, a full pc_model_latest.pth between
    cfg.train_dataloader.dataset.pipeline = [dict(type='RandomMove'), dict(type='PackPoseInputs')]
    if kill is not None:
        point, epoch = kill
        cfg.custom_imports = dict(imports=['helpers.fault_points'], allow_failed_imports=False)
        cfg.custom_hooks = [dict(type='KillAt', point=point, epoch=epoch, marker=str(tmp_path / 'killed'))]
    path = str(tmp_path / 'cfg.py')
    cfg.dump(path)
    return path


def _train(cfg_file, work_dir):
    path = os.pathsep.join([osp.join(REPO, 'tests'), REPO, os.environ.get('PYTHONPATH', '')])
    env = dict(os.environ, PYTHONPATH=path, OMP_NUM_THREADS='1')
    return subprocess.run([sys.executable, osp.join(REPO, 'tools', 'train.py'), cfg_file, '--work-dir', work_dir],
                          env=env, capture_output=True, text=True, timeout=600)


def _outcome(work_dir):
    ckpt = load_checkpoint_file(osp.join(work_dir, 'pc_model_latest.pth'))
    with open(osp.join(work_dir, 'training_history.json')) as f:
        history = json.load(f)
    return ckpt, history


def _same(a, b):
    (ca, ha), (cb, hb) = a, b
    assert ca['meta']['epoch'] == cb['meta']['epoch'] == EPOCHS
    for k in ca['state_dict']:
        assert torch.equal(ca['state_dict'][k], cb['state_dict'][k]), k
    for k, v in ca['optimizer']['state'].items():
        assert torch.equal(v['momentum_buffer'], cb['optimizer']['state'][k]['momentum_buffer']), k
    assert ca['optimizer']['param_groups'][0]['lr'] == cb['optimizer']['param_groups'][0]['lr']
    assert ha == hb  # lr, train loss and validation metrics of every epoch
    assert [r['epoch'] for r in ha] == list(range(1, EPOCHS + 1)) and all('val' in r for r in ha)


@pytest.fixture(scope='module')
def uninterrupted(tiny_data_dir, tmp_path_factory):
    cache = {}

    def get(schedule):
        if schedule not in cache:
            tmp = tmp_path_factory.mktemp(f'ref_{schedule}')
            res = _train(_config(tiny_data_dir, tmp, schedule), str(tmp / 'work'))
            assert res.returncode == 0, res.stderr[-3000:]
            cache[schedule] = _outcome(str(tmp / 'work'))
        return cache[schedule]
    return get


#: the first case is the fast subset's (pytest -m "not slow"); the default run covers all of them
CASES = [('val_loss', ('during_val', 2)), ('multistep', ('mid_epoch', 3)), ('multistep', ('mid_checkpoint_write', 2)),
         ('acc', ('during_val', 3)), ('cosine', ('during_val', 2)), ('cosine', ('mid_epoch', 2)),
         ('val_loss', ('mid_checkpoint_write', 4)), ('acc', ('mid_epoch', 1))]


@pytest.mark.parametrize('schedule, kill', [
    pytest.param(s, k, marks=() if i < 1 else pytest.mark.slow, id=f'{s}-{k[0]}-epoch{k[1]}')
    for i, (s, k) in enumerate(CASES)])
def test_kill_9_then_the_same_command_gives_the_uninterrupted_run(tiny_data_dir, tmp_path, uninterrupted,
                                                                  schedule, kill):
    cfg_file = _config(tiny_data_dir, tmp_path, schedule, kill)
    work = str(tmp_path / 'work')
    first = _train(cfg_file, work)
    assert first.returncode == -signal.SIGKILL and osp.exists(tmp_path / 'killed'), first.stderr[-3000:]
    if kill[0] == 'mid_checkpoint_write':
        assert any(n.endswith('.tmp') for n in os.listdir(work))  # the interrupted write's temporary file
    again = _train(cfg_file, work)
    assert again.returncode == 0, again.stderr[-3000:]
    assert not any(n.endswith('.tmp') for n in os.listdir(work))  # removed at the start of the second run
    _same(uninterrupted(schedule), _outcome(work))
