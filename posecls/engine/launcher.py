"""Start posecls tools on several processes with torchrun (``python -m torch.distributed.run``).

The helpers used by ``tools/dist_*.sh``'s Python callers, such as the TAO-style
CLI (``train.num_gpus`` / ``train.gpu_ids``)::

    sel = select_devices(num_gpus=2, gpu_ids=[0, 1])
    code = launch('posecls.tools.train', [config, '--launcher', 'pytorch'],
                  nproc_per_node=sel.nproc_per_node, cuda_visible_devices=sel.cuda_visible_devices)

The launched program must be told ``--launcher pytorch`` (posecls's tools
refuse to run as one of several processes without it).
"""
import os
import os.path as osp
import subprocess
import sys
from typing import List, Mapping, NamedTuple, Optional, Sequence

__all__ = ['DeviceSelection', 'select_devices', 'torchrun_command', 'launch', 'repo_root']


class DeviceSelection(NamedTuple):
    """Result of :func:`select_devices`.

    Attributes:
        cuda_visible_devices: Value for ``CUDA_VISIBLE_DEVICES`` (comma-separated).
        nproc_per_node: Processes to start on this node (one per GPU).
        gpu_ids: The GPU ids used, as given / numbered by the caller.
    """

    cuda_visible_devices: str
    nproc_per_node: int
    gpu_ids: List[int]


def select_devices(num_gpus: int = 1, gpu_ids: Optional[Sequence[int]] = None,
                   visible_devices: Optional[str] = None) -> DeviceSelection:
    """Reconcile TAO's ``num_gpus`` and ``gpu_ids`` the way TAO's launcher does.

    TAO's rule (``nvidia_tao_pytorch/core/entrypoint.py``): when ``num_gpus !=
    len(gpu_ids)`` the larger GPU set wins: ``num_gpus = max(num_gpus,
    len(gpu_ids))``; if ``gpu_ids`` is the shorter one it is replaced by
    ``[0, ..., num_gpus - 1]``, otherwise ``gpu_ids`` is kept. Examples:
    ``(2, [0, 1]) -> [0, 1]``, ``(1, [2, 3]) -> [2, 3]``, ``(4, [2]) -> [0, 1, 2, 3]``,
    ``(1, [3]) -> [3]``, ``(2, []) -> [0, 1]``. ``gpu_ids=None`` means TAO's default ``[0]``.

    ``gpu_ids`` are numbered like ``nvidia-smi``; when ``CUDA_VISIBLE_DEVICES``
    is already set (a slurm allocation, a container), they index into that list
    instead, so a job never escapes the devices it was given.

    Args:
        num_gpus: TAO ``train.num_gpus`` (>= 1).
        gpu_ids: TAO ``train.gpu_ids`` (distinct ints >= 0).
        visible_devices: The current ``CUDA_VISIBLE_DEVICES``; defaults to the
            environment's (``None`` / empty: all devices, no remapping).

    Returns:
        :class:`DeviceSelection` (``cuda_visible_devices``, ``nproc_per_node``, ``gpu_ids``).

    Raises:
        ValueError: ``num_gpus < 1``, invalid or duplicate ``gpu_ids``, or an id
            outside the visible devices.
    """
    if isinstance(num_gpus, bool) or not isinstance(num_gpus, int) or num_gpus < 1:
        raise ValueError(f'train.num_gpus must be an integer >= 1, got {num_gpus!r}')
    ids = [0] if gpu_ids is None else list(gpu_ids)
    if any(isinstance(i, bool) or not isinstance(i, int) or i < 0 for i in ids):
        raise ValueError(f'train.gpu_ids must be a list of integers >= 0, got {gpu_ids!r}')
    if len(set(ids)) != len(ids):
        raise ValueError(f'train.gpu_ids has duplicates: {ids}')
    if num_gpus != len(ids):
        num_gpus = max(num_gpus, len(ids))
        if len(ids) != num_gpus:
            ids = list(range(num_gpus))
    if visible_devices is None:
        visible_devices = os.environ.get('CUDA_VISIBLE_DEVICES')
    if visible_devices:
        visible = [d.strip() for d in visible_devices.split(',') if d.strip()]
        if max(ids) >= len(visible):
            raise ValueError(f'train.gpu_ids {ids} (num_gpus {num_gpus}) index into CUDA_VISIBLE_DEVICES='
                             f'{visible_devices!r}, which has only {len(visible)} devices')
        devices = [visible[i] for i in ids]
    else:
        devices = [str(i) for i in ids]
    return DeviceSelection(','.join(devices), num_gpus, ids)


def torchrun_command(module_or_script: str, args: Sequence[str], nproc_per_node: int, nnodes: int = 1,
                     node_rank: int = 0, master_addr: str = '127.0.0.1', master_port: int = 29500) -> List[str]:
    """The torchrun command line (``sys.executable -m torch.distributed.run ...``).

    Args:
        module_or_script: A ``.py`` file path (run as a script) or a dotted
            module name such as ``'posecls.tools.train'`` (run with ``-m``).
        args: Arguments of the program (include ``'--launcher', 'pytorch'``).
        nproc_per_node: Processes on this node (>= 1).
        nnodes: Number of nodes (>= 1).
        node_rank: This node's rank, ``0 <= node_rank < nnodes``.
        master_addr: Address of the rank-0 node.
        master_port: Free TCP port on the rank-0 node.

    Returns:
        The argument list for :func:`subprocess.run`.

    Raises:
        ValueError: Invalid sizes or ranks.
    """
    for name, value, low in (('nproc_per_node', nproc_per_node, 1), ('nnodes', nnodes, 1),
                             ('master_port', master_port, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f'{name} must be an integer >= {low}, got {value!r}')
    if not isinstance(node_rank, int) or not 0 <= node_rank < nnodes:
        raise ValueError(f'node_rank must be in [0, {nnodes}), got {node_rank!r}')
    cmd = [sys.executable, '-m', 'torch.distributed.run', f'--nnodes={nnodes}', f'--node-rank={node_rank}',
           f'--nproc-per-node={nproc_per_node}', f'--master-addr={master_addr}', f'--master-port={master_port}']
    if module_or_script.endswith('.py') or os.sep in module_or_script:
        cmd.append(module_or_script)
    else:
        cmd += ['-m', module_or_script]
    return cmd + [str(a) for a in args]


def repo_root() -> str:
    """The folder holding the ``posecls`` package (put first on ``PYTHONPATH`` of launched processes)."""
    return osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def launch(module_or_script: str, args: Sequence[str], nproc_per_node: int, nnodes: int = 1, node_rank: int = 0,
           master_addr: str = '127.0.0.1', master_port: int = 29500, cuda_visible_devices: Optional[str] = None,
           env: Optional[Mapping[str, str]] = None, cwd: Optional[str] = None) -> int:
    """Run :func:`torchrun_command` and wait; returns torchrun's exit code.

    The child environment is ``os.environ`` updated with ``env``, with this
    posecls checkout first on ``PYTHONPATH`` and, when given,
    ``CUDA_VISIBLE_DEVICES`` (e.g. :func:`select_devices`'s value).

    Args:
        module_or_script, args, nproc_per_node, nnodes, node_rank, master_addr, master_port:
            As :func:`torchrun_command`.
        cuda_visible_devices: Devices for the processes (``None``: inherited).
        env: Extra environment variables.
        cwd: Working directory (``None``: the current one).

    Returns:
        The exit code (0 on success; non-zero when any process failed).
    """
    cmd = torchrun_command(module_or_script, args, nproc_per_node, nnodes, node_rank, master_addr, master_port)
    child_env = dict(os.environ)
    child_env.update(env or {})
    python_path = child_env.get('PYTHONPATH')
    child_env['PYTHONPATH'] = repo_root() + (os.pathsep + python_path if python_path else '')
    if cuda_visible_devices is not None:
        child_env['CUDA_VISIBLE_DEVICES'] = cuda_visible_devices
    return subprocess.run(cmd, env=child_env, cwd=cwd).returncode
