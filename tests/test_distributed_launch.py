"""Distributed set-up without multi-process runs: launch helpers, scripts, backends, DDP on CPU, SyncBN, LR scaling.

The real 2-process runs are in test_distributed_runs.py.
"""
import os
import os.path as osp
import re
import subprocess
import sys

import pytest
import torch
import torch.distributed as torch_dist
from mmengine.model import MMDistributedDataParallel, convert_sync_batchnorm
from torch import nn

from posecls.engine import launcher as launch_mod
from posecls.engine.distributed import init_distributed, resolve_backend, shutdown_distributed, slurm_env
from posecls.engine.launcher import select_devices, torchrun_command
from posecls.registry import MODELS
from posecls.tools.common import build_runner, load_config
from posecls.tools.test import main as run_test_tool
from posecls.tools.train import main as run_train_tool
from posecls.utils.checkpoint import load_checkpoint_file

from conftest import REPO, free_port, tiny_config

TORCHRUN_VARS = ('RANK', 'LOCAL_RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT', 'LOCAL_WORLD_SIZE')


# ----------------------------------------------------------------------------------------------- select_devices


@pytest.mark.parametrize('num_gpus, gpu_ids, visible, nproc, ids', [
    (1, None, '0', 1, [0]),          # TAO defaults
    (2, [0, 1], '0,1', 2, [0, 1]),   # agreeing
    (1, [3], '3', 1, [3]),           # one chosen GPU
    (1, [2, 3], '2,3', 2, [2, 3]),   # gpu_ids is the larger set: kept
    (4, [2], '0,1,2,3', 4, [0, 1, 2, 3]),  # num_gpus is larger: gpu_ids replaced by range(num_gpus)
    (3, None, '0,1,2', 3, [0, 1, 2]),
    (2, [], '0,1', 2, [0, 1]),
])
def test_select_devices_follows_tao_rule(num_gpus, gpu_ids, visible, nproc, ids):
    sel = select_devices(num_gpus, gpu_ids, visible_devices='')
    assert sel == (visible, nproc, ids)
    assert sel.nproc_per_node == nproc and sel.cuda_visible_devices == visible


def test_select_devices_indexes_into_existing_cuda_visible_devices():
    assert select_devices(2, [0, 1], visible_devices='4,5,6').cuda_visible_devices == '4,5'
    assert select_devices(1, [2], visible_devices='GPU-a, GPU-b, GPU-c').cuda_visible_devices == 'GPU-c'
    with pytest.raises(ValueError, match=r"CUDA_VISIBLE_DEVICES='4,5', which has only 2 devices"):
        select_devices(1, [2], visible_devices='4,5')


@pytest.mark.parametrize('num_gpus, gpu_ids, message', [
    (0, None, 'num_gpus must be an integer >= 1, got 0'),
    ('2', None, "num_gpus must be an integer >= 1, got '2'"),
    (1, [-1], r'gpu_ids must be a list of integers >= 0, got \[-1\]'),
    (2, [1, 1], r'gpu_ids has duplicates: \[1, 1\]'),
])
def test_select_devices_rejects_bad_values(num_gpus, gpu_ids, message):
    with pytest.raises(ValueError, match=message):
        select_devices(num_gpus, gpu_ids, visible_devices='')


# --------------------------------------------------------------------------------------------- torchrun_command


def test_torchrun_command_module_and_script():
    cmd = torchrun_command('posecls.tools.train', ['cfg.py', '--launcher', 'pytorch'], nproc_per_node=2)
    assert cmd == [sys.executable, '-m', 'torch.distributed.run', '--nnodes=1', '--node-rank=0',
                   '--nproc-per-node=2', '--master-addr=127.0.0.1', '--master-port=29500',
                   '-m', 'posecls.tools.train', 'cfg.py', '--launcher', 'pytorch']
    cmd = torchrun_command('/x/tools/test.py', ['c', 'k', 3], 8, nnodes=2, node_rank=1, master_addr='10.0.0.1',
                           master_port=1234)
    assert cmd[3:] == ['--nnodes=2', '--node-rank=1', '--nproc-per-node=8', '--master-addr=10.0.0.1',
                       '--master-port=1234', '/x/tools/test.py', 'c', 'k', '3']


@pytest.mark.parametrize('kwargs, message', [
    (dict(nproc_per_node=0), 'nproc_per_node must be an integer >= 1, got 0'),
    (dict(nproc_per_node=1, nnodes=2, node_rank=2), r'node_rank must be in \[0, 2\), got 2'),
    (dict(nproc_per_node=1, master_port=0), 'master_port must be an integer >= 1, got 0'),
])
def test_torchrun_command_rejects_bad_sizes(kwargs, message):
    with pytest.raises(ValueError, match=message):
        torchrun_command('posecls.tools.train', [], **kwargs)


def test_launch_sets_pythonpath_and_devices_and_returns_exit_code(tmp_path, monkeypatch):
    """launch() runs torchrun's command with this checkout first on PYTHONPATH (the command itself is stubbed)."""
    seen = {}

    def fake_run(cmd, env, cwd):
        seen.update(cmd=cmd, env=env, cwd=cwd)
        return subprocess.CompletedProcess(cmd, 3)

    monkeypatch.setattr(launch_mod.subprocess, 'run', fake_run)
    monkeypatch.setenv('PYTHONPATH', '/elsewhere')
    code = launch_mod.launch('posecls.tools.train', ['c.py'], 2, cuda_visible_devices='4,5', env=dict(FOO='1'),
                             cwd=str(tmp_path))
    assert code == 3
    assert seen['cmd'] == torchrun_command('posecls.tools.train', ['c.py'], 2)
    assert seen['env']['PYTHONPATH'] == REPO + os.pathsep + '/elsewhere'
    assert seen['env']['CUDA_VISIBLE_DEVICES'] == '4,5' and seen['env']['FOO'] == '1'
    assert seen['cwd'] == str(tmp_path)
    assert launch_mod.repo_root() == REPO


# ---------------------------------------------------------------------------------------------- shell scripts


@pytest.mark.parametrize('script, args, usage', [
    ('dist_train.sh', ['c.py'], 'usage: .*dist_train.sh CONFIG GPUS'),
    ('dist_test.sh', ['c.py', 'k.pth'], 'usage: .*dist_test.sh CONFIG CHECKPOINT GPUS'),
    ('dist_train.sh', ['c.py', '0'], "GPUS .* must be a positive integer, got '0'"),
    ('dist_test.sh', ['c.py', 'k.pth', 'two'], "GPUS .* must be a positive integer, got 'two'"),
    ('slurm_train.sh', ['p', 'j'], 'usage: .*slurm_train.sh PARTITION JOB_NAME CONFIG'),
    ('slurm_test.sh', ['p', 'j', 'c.py'], 'usage: .*slurm_test.sh PARTITION JOB_NAME CONFIG CHECKPOINT'),
])
def test_scripts_reject_missing_arguments(script, args, usage):
    out = subprocess.run(['bash', osp.join(REPO, 'tools', script)] + args, capture_output=True, text=True)
    assert out.returncode == 2
    assert re.search(usage, out.stderr), out.stderr


@pytest.mark.parametrize('script, positional, tool', [
    ('slurm_train.sh', ['gpu', 'job', 'c.py'], ['tools/train.py', 'c.py']),
    ('slurm_test.sh', ['gpu', 'job', 'c.py', 'k.pth'], ['tools/test.py', 'c.py', 'k.pth']),
])
def test_slurm_scripts_build_srun_command(tmp_path, script, positional, tool):
    """A recording `srun` on PATH shows the command slurm would run (no cluster here)."""
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    (bin_dir / 'srun').write_text('#!/bin/sh\nfor a in "$@"; do echo "$a"; done\necho "PYTHONPATH=$PYTHONPATH"\n')
    (bin_dir / 'srun').chmod(0o755)
    env = dict(os.environ, PATH=f'{bin_dir}:{os.environ["PATH"]}', GPUS='4', GPUS_PER_NODE='2',
               SRUN_ARGS='--time=10 --mem=4G', PYTHONPATH='/elsewhere')
    out = subprocess.run(['bash', osp.join(REPO, 'tools', script)] + positional + ['--work-dir', 'a b'],
                         capture_output=True, text=True, env=env, cwd=str(tmp_path), check=True)
    args = out.stdout.splitlines()
    assert args[:2] == ['-p', 'gpu'] and '--job-name=job' in args
    assert '--gres=gpu:2' in args and '--ntasks=4' in args and '--ntasks-per-node=2' in args
    assert '--time=10' in args and '--mem=4G' in args
    py = args.index('-u')
    assert args[py + 1:py + 1 + len(tool)] == [osp.join(REPO, tool[0])] + tool[1:]
    assert args[py + 1 + len(tool):-1] == ['--launcher', 'slurm', '--work-dir', 'a b']
    assert args[-1] == f'PYTHONPATH={REPO}:/elsewhere'
    env['GRES'] = ''  # CPU-only partitions
    out = subprocess.run(['bash', osp.join(REPO, 'tools', script)] + positional, capture_output=True, text=True,
                         env=env, cwd=str(tmp_path), check=True)
    assert not any(a.startswith('--gres') for a in out.stdout.splitlines())


# ------------------------------------------------------------------------------------------ backend, env, guards


@pytest.mark.parametrize('backend, cuda, expected', [
    ('auto', False, 'gloo'), ('auto', True, 'nccl'), (None, False, 'gloo'), ('gloo', True, 'gloo'),
    ('nccl', True, 'nccl'),
])
def test_resolve_backend(backend, cuda, expected):
    assert resolve_backend(backend, cuda_available=cuda) == expected


def test_nccl_without_cuda_is_a_clear_error():
    with pytest.raises(ValueError, match=r"backend='nccl' needs CUDA GPUs.*use backend='gloo'"):
        resolve_backend('nccl', cuda_available=False)


def test_slurm_env_maps_slurm_variables():
    env = dict(SLURM_PROCID='5', SLURM_NTASKS='8', SLURM_NODELIST='node[1-2]', SLURM_LOCALID='1')
    assert slurm_env(env, lambda nodes: {'node[1-2]': 'node1'}[nodes]) == dict(
        RANK='5', LOCAL_RANK='1', WORLD_SIZE='8', MASTER_ADDR='node1', MASTER_PORT='29500')
    env.update(MASTER_ADDR='10.1.1.1', MASTER_PORT='1234')
    got = slurm_env(env, lambda nodes: 'unused')
    assert (got['MASTER_ADDR'], got['MASTER_PORT']) == ('10.1.1.1', '1234')
    with pytest.raises(KeyError, match=r"\['SLURM_NTASKS', 'SLURM_NODELIST'\].*srun"):
        slurm_env(dict(SLURM_PROCID='0'), lambda nodes: 'x')


@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the CPU path')
def test_pytorch_launcher_without_torchrun_variables_is_a_clear_error(monkeypatch):
    for name in TORCHRUN_VARS:
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(KeyError, match=r"\['RANK', 'LOCAL_RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT'\]"
                       r".*tools/dist_train.sh"):
        init_distributed('pytorch', dict(backend='auto'))
    assert not torch_dist.is_initialized()


@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the CPU path')
def test_slurm_launcher_on_cpu_builds_group_from_slurm_variables(monkeypatch):
    for name in ('RANK', 'LOCAL_RANK', 'WORLD_SIZE'):
        monkeypatch.setenv(name, 'stale')  # replaced from SLURM_*; monkeypatch restores them afterwards
    monkeypatch.setenv('MASTER_ADDR', '127.0.0.1')  # set: no scontrol call
    monkeypatch.setenv('MASTER_PORT', str(free_port()))
    for k, v in dict(SLURM_PROCID='0', SLURM_NTASKS='1', SLURM_LOCALID='0', SLURM_NODELIST='node-a').items():
        monkeypatch.setenv(k, v)
    try:
        assert init_distributed('slurm', dict(backend='auto', timeout=60)) == 'gloo'
        assert torch_dist.get_backend() == 'gloo' and torch_dist.get_world_size() == 1
        assert (os.environ['RANK'], os.environ['LOCAL_RANK'], os.environ['WORLD_SIZE']) == ('0', '0', '1')
    finally:
        if torch_dist.is_initialized():
            torch_dist.destroy_process_group()


def test_tools_refuse_launcher_none_under_torchrun(tiny_cfg_file, monkeypatch):
    monkeypatch.setenv('WORLD_SIZE', '2')
    with pytest.raises(ValueError, match=r'one of 2 processes \(WORLD_SIZE\) but with --launcher none.*'
                       '--launcher pytorch'):
        load_config(tiny_cfg_file)
    assert load_config(tiny_cfg_file, launcher='pytorch').launcher == 'pytorch'
    monkeypatch.setenv('WORLD_SIZE', '1')  # torchrun with one process: a normal single-process run
    assert load_config(tiny_cfg_file).launcher == 'none'


# --------------------------------------------------------------------- PoseRunner in a one-process gloo group


@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the CPU path')
def test_pose_runner_builds_gloo_group_and_cpu_ddp(tiny_data_dir, tmp_path, one_process_group):
    cfg = tiny_config(tiny_data_dir, str(tmp_path / 'work'), launcher='pytorch')
    runner = build_runner(cfg)
    assert torch_dist.is_initialized() and torch_dist.get_backend() == 'gloo'
    assert runner.distributed and runner.world_size == 1
    assert isinstance(runner.model, MMDistributedDataParallel)
    assert runner.model.device_ids is None
    assert next(runner.model.parameters()).device.type == 'cpu'


def test_shutdown_distributed_is_a_no_op_without_a_group():
    assert not torch_dist.is_initialized()
    assert shutdown_distributed() is False


@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the CPU path')
def test_train_and_test_tools_destroy_their_process_group(tiny_cfg_file, tmp_path, one_process_group):
    """A gloo group left alive at interpreter exit can abort a finished run (SIGABRT): the tools destroy it."""
    work = str(tmp_path / 'work')
    run_train_tool([tiny_cfg_file, '--launcher', 'pytorch', '--work-dir', work,
                    '--cfg-options', 'train_cfg.max_epochs=1'])
    assert not torch_dist.is_initialized()
    ckpt = osp.join(work, 'model_epoch_001.pth')
    assert osp.isfile(ckpt)
    metrics = run_test_tool([tiny_cfg_file, ckpt, '--launcher', 'pytorch', '--work-dir', str(tmp_path / 'test')])
    assert 'acc/top1' in metrics
    assert not torch_dist.is_initialized()


@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the CPU path')
def test_sync_bn_on_cpu_is_a_clear_error(tiny_data_dir, tmp_path, one_process_group):
    cfg = tiny_config(tiny_data_dir, str(tmp_path / 'work'), launcher='pytorch', sync_bn='torch')
    with pytest.raises(ValueError, match=r"cfg.sync_bn='torch' needs CUDA GPUs.*Remove sync_bn"):
        build_runner(cfg)


def test_sync_bn_converts_every_batchnorm_and_keeps_checkpoint_keys(tiny_cfg):
    """cfg.sync_bn='torch' makes mmengine's wrap_model convert like this (GPU runs); checkpoints stay portable."""
    model = MODELS.build(tiny_cfg.model)
    plain_bns = [n for n, m in model.named_modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    assert 'backbone.data_bn' in plain_bns and len(plain_bns) >= 10
    keys = list(model.state_dict())
    synced = convert_sync_batchnorm(model, 'torch')
    sync_bns = [n for n, m in synced.named_modules() if isinstance(m, nn.SyncBatchNorm)]
    assert sync_bns == plain_bns
    assert list(synced.state_dict()) == keys
    fresh = MODELS.build(tiny_cfg.model)
    fresh.load_state_dict(synced.state_dict(), strict=True)


def test_sync_bn_is_ignored_with_a_warning_when_not_distributed(tiny_data_dir, tmp_path):
    cfg = tiny_config(tiny_data_dir, str(tmp_path / 'work'), sync_bn='torch')
    runner = build_runner(cfg)
    assert not any(isinstance(m, nn.SyncBatchNorm) for m in runner.model.modules())
    with open(runner.logger.log_file) as f:
        assert "sync_bn='torch' is ignored: the run is not distributed" in f.read()


# ----------------------------------------------------------------------------------------------- LR scaling


def test_auto_scale_lr_scales_by_world_size_times_batch(tiny_cfg_file, tmp_path):
    from posecls.tools.train import main
    work = str(tmp_path / 'scaled')
    main([tiny_cfg_file, '--work-dir', work, '--auto-scale-lr', '--no-validate',
          '--cfg-options', 'train_cfg.max_epochs=1', 'auto_scale_lr.base_batch_size=16'])
    ckpt = load_checkpoint_file(osp.join(work, 'model_epoch_001.pth'))
    # lr 0.1 tuned for 16 samples per step; 1 process x batch 4 -> 0.1 * 4 / 16
    assert ckpt['optimizer']['param_groups'][0]['lr'] == pytest.approx(0.025)
