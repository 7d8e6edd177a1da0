"""MMAction2 1.2.0's STGCN for side-by-side benchmarks, imported without the rest of MMAction2.

``pip install mmaction2==1.2.0 --no-deps`` installs the package without mmcv; ``mmaction/__init__.py`` and
``mmaction/models/__init__.py`` import mmcv and every model, so this module imports only the three files the
STGCN backbone needs (``models/backbones/stgcn.py``, ``models/utils/gcn_utils.py``, ``models/utils/graph.py``,
plus ``mmaction/registry.py``) under empty parent packages. The one missing dependency, ``mmcv.cnn``'s
``build_norm_layer`` / ``build_activation_layer``, is shimmed for the two layers STGCN builds (``BN`` ->
``nn.BatchNorm2d``, ``ReLU`` -> ``nn.ReLU``), exactly what mmcv returns for them. MMAction2's ``GCNHead`` (pool,
mean over persons, Linear) is rebuilt here as :class:`MMAction2GCNHead` because its base class imports MMAction2's
evaluation package; the arithmetic is the same. Nothing here is installed into posecls: it lives in the benchmark.
"""
import importlib
import importlib.util
import logging
import os.path as osp
import sys
import types
from typing import Any, Tuple

import torch
from mmengine.logging import MMLogger
from torch import nn

_PACKAGES = ('mmaction', 'mmaction.models', 'mmaction.models.utils', 'mmaction.models.backbones')


def _mmaction_dir() -> str:
    loaded = sys.modules.get('mmaction')
    if loaded is not None and getattr(loaded, '__path__', None):
        return list(loaded.__path__)[0]
    spec = importlib.util.find_spec('mmaction')
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError('MMAction2 is not installed: pip install mmaction2==1.2.0 --no-deps')
    return list(spec.submodule_search_locations)[0]


def _build_norm_layer(cfg: dict, num_features: int, postfix: Any = '') -> Tuple[str, nn.Module]:
    if cfg.get('type') not in ('BN', 'BN2d'):
        raise NotImplementedError(f'benchmark shim of mmcv.cnn.build_norm_layer: only BN, got {cfg}')
    kwargs = {k: v for k, v in cfg.items() if k not in ('type', 'requires_grad')}
    return f'bn{postfix}', nn.BatchNorm2d(num_features, **kwargs)


def _build_activation_layer(cfg: dict) -> nn.Module:
    if cfg.get('type') != 'ReLU':
        raise NotImplementedError(f'benchmark shim of mmcv.cnn.build_activation_layer: only ReLU, got {cfg}')
    return nn.ReLU(inplace=cfg.get('inplace', False))


def _install_shims(root: str) -> None:
    if 'mmcv.cnn' not in sys.modules:
        mmcv = sys.modules.setdefault('mmcv', types.ModuleType('mmcv'))
        cnn = types.ModuleType('mmcv.cnn')
        cnn.build_norm_layer = _build_norm_layer
        cnn.build_activation_layer = _build_activation_layer
        mmcv.cnn = cnn
        sys.modules['mmcv.cnn'] = cnn
    for name in _PACKAGES:
        if name not in sys.modules:
            pkg = types.ModuleType(name)
            pkg.__path__ = [osp.join(root, *name.split('.')[1:])]
            sys.modules[name] = pkg


def _load() -> types.ModuleType:
    root = _mmaction_dir()
    _install_shims(root)
    utils = sys.modules['mmaction.models.utils']
    if not hasattr(utils, 'unit_gcn'):
        gcn_utils = importlib.import_module('mmaction.models.utils.gcn_utils')
        graph = importlib.import_module('mmaction.models.utils.graph')
        for name in ('unit_gcn', 'unit_tcn', 'mstcn'):
            setattr(utils, name, getattr(gcn_utils, name))
        utils.Graph = graph.Graph
    return importlib.import_module('mmaction.models.backbones.stgcn')


def mmaction2_version() -> str:
    """The installed MMAction2 version (read from ``mmaction/version.py``)."""
    spec = importlib.util.spec_from_file_location('_mmaction_version', osp.join(_mmaction_dir(), 'version.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.__version__


class MMAction2GCNHead(nn.Module):
    """MMAction2's ``GCNHead`` forward: average-pool (T, V), mean over persons, Linear (dropout 0, its default)."""

    def __init__(self, num_classes: int, in_channels: int = 256) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(in_channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, M, C, T, V) features -> (N, num_classes) scores."""
        N, M, C, T, V = x.shape
        return self.fc(self.pool(x.view(N * M, C, T, V)).view(N, M, C).mean(dim=1))


class MMAction2STGCN(nn.Module):
    """MMAction2's STGCN backbone + GCNHead; input in MMAction2's layout (N, M, T, V, C).

    Args:
        num_classes: Classes of the head.
        layout: MMAction2 graph layout (``'nturgb+d'``, ``'coco'``, ...).
        mode: MMAction2 graph mode (``'stgcn_spatial'`` is ST-GCN's spatial partition).
    """

    def __init__(self, num_classes: int, layout: str = 'nturgb+d', mode: str = 'stgcn_spatial') -> None:
        super().__init__()
        stgcn = _load().STGCN
        self.backbone = stgcn(graph_cfg=dict(layout=layout, mode=mode))
        mmengine_log = MMLogger.get_current_instance()  # what BaseModule.init_weights logs to
        level = mmengine_log.level
        mmengine_log.setLevel(logging.WARNING)  # init_weights logs every parameter at INFO
        try:
            self.backbone.init_weights()  # what mmengine's Runner calls for MMAction2's models
        finally:
            mmengine_log.setLevel(level)
        self.cls_head = MMAction2GCNHead(num_classes, in_channels=256)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, M, T, V, C) -> (N, num_classes) scores."""
        return self.cls_head(self.backbone(x))


__all__ = ['MMAction2STGCN', 'MMAction2GCNHead', 'mmaction2_version']
