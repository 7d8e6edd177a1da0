"""Config loading and runner building shared by the command-line tools.

mmengine (and, through the runner, torch) is imported when a function here runs, not when a tool
imports this module: ``--help`` and argument errors of every tool stay fast.
"""
from __future__ import annotations

import argparse
import os
import os.path as osp
import sys
import uuid
from typing import TYPE_CHECKING, Any, Optional, Sequence, Union

from posecls.utils.config import merge_cfg_options
from posecls.utils.package_data import resolve_shipped_path

if TYPE_CHECKING:  # pragma: no cover
    from mmengine.config import Config
    from mmengine.runner import Runner

__all__ = ['load_config', 'build_runner', 'DictAction']


class DictAction(argparse.Action):
    """mmengine's ``DictAction`` (``--cfg-options KEY=VALUE ...`` into a dict), imported when the option is used.

    The values are parsed by mmengine's own ``DictAction`` (ints, floats, bools, None, lists and tuples).
    """

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Union[str, Sequence[Any], None], option_string: Optional[str] = None) -> None:
        from mmengine.config import DictAction as MMEngineDictAction
        MMEngineDictAction(self.option_strings, self.dest, nargs=self.nargs)(parser, namespace, values, option_string)


def load_config(path: str, cfg_options: Optional[dict] = None, work_dir: Optional[str] = None,
                launcher: str = 'none', verbose: Optional[bool] = None) -> Config:
    """Read a config file, apply ``--cfg-options`` and set ``work_dir`` and ``launcher``.

    ``work_dir`` priority: argument > config > ``./work_dirs/<config name>``.

    Args:
        path: Config file.
        cfg_options: ``--cfg-options`` overrides (an unknown top-level key is refused).
        work_dir: ``--work-dir``.
        launcher: ``--launcher``.
        verbose: False: the console shows a progress display and warnings only (``ProgressHook``;
            the log file keeps everything); True: mmengine's full console log; None: the config's.
    """
    from mmengine.config import Config
    path = resolve_shipped_path(path)
    if not osp.isfile(path):
        raise FileNotFoundError(f'config file not found: {path} (nor shipped with posecls: see '
                                'posecls.utils.package_data)')
    # `custom_imports` modules are imported by name: make the working directory importable, as it is for
    # `python -c` / notebooks (a script's sys.path starts with the script's folder instead).
    if os.getcwd() not in sys.path:
        sys.path.append(os.getcwd())
    # Several torchrun processes without a launcher would each train alone and overwrite each other's files.
    if launcher == 'none' and int(os.environ.get('WORLD_SIZE', '1')) > 1:
        raise ValueError(f"started as one of {os.environ['WORLD_SIZE']} processes (WORLD_SIZE) but with "
                         '--launcher none: pass --launcher pytorch (tools/dist_train.sh and tools/dist_test.sh do)')
    cfg = merge_cfg_options(Config.fromfile(path), cfg_options)
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(path))[0])
    cfg.launcher = launcher
    if verbose is not None:
        set_verbosity(cfg, verbose)
    return cfg


def set_verbosity(cfg: Config, verbose: bool) -> Config:
    """Quiet console with a progress display (``verbose=False``) or mmengine's full console log."""
    cfg.console_log_level = 'INFO' if verbose else 'WARNING'
    hooks = [h for h in (cfg.get('custom_hooks') or []) if h.get('type') != 'ProgressHook']
    if not verbose:
        hooks.append(dict(type='ProgressHook'))
    cfg.custom_hooks = hooks
    return cfg


def build_runner(cfg: Config) -> Runner:
    """Build the config's runner (``runner_type``, PoseRunner by default).

    The experiment name (``experiment_name``, else the config file name) gets a random suffix:
    mmengine names its logger, message hub and visualizer singletons ``<name>_<timestamp in
    seconds>``, so two runs built in the same second would otherwise share (and mix) them.
    """
    from posecls.registry import RUNNERS
    from posecls.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    if 'runner_type' not in cfg:
        cfg.runner_type = 'PoseRunner'
    stem = cfg.get('experiment_name') or (osp.splitext(osp.basename(cfg.filename))[0] if cfg.filename else 'posecls')
    cfg.experiment_name = f'{stem}.{uuid.uuid4().hex[:6]}'
    return RUNNERS.build(cfg)
