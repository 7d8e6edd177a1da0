"""A user registers a custom layout and a custom backbone in their own module and names them in a config."""
import sys
import textwrap

import pytest
import torch
from mmengine.config import Config
from torch import nn

from posecls.graphs import Graph, SkeletonLayout
from posecls.registry import GRAPHS, MODELS
from posecls.tools.common import build_runner, load_config

from conftest import tiny_config


@GRAPHS.register_module(name='test_five_joint_star', force=True)
class FiveJointStar(SkeletonLayout):
    """A layout defined inside this test file."""

    num_node = 5
    edges = [(0, 1), (0, 2), (0, 3), (0, 4)]
    center = 0


@MODELS.register_module(name='MeanPoolBackbone', force=True)
class MeanPoolBackbone(nn.Module):
    """A backbone defined inside this test file: a 1x1 conv over (C, T, V) per person."""

    def __init__(self, in_channels=3, out_channels=16, graph_cfg=None):
        super().__init__()
        self.graph = Graph(**(graph_cfg or {}))
        self.conv = nn.Conv2d(in_channels, out_channels, 1)

    def forward(self, x):  # (N, C, T, V, M) -> (N, M, C', T, V)
        N, C, T, V, M = x.shape
        y = self.conv(x.permute(0, 4, 1, 2, 3).reshape(N * M, C, T, V))
        return y.view(N, M, -1, T, V)


def test_layout_and_backbone_from_this_file_in_a_model():
    model = MODELS.build(dict(type='SkeletonRecognizer',
                              backbone=dict(type='MeanPoolBackbone', graph_cfg=dict(layout='test_five_joint_star')),
                              cls_head=dict(type='GCNHead', num_classes=3, in_channels=16)))
    assert model.backbone.graph.A.shape == (3, 5, 5)
    assert tuple(model(torch.randn(2, 3, 8, 5, 1)).shape) == (2, 3)
    stgcn = MODELS.build(dict(type='STGCN', graph_cfg=dict(layout='test_five_joint_star'), base_channels=4))
    assert tuple(stgcn(torch.randn(1, 3, 8, 5, 1)).shape) == (1, 1, 16, 2, 5)


PLUGIN = textwrap.dedent('''
    """A user's plug-in module: a registered skeleton layout and backbone."""
    from torch import nn
    from posecls.graphs import SkeletonLayout
    from posecls.registry import GRAPHS, MODELS


    @GRAPHS.register_module(force=True)
    class PluginNvidiaCopy(SkeletonLayout):
        num_node = 34
        edges = [(i, i + 1) for i in range(33)]
        center = 0


    @MODELS.register_module(force=True)
    class PluginBackbone(nn.Module):
        def __init__(self, in_channels=3, width=8):
            super().__init__()
            self.conv = nn.Conv2d(in_channels, width, 1)

        def forward(self, x):
            N, C, T, V, M = x.shape
            y = self.conv(x.permute(0, 4, 1, 2, 3).reshape(N * M, C, T, V))
            return y.view(N, M, -1, T, V)
''')


def test_custom_imports_in_a_config_train_end_to_end(tiny_data_dir, tmp_path, monkeypatch):
    (tmp_path / 'my_posecls_plugin.py').write_text(PLUGIN)
    monkeypatch.chdir(tmp_path)  # the user's project folder; load_config makes it importable
    monkeypatch.setattr(sys, 'path', [p for p in sys.path if p not in ('', str(tmp_path))])
    cfg = tiny_config(tiny_data_dir, str(tmp_path / 'work'))
    cfg.custom_imports = dict(imports=['my_posecls_plugin'], allow_failed_imports=False)
    cfg.model.backbone = dict(type='PluginBackbone', width=8)
    cfg.model.cls_head.in_channels = 8
    cfg_file = str(tmp_path / 'plugin_cfg.py')
    cfg.dump(cfg_file)
    loaded = load_config(cfg_file)
    assert GRAPHS.get('PluginNvidiaCopy') is not None
    assert Graph('PluginNvidiaCopy').A.shape == (3, 34, 34)
    runner = build_runner(loaded)
    runner.train()
    assert type(runner.model.backbone).__name__ == 'PluginBackbone'


def test_unregistered_type_names_the_registry():
    with pytest.raises(KeyError, match='NoSuchBackbone is not in the'):
        MODELS.build(dict(type='NoSuchBackbone'))
    cfg = Config(dict(custom_imports=dict(imports=['definitely_missing_posecls_plugin'])))
    assert cfg.custom_imports.imports == ['definitely_missing_posecls_plugin']
