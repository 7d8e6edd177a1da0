"""End-to-end smoke test of the tiny config: train 2 epochs, checkpoints exist."""
import os.path as osp

from posecls.tools.common import build_runner


def test_tiny_training_writes_tao_checkpoints(tiny_cfg):
    runner = build_runner(tiny_cfg)
    runner.train()
    wd = tiny_cfg.work_dir
    assert osp.isfile(osp.join(wd, 'model_epoch_001.pth'))
    assert osp.isfile(osp.join(wd, 'model_epoch_002.pth'))
    assert osp.islink(osp.join(wd, 'pc_model_latest.pth'))
    assert osp.realpath(osp.join(wd, 'pc_model_latest.pth')) == osp.realpath(osp.join(wd, 'model_epoch_002.pth'))
