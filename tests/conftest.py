"""Shared fixtures: a tiny sample dataset and a tiny training config (seconds on 2 CPU cores)."""
import os
import os.path as osp
import sys
import uuid

os.environ.setdefault('GOMP_SPINCOUNT', '10000')  # before torch starts OpenMP (as posecls/__init__.py does)

import pytest
from mmengine.config import Config

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
SHARED_DATA = osp.join(osp.dirname(REPO), 'shared', 'data')
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from posecls.datasets.sample_data import LABEL_MAP, write_sample_dataset  # noqa: E402
from posecls.utils import register_all_modules  # noqa: E402
from posecls.utils.network import free_port  # noqa: E402,F401  (re-exported to the tests)

register_all_modules()

TINY_T = 32


@pytest.fixture(scope='session', autouse=True)
def outside_the_repository(tmp_path_factory):
    """Run every test from an empty working directory: relative paths in specs and configs (``data/...``,
    ``work_dirs/...``) must never reach the repository's own data or outputs, whether or not the main job ran."""
    previous = os.getcwd()
    os.chdir(tmp_path_factory.mktemp('cwd'))
    yield
    os.chdir(previous)


@pytest.fixture(scope='session')
def tiny_data_dir(tmp_path_factory):
    """A 6-class NVIDIA-layout dataset: 2 train / 1 val sequences per class, T=32."""
    out = tmp_path_factory.mktemp('tiny_data')
    write_sample_dataset(str(out), num_train_per_class=2, num_val_per_class=1, seed=0, t_max=TINY_T,
                         length_range=(20, 32))
    return str(out)


def tiny_config(data_dir: str, work_dir: str, **overrides) -> Config:
    """configs/stgcn_nvidia.py shrunk to a 4-channel ST-GCN, 2 epochs, batch 4, no workers."""
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'stgcn_nvidia.py'))
    cfg.merge_from_dict({
        'model.backbone.base_channels': 4,
        'model.cls_head.in_channels': 16,
        'train_dataloader.batch_size': 4,
        'train_dataloader.num_workers': 0,
        'val_dataloader.batch_size': 4,
        'val_dataloader.num_workers': 0,
        'test_dataloader.batch_size': 4,
        'test_dataloader.num_workers': 0,
        'train_cfg.max_epochs': 2,
        'train_cfg.val_interval': 1,
        'default_hooks.checkpoint.interval': 1,
        'default_hooks.logger.interval': 1,
    })
    for split in ('train', 'val', 'test'):
        ds = cfg[f'{split}_dataloader']['dataset']
        name = 'train' if split == 'train' else 'val'
        ds['data_path'] = osp.join(data_dir, f'{name}_data.npy')
        ds['label_path'] = osp.join(data_dir, f'{name}_label.pkl')
    cfg.work_dir = work_dir
    cfg.experiment_name = f'tiny_{uuid.uuid4().hex[:12]}'  # runners built in the same second must not share loggers
    cfg.merge_from_dict(overrides)
    return cfg


@pytest.fixture
def tiny_cfg(tiny_data_dir, tmp_path):
    """A fresh tiny training Config writing to a temporary work dir."""
    return tiny_config(tiny_data_dir, str(tmp_path / 'work'))


@pytest.fixture
def tiny_cfg_file(tiny_cfg, tmp_path):
    """The tiny config dumped to a .py file (for the command-line tools)."""
    path = str(tmp_path / 'tiny_cfg.py')
    tiny_cfg.dump(path)
    return path


def shared_dataset(name: str) -> str:
    """Path of a real dataset in ../shared/data; skips the test when it is absent."""
    path = osp.join(SHARED_DATA, name)
    if not osp.isdir(path):
        pytest.skip(f'real dataset {name} not available at {path}')
    return path


@pytest.fixture(scope='session')
def tiny_deploy(tmp_path_factory, tiny_data_dir):
    """dict(model, cfg_file, ckpt, onnx, data, classes): a 4-channel ST-GCN (random weights, T=32)."""
    import numpy as np
    import torch

    from posecls.apis import init_recognizer
    from posecls.deploy import export_onnx

    out = tmp_path_factory.mktemp('deploy')
    cfg = tiny_config(tiny_data_dir, str(out / 'work'))
    cfg_file = str(out / 'tiny_cfg.py')
    cfg.dump(cfg_file)
    torch.manual_seed(0)
    model = init_recognizer(cfg_file)
    # non-trivial BN statistics so the parity checks compare real arithmetic
    for m in model.modules():
        if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    ckpt = str(out / 'tiny.pth')
    torch.save({'state_dict': model.state_dict(), 'meta': {'dataset_meta': dict(model.dataset_meta)}}, ckpt)
    onnx_file = str(out / 'tiny.onnx')
    report = export_onnx(model, onnx_file, input_shape=(3, TINY_T, 34, 1))
    data = osp.join(tiny_data_dir, 'val_data.npy')
    return dict(model=model, cfg_file=cfg_file, ckpt=ckpt, onnx=onnx_file, report=report, data=data,
                classes=list(model.dataset_meta['classes']), dir=str(out), array=np.load(data))


@pytest.fixture(scope='session')
def fragile(tiny_deploy, tmp_path_factory):
    """A tiny model whose classifier separates the training set on features differing by ~1e-3: its predictions
    vary (unlike the random tiny model, which predicts one class) and INT8 rounding changes many of them."""
    import pickle

    import numpy as np
    import torch

    from posecls.apis import init_recognizer
    from posecls.deploy import export_onnx

    from _deploy_fixtures import torch_logits
    out = tmp_path_factory.mktemp('fragile')
    torch.manual_seed(0)
    model = init_recognizer(tiny_deploy['cfg_file'])
    for m in model.modules():
        if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    data_dir = osp.dirname(tiny_deploy['data'])
    x = torch.from_numpy(np.load(osp.join(data_dir, 'train_data.npy')))
    with open(osp.join(data_dir, 'train_label.pkl'), 'rb') as f:
        y = np.asarray(pickle.load(f)[1])
    with torch.no_grad():
        feats = model.backbone(x).mean(dim=(3, 4)).mean(1).double().numpy()  # (N, C')
        z = feats - feats.mean(0)
        target = np.eye(6)[y] - 1 / 6
        w = np.linalg.solve(z.T @ z + 1e-3 * np.trace(z.T @ z) * np.eye(z.shape[1]), z.T @ target).T
        model.cls_head.fcn.weight.copy_(torch.from_numpy(w).float().reshape(model.cls_head.fcn.weight.shape))
        model.cls_head.fcn.bias.copy_(torch.from_numpy(-(w @ feats.mean(0))).float())
    onnx_file = str(out / 'fragile.onnx')
    export_onnx(model, onnx_file, input_shape=(3, TINY_T, 34, 1), atol=1e-2)
    preds = torch_logits(model, tiny_deploy['array']).argmax(1)
    assert len(set(preds.tolist())) >= 3  # the predictions vary
    return dict(onnx=onnx_file, model=model)


__all__ = ['tiny_config', 'shared_dataset', 'LABEL_MAP', 'REPO', 'TINY_T']


@pytest.fixture
def one_process_group(monkeypatch):
    """torchrun's environment for a world of one process; a group left by the test is destroyed afterwards."""
    import torch.distributed as torch_dist
    env = dict(RANK='0', LOCAL_RANK='0', WORLD_SIZE='1', LOCAL_WORLD_SIZE='1', MASTER_ADDR='127.0.0.1',
               MASTER_PORT=str(free_port()))
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    for k in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS'):  # mmengine sets them to 1 in distributed runs: restore later
        monkeypatch.setenv(k, os.environ.get(k, '1'))
    yield
    if torch_dist.is_initialized():
        torch_dist.destroy_process_group()
