"""Process-group set-up and DDP wrapping that also work without a GPU (gloo on CPU).

mmengine 0.10.7's launchers call ``torch.cuda.set_device(local_rank)``
unconditionally and its ``Runner.wrap_model`` builds DDP with
``device_ids=[LOCAL_RANK]``; both fail on a machine without CUDA. PoseRunner
calls :func:`init_distributed` before mmengine's ``setup_env`` (which then
skips its own initialisation because the process group exists) and
:func:`wrap_ddp_cpu` instead of mmengine's DDP construction on CPU.
"""
import datetime
import os
import subprocess
from typing import Callable, Dict, Mapping, Optional

import torch
import torch.distributed as torch_dist
from mmengine.dist import init_dist
from torch import nn

from posecls.registry import MODEL_WRAPPERS

__all__ = ['resolve_backend', 'init_distributed', 'shutdown_distributed', 'slurm_env', 'wrap_ddp_cpu']

AUTO_BACKENDS = (None, '', 'auto')
TORCHRUN_VARS = ('RANK', 'LOCAL_RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT')


def resolve_backend(backend: Optional[str], cuda_available: Optional[bool] = None) -> str:
    """The ``torch.distributed`` backend to use.

    Args:
        backend: ``env_cfg.dist_cfg.backend``. ``None``, ``''`` or ``'auto'``
            choose ``'nccl'`` when CUDA is available and ``'gloo'`` otherwise;
            any other value is used as given.
        cuda_available: Override ``torch.cuda.is_available()`` (tests).

    Returns:
        The backend name.

    Raises:
        ValueError: ``'nccl'`` was requested but CUDA is not available.
    """
    if cuda_available is None:
        cuda_available = torch.cuda.is_available()
    if backend in AUTO_BACKENDS:
        return 'nccl' if cuda_available else 'gloo'
    if backend == 'nccl' and not cuda_available:
        raise ValueError("env_cfg.dist_cfg.backend='nccl' needs CUDA GPUs, but torch.cuda.is_available() is False: "
                         "use backend='gloo' (or 'auto', the default, which picks gloo without GPUs)")
    return backend


def slurm_env(environ: Mapping[str, str], first_host: Callable[[str], str]) -> Dict[str, str]:
    """torch.distributed environment variables of a slurm task (mmengine's rule, without the GPU call).

    Args:
        environ: The task's environment (``SLURM_PROCID``, ``SLURM_NTASKS``,
            ``SLURM_NODELIST``, optionally ``SLURM_LOCALID``, ``MASTER_ADDR``,
            ``MASTER_PORT``).
        first_host: Maps ``SLURM_NODELIST`` to the first host name.

    Returns:
        ``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``, ``MASTER_ADDR`` and ``MASTER_PORT``.

    Raises:
        KeyError: A required ``SLURM_*`` variable is missing.
    """
    missing = [k for k in ('SLURM_PROCID', 'SLURM_NTASKS', 'SLURM_NODELIST') if k not in environ]
    if missing:
        raise KeyError(f'launcher slurm needs the environment variables {missing}: start the job with srun '
                       '(tools/slurm_train.sh)')
    return dict(RANK=str(int(environ['SLURM_PROCID'])),
                LOCAL_RANK=str(int(environ.get('SLURM_LOCALID', 0))),
                WORLD_SIZE=str(int(environ['SLURM_NTASKS'])),
                MASTER_ADDR=environ.get('MASTER_ADDR') or first_host(environ['SLURM_NODELIST']),
                MASTER_PORT=environ.get('MASTER_PORT', '29500'))


def _scontrol_first_host(node_list: str) -> str:
    out = subprocess.run(['scontrol', 'show', 'hostname', node_list], check=True, capture_output=True, text=True)
    return out.stdout.split()[0]


def init_distributed(launcher: str, dist_cfg: Optional[dict] = None) -> str:
    """Initialise the default process group for ``launcher`` ('pytorch' or 'slurm'; 'mpi' with CUDA only).

    With CUDA this is mmengine's ``init_dist`` (which pins the process to GPU
    ``LOCAL_RANK``) with the resolved backend. Without CUDA the process group
    is created directly from the torchrun / slurm environment variables.

    Args:
        launcher: ``cfg.launcher``.
        dist_cfg: ``env_cfg.dist_cfg``: ``backend`` (see :func:`resolve_backend`),
            ``timeout`` in seconds and other ``init_process_group`` arguments.

    Returns:
        The backend in use.

    Raises:
        ValueError: Unknown launcher, or ``mpi`` without CUDA.
        KeyError: The launcher's environment variables are missing.
    """
    kwargs = dict(dist_cfg or {})
    backend = resolve_backend(kwargs.pop('backend', None))
    if launcher not in ('pytorch', 'slurm', 'mpi'):
        raise ValueError(f"launcher must be 'pytorch', 'slurm' or 'mpi' for distributed runs, got {launcher!r}")
    if torch.cuda.is_available():
        init_dist(launcher, backend=backend, **kwargs)
        return backend
    if launcher == 'mpi':
        raise ValueError('launcher mpi needs CUDA GPUs (mmengine pins each rank to a GPU); on CPU use '
                         'tools/dist_train.sh (launcher pytorch) or slurm')
    init_backend = kwargs.pop('init_backend', 'torch')
    if init_backend != 'torch':
        raise ValueError(f"env_cfg.dist_cfg.init_backend={init_backend!r} needs CUDA GPUs; on CPU use 'torch'")
    port = kwargs.pop('port', None)  # mmengine's slurm option
    if launcher == 'slurm':
        os.environ.update(slurm_env(os.environ, _scontrol_first_host))
        if port is not None:
            os.environ['MASTER_PORT'] = str(port)
    missing = [k for k in TORCHRUN_VARS if k not in os.environ]
    if missing:
        raise KeyError(f'launcher {launcher} needs the environment variables {missing}: start the job with '
                       'tools/dist_train.sh / tools/dist_test.sh (torchrun) instead of python directly')
    if kwargs.get('timeout') is not None:
        kwargs['timeout'] = datetime.timedelta(seconds=kwargs['timeout'])
    torch_dist.init_process_group(backend=backend, rank=int(os.environ['RANK']),
                                  world_size=int(os.environ['WORLD_SIZE']), **kwargs)
    return backend


def shutdown_distributed() -> bool:
    """Wait for every rank, then destroy the default process group (no-op when none exists).

    Call it once per process after the last collective (end of a successful
    train/test). Without it, gloo's worker threads can outlive the Python
    interpreter and the process dies at exit with ``terminate called without an
    active exception`` (SIGABRT) although the run itself succeeded.

    Returns:
        ``True`` when a process group was destroyed.
    """
    if not (torch_dist.is_available() and torch_dist.is_initialized()):
        return False
    torch_dist.barrier()
    torch_dist.destroy_process_group()
    return True


def wrap_ddp_cpu(model: nn.Module, model_wrapper_cfg: Optional[dict], sync_bn: Optional[str],
                 find_unused_parameters: bool = False) -> nn.Module:
    """Wrap a CPU model for data-parallel training (mmengine's defaults, without ``device_ids``).

    Args:
        model: The model, on the CPU.
        model_wrapper_cfg: ``cfg.model_wrapper_cfg`` (``None``: ``MMDistributedDataParallel``
            with ``broadcast_buffers=False``, as mmengine).
        sync_bn: ``cfg.sync_bn``; must be ``None`` on CPU.
        find_unused_parameters: ``cfg.find_unused_parameters``.

    Returns:
        The wrapped model.

    Raises:
        ValueError: ``sync_bn`` is set: ``torch.nn.SyncBatchNorm`` only runs on GPUs.
    """
    if sync_bn is not None:
        raise ValueError(f"cfg.sync_bn={sync_bn!r} needs CUDA GPUs: torch.nn.SyncBatchNorm cannot run on the CPU "
                         "(gloo) backend. Remove sync_bn (plain BatchNorm, statistics per process) for CPU runs")
    if model_wrapper_cfg is None:
        model_wrapper_cfg = dict(type='MMDistributedDataParallel', broadcast_buffers=False,
                                 find_unused_parameters=find_unused_parameters)
    model_wrapper_cfg = dict(model_wrapper_cfg)
    model_wrapper_cfg.setdefault('type', 'MMDistributedDataParallel')
    return MODEL_WRAPPERS.build(model_wrapper_cfg, default_args=dict(module=model.to('cpu')))
