"""Shared fixtures of the deployment tests: a tiny random ST-GCN, its checkpoint, config and ONNX export."""
import os.path as osp

import numpy as np
import pytest
import torch

from conftest import TINY_T, tiny_config

TINY_SHAPE = (3, TINY_T, 34, 1)


@pytest.fixture(scope='session')
def tiny_deploy(tmp_path_factory, tiny_data_dir):
    """dict(model, cfg_file, ckpt, onnx, data, classes): a 4-channel ST-GCN (random weights, T=32)."""
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
    report = export_onnx(model, onnx_file, input_shape=TINY_SHAPE)
    data = osp.join(tiny_data_dir, 'val_data.npy')
    return dict(model=model, cfg_file=cfg_file, ckpt=ckpt, onnx=onnx_file, report=report, data=data,
                classes=list(model.dataset_meta['classes']), dir=str(out), array=np.load(data))


def torch_logits(model, x: np.ndarray) -> np.ndarray:
    """Logits of raw inputs by calling the PyTorch model directly (independent of posecls's inference loop)."""
    with torch.no_grad():
        return model(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)), mode='tensor').numpy()
