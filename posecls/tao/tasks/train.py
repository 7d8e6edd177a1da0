"""``posecls train``: the spec becomes a posecls config and trains through PoseRunner (no other loop).

Resume precedence (TAO): ``train.resume_training_checkpoint_path``, else the newest
complete checkpoint of ``<train results_dir>`` (PoseRunner's auto-resume: ``pc_model_latest.pth``,
``last_checkpoint``, ``model_epoch_*.pth``), else a fresh start from ``model.pretrained_model_path``
(or random weights).
"""
import os.path as osp
from typing import Any, Dict, List, Optional, Tuple

from posecls.tao.devices import in_torchrun_worker, launch_distributed, plan_devices, set_cuda_device
from posecls.tao.spec import spec_to_yaml, task_results_dir
from posecls.tao.to_config import spec_to_config

LATEST_NAME = 'pc_model_latest.pth'  # posecls.engine.hooks.LATEST_NAME (not imported: keeps --help light)


def initial_weights(spec: Dict[str, Any]) -> Tuple[Optional[str], Optional[str], str]:
    """``(load_from, init_from, reason)`` by TAO's precedence (always ``resume=True``)."""
    explicit = spec['train']['resume_training_checkpoint_path']
    if explicit:
        return explicit, None, f'Resuming training from {explicit} (train.resume_training_checkpoint_path)'
    pretrained = spec['model']['pretrained_model_path'] or None
    then = f'else initialise from {pretrained} (model.pretrained_model_path)' if pretrained else 'else from scratch'
    return None, pretrained, f'Resuming from the newest complete checkpoint of the results dir if any, {then}'


def build_train_runner(spec: Dict[str, Any], launcher: str = 'none'):
    """The PoseRunner for a checked spec, with load_from / resume / init_from set by the precedence above."""
    from posecls.tools.common import build_runner
    work_dir = task_results_dir(spec, 'train')
    cfg = spec_to_config(spec, work_dir)
    cfg.launcher = launcher
    cfg.experiment_name = 'train'
    cfg.load_from, cfg.init_from, reason = initial_weights(spec)
    cfg.resume = True
    print(reason, flush=True)
    return build_runner(cfg)


def run(spec: Dict[str, Any], argv: List[str]) -> Dict[str, Any]:
    """Train; returns ``dict(work_dir, latest)`` (or ``dict(exit_code)`` after a multi-GPU launch).

    Args:
        spec: Checked spec (``check_task(spec, 'train')``).
        argv: The command-line arguments after the task name, re-used to start
            one process per GPU.
    """
    from posecls.engine.distributed import shutdown_distributed
    from posecls.utils.atomic_io import atomic_write_bytes
    work_dir = task_results_dir(spec, 'train')
    tr = spec['train']
    launcher = 'none'
    if in_torchrun_worker():
        launcher = 'pytorch'
    else:
        plan = plan_devices('train', tr['gpu_ids'], tr['num_nodes'], multi_gpu=True)
        for msg in plan.messages:
            print(msg, flush=True)
        if plan.mode == 'distributed':
            return dict(exit_code=launch_distributed(['train', *argv], plan, tr['num_nodes']))
        set_cuda_device(plan)
    runner = build_train_runner(spec, launcher)
    if runner.rank == 0:
        atomic_write_bytes(osp.join(work_dir, 'experiment_spec.yaml'), spec_to_yaml(spec).encode())
    runner.train()
    shutdown_distributed()
    latest = osp.join(work_dir, LATEST_NAME)
    if runner.rank == 0:
        print(f'Training finished. Checkpoints: {work_dir} (latest: {osp.realpath(latest)})', flush=True)
    return dict(work_dir=work_dir, latest=latest)
