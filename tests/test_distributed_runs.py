"""Real 2-process runs on CPU (gloo): tools/dist_train.sh, launch(), tools/dist_test.sh.

Four torchrun launches (~10 s each on 2 cores) shared by the tests through module fixtures:
    A  tools/dist_train.sh CFG 2, 2 epochs;
    B  launch('posecls.tools.train', ...) for 1 epoch, then again with 2 epochs (auto-resume);
    T  tools/dist_test.sh CFG A/model_epoch_002.pth 2 on a 7-sample set, against tools/test.py in-process.
tests/dist_probe.py records, per rank, the dataset indices of every training batch and the final weights.
"""
import glob
import json
import os
import os.path as osp
import signal
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmengine.config import Config

from posecls.datasets.label_io import load_label_file, save_label_file
from posecls.engine.launcher import launch
from posecls.registry import MODELS
from posecls.tools.test import main as run_test_tool
from posecls.utils.checkpoint import load_checkpoint_file

from conftest import REPO, free_port, tiny_config
from dist_probe import weights_sha1

TESTS = osp.dirname(osp.abspath(__file__))
WORLD = 2
SEED = 1234  # randomness.seed of configs/stgcn_nvidia.py: DefaultSampler shuffles with seed + epoch
N_TRAIN, TRAIN_BS, N_EVAL = 12, 2, 7


def child_env(**extra) -> dict:
    """Environment of the launched processes: 1 thread each, the probe module importable."""
    env = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1', PYTHON=sys.executable, PYTHONPATH=TESTS)
    for name in ('RANK', 'LOCAL_RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT'):
        env.pop(name, None)
    env.update(extra)
    return env


def run_script(args, cwd, timeout=300, **env):
    """Run a tools/*.sh script in its own process group; kill the whole group if it hangs."""
    proc = subprocess.Popen(['bash'] + args, cwd=cwd, env=child_env(**env), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        pytest.fail(f'{args} timed out:\n{out[-4000:]}')
    assert proc.returncode == 0, f'{args} failed ({proc.returncode}):\n{out[-6000:]}'
    return out


@pytest.fixture(scope='module')
def setup(tiny_data_dir, tmp_path_factory):
    """Data (12 train sequences, an odd 7-sample evaluation set), the config file, folders."""
    root = tmp_path_factory.mktemp('dist')
    names, labels = load_label_file(osp.join(tiny_data_dir, 'train_label.pkl'))
    assert len(names) == N_TRAIN
    data = np.load(osp.join(tiny_data_dir, 'train_data.npy'))
    np.save(str(root / 'eval_data.npy'), data[:N_EVAL])
    save_label_file(str(root / 'eval_label.pkl'), names[:N_EVAL], labels[:N_EVAL])
    cfg = tiny_config(tiny_data_dir, str(root / 'unused'),
                      custom_imports=dict(imports=['dist_probe'], allow_failed_imports=False),
                      custom_hooks=[dict(type='DistProbeHook', out_dir=str(root / 'probe'))])
    cfg.train_dataloader.batch_size = TRAIN_BS
    for split in ('val', 'test'):
        ds = cfg[f'{split}_dataloader']['dataset']
        ds['data_path'], ds['label_path'] = str(root / 'eval_data.npy'), str(root / 'eval_label.pkl')
    cfg.dump(str(root / 'cfg.py'))
    return root


def probe(root, work_name):
    """{rank: [records]} written by DistProbeHook for the run in work dir ``work_name``."""
    out = {}
    for rank in range(WORLD):
        with open(osp.join(str(root), 'probe', work_name, f'rank{rank}.jsonl')) as f:
            out[rank] = [json.loads(line) for line in f]
    return out


def epoch_samples(records, epoch):
    """Dataset indices one rank trained on in ``epoch``, in order."""
    return [i for r in records if r['event'] == 'iter' and r['epoch'] == epoch for i in r['samples']]


def state_dict(path):
    """The state_dict saved in a checkpoint file."""
    return load_checkpoint_file(path)['state_dict']


@pytest.fixture(scope='module')
def run_a(setup):
    """tools/dist_train.sh CFG 2 from another cwd: 2 epochs."""
    work = str(setup / 'A')
    out = run_script([osp.join(REPO, 'tools', 'dist_train.sh'), 'cfg.py', str(WORLD), '--work-dir', work],
                     cwd=str(setup), PORT=str(free_port()))
    return work, out


@pytest.fixture(scope='module')
def run_b(setup):
    """launch() for 1 epoch (an 'interrupted' run), then the full 2 epochs in the same work dir."""
    work = str(setup / 'B')
    args = [str(setup / 'cfg.py'), '--launcher', 'pytorch', '--work-dir', work]
    env = child_env()  # PYTHONPATH=tests/ for the probe; launch() puts the checkout first
    codes = [launch('posecls.tools.train', args + ['--cfg-options', 'train_cfg.max_epochs=1'], WORLD,
                    master_port=free_port(), env=env, cwd=str(setup)),
             launch('posecls.tools.train', args, WORLD, master_port=free_port(), env=env, cwd=str(setup))]
    assert codes == [0, 0]
    return work


def test_both_ranks_train_on_disjoint_shards_reshuffled_every_epoch(setup, run_a):
    records = probe(setup, 'A')
    per_rank_iters = N_TRAIN // WORLD // TRAIN_BS
    for epoch in range(2):
        expected = torch.randperm(N_TRAIN, generator=torch.Generator().manual_seed(SEED + epoch)).tolist()
        shards = [epoch_samples(records[rank], epoch) for rank in range(WORLD)]
        for rank in range(WORLD):
            iters = [r for r in records[rank] if r['event'] == 'iter' and r['epoch'] == epoch]
            assert len(iters) == per_rank_iters and all(r['world_size'] == WORLD for r in iters)
            assert shards[rank] == expected[rank::WORLD]  # DistributedSampler sharding, seed + epoch
        assert sorted(shards[0] + shards[1]) == list(range(N_TRAIN))  # every sample once per epoch
    for rank in range(WORLD):
        assert epoch_samples(records[rank], 0) != epoch_samples(records[rank], 1)
    ends = [[r for r in records[rank] if r['event'] == 'end'] for rank in range(WORLD)]
    assert len(ends[0]) == len(ends[1]) == 1
    assert ends[0][0]['weights_sha1'] == ends[1][0]['weights_sha1']  # DDP kept the replicas identical


def test_rank0_alone_writes_checkpoints_and_logs(setup, run_a):
    work, out = run_a
    top = sorted(os.listdir(work))
    stamps = [d for d in top if osp.isdir(osp.join(work, d))]
    assert len(stamps) == 1, top
    assert sorted(set(top) - set(stamps)) == ['cfg.py', 'last_checkpoint', 'model_epoch_001.pth',
                                              'model_epoch_002.pth', 'pc_model_latest.pth', 'training_history.json']
    assert osp.realpath(osp.join(work, 'pc_model_latest.pth')) == osp.join(work, 'model_epoch_002.pth')
    logs = glob.glob(osp.join(work, '**', '*.log'), recursive=True)
    assert [osp.basename(p) for p in logs] == [f'{stamps[0]}.log']
    with open(logs[0]) as f:
        log = f.read()
    assert 'Distributed: rank 0 of 2 processes, backend gloo, device cpu' in log
    assert 'rank 1 of 2' not in log and 'rank 1 of 2' not in out  # rank 1 logs errors only
    assert log.count('Saving checkpoint at 2 epochs') == 1
    assert out.count('Epoch 2/2  loss') == 1  # the quiet console: rank 0 alone prints progress
    sd = state_dict(osp.join(work, 'model_epoch_002.pth'))
    assert not any(k.startswith('module.') for k in sd)  # the unwrapped model is saved
    model = MODELS.build(Config.fromfile(osp.join(str(setup), 'cfg.py')).model)
    model.load_state_dict(sd)
    assert weights_sha1(model) == probe(setup, 'A')[0][-1]['weights_sha1']


@pytest.mark.slow
def test_interrupted_run_resumes_like_uninterrupted(setup, run_a, run_b):
    a, b = probe(setup, 'A'), probe(setup, 'B')
    for rank in range(WORLD):
        ends = [r for r in b[rank] if r['event'] == 'end']
        assert [r['epoch'] for r in ends] == [1, 2]  # first launch stopped after 1 epoch, second finished 2
        second = b[rank][b[rank].index(ends[0]) + 1:]
        assert min(r['epoch'] for r in second if r['event'] == 'iter') == 1  # resumed at epoch 1, not 0
        for epoch in range(2):  # the same shards as run A: identical across reruns and after resume
            assert epoch_samples(b[rank], epoch) == epoch_samples(a[rank], epoch)
        assert ends[1]['weights_sha1'] == a[rank][-1]['weights_sha1']
    sd_a = state_dict(osp.join(run_a[0], 'model_epoch_002.pth'))
    sd_b = state_dict(osp.join(run_b, 'model_epoch_002.pth'))
    assert sd_a.keys() == sd_b.keys()
    assert all(torch.equal(sd_a[k], sd_b[k]) for k in sd_a)


def test_dist_test_matches_single_process_on_odd_sized_set(setup, run_a):
    ckpt = osp.join(run_a[0], 'model_epoch_002.pth')
    single = str(setup / 'T1')
    run_test_tool([str(setup / 'cfg.py'), ckpt, '--work-dir', single, '--dump', osp.join(single, 'pred.json')])
    dist = str(setup / 'T2')
    run_script([osp.join(REPO, 'tools', 'dist_test.sh'), 'cfg.py', ckpt, str(WORLD), '--work-dir', dist,
                '--dump', osp.join(dist, 'pred.json')], cwd=str(setup), PORT=str(free_port()))
    reports = []
    for folder in (single, dist):
        paths = glob.glob(osp.join(folder, '*', 'metrics.json'))
        assert len(paths) == 1, paths
        with open(paths[0]) as f:
            reports.append(json.load(f))
    assert np.sum(reports[0]['confusion_matrix']) == N_EVAL  # no duplicated or dropped sample
    assert reports[1]['confusion_matrix'] == reports[0]['confusion_matrix']
    assert reports[1]['per_class_accuracy'] == reports[0]['per_class_accuracy']
    for key in ('total_accuracy', 'mean_class_accuracy', 'topk_accuracy', 'kpi'):
        assert reports[1][key] == reports[0][key], key
    assert reports[1]['loss'] == pytest.approx(reports[0]['loss'], rel=1e-6, abs=1e-7)
    preds = []
    for folder in (single, dist):
        with open(osp.join(folder, 'pred.json')) as f:
            preds.append(json.load(f))
    names, _ = load_label_file(str(setup / 'eval_label.pkl'))
    assert [p['sample_name'] for p in preds[0]] == [p['sample_name'] for p in preds[1]] == names
    assert [p['pred_label'] for p in preds[1]] == [p['pred_label'] for p in preds[0]]
    np.testing.assert_allclose([p['pred_logits'] for p in preds[1]], [p['pred_logits'] for p in preds[0]],
                               rtol=1e-5, atol=1e-6)
