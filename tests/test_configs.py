"""Every shipped config builds, and its data settings agree with its model (layout joints, classes)."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from posecls.graphs import get_layout
from posecls.registry import MODELS

from conftest import REPO

CONFIGS = sorted(glob.glob(osp.join(REPO, 'configs', '*.py')))


def test_every_layout_has_a_config():
    layouts = {Config.fromfile(c).model.backbone.graph_cfg.layout for c in CONFIGS}
    assert layouts >= {'nvidia', 'openpose', 'human3.6m', 'ntu-rgb+d', 'ntu_edge', 'coco'}


@pytest.mark.parametrize('path', CONFIGS, ids=[osp.basename(c) for c in CONFIGS])
def test_config_builds_and_is_consistent(path):
    cfg = Config.fromfile(path)
    assert cfg.default_scope == 'posecls' and cfg.runner_type == 'PoseRunner'
    layout = get_layout(cfg.model.backbone.graph_cfg.layout)
    ncls = cfg.model.cls_head.num_classes
    for split in ('train', 'val', 'test'):
        ds = cfg[f'{split}_dataloader'].dataset
        assert ds.num_joints == layout.num_node, (split, ds.num_joints)
        assert ds.num_classes == ncls
        if ds.get('label_map'):
            assert len(ds.label_map) == ncls
    cfg.model.backbone.base_channels = 4  # shape check only
    cfg.model.cls_head.in_channels = 16
    model = MODELS.build(cfg.model).eval()
    x = torch.randn(1, cfg.model.backbone.in_channels, 12, layout.num_node, layout.num_person)
    assert tuple(model(x).shape) == (1, ncls)


def test_nvidia_recipe_is_taos():
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'stgcn_nvidia.py'))
    assert cfg.optim_wrapper.optimizer == dict(type='SGD', lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-4)
    assert cfg.param_scheduler == [dict(type='MultiStepLR', by_epoch=True, milestones=[10, 60], gamma=0.1)]
    assert cfg.train_cfg.max_epochs == 70 and cfg.train_cfg.val_interval == 5
    assert cfg.default_hooks.checkpoint.interval == 5 and cfg.randomness.seed == 1234
    assert cfg.train_dataloader.batch_size == 16
    assert list(cfg.train_dataloader.dataset.label_map) == ['sitting_down', 'getting_up', 'sitting', 'standing',
                                                            'walking', 'jumping']
    model = MODELS.build(cfg.model)
    assert sum(p.numel() for p in model.parameters() if p.requires_grad) == 3_100_938
