"""Device selection for the TAO tasks: GPU ids, CPU fallback, multi-GPU launch through torchrun."""
import os
from dataclasses import dataclass, field
from typing import List, Optional

from posecls.tao.errors import SpecError


@dataclass
class DevicePlan:
    """Where a task runs.

    Attributes:
        mode: ``'cpu'``, ``'cuda'`` (one GPU) or ``'distributed'`` (one process per GPU).
        gpu_ids: GPUs used (empty on CPU).
        messages: What to tell the user (CPU fallback, GPUs cut to one).
    """

    mode: str
    gpu_ids: List[int] = field(default_factory=list)
    messages: List[str] = field(default_factory=list)

    @property
    def device(self) -> str:
        """torch device string of the (first) device."""
        return f'cuda:{self.gpu_ids[0]}' if self.gpu_ids else 'cpu'


def cuda_device_count() -> int:
    """Number of visible CUDA devices (0 without CUDA)."""
    import torch
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def in_torchrun_worker() -> bool:
    """True inside a process started by torchrun with more than one process."""
    return 'LOCAL_RANK' in os.environ and int(os.environ.get('WORLD_SIZE', '1')) > 1


def plan_devices(section: str, gpu_ids: List[int], num_nodes: int = 1, multi_gpu: bool = True,
                 cuda_count: Optional[int] = None) -> DevicePlan:
    """Decide the devices of a task from the (already TAO-resolved) ``gpu_ids``.

    Args:
        section: Spec section, for messages (``'train'``, ``'evaluate'`` ...).
        gpu_ids: Requested GPUs.
        num_nodes: Requested nodes.
        multi_gpu: The task can use several GPUs (training); otherwise the first is used.
        cuda_count: Visible GPUs (default: ask torch).

    Raises:
        SpecError: a requested GPU index that does not exist.
    """
    n = cuda_device_count() if cuda_count is None else cuda_count
    verb = 'training' if section == 'train' else f'running {section}'
    if n == 0:
        extra = f' (ignoring {section}.gpu_ids={gpu_ids}, num_nodes={num_nodes})' if (
            len(gpu_ids) > 1 or num_nodes > 1) else ''
        return DevicePlan('cpu', [], [f'No GPU found, {verb} on CPU{extra}.'])
    bad = [i for i in gpu_ids if i >= n]
    if bad:
        raise SpecError(f'{section}.gpu_ids={gpu_ids}: GPU {bad[0]} does not exist; {n} GPU(s) are visible '
                        f'(allowed ids 0..{n - 1})')
    if not multi_gpu and len(gpu_ids) > 1:
        return DevicePlan('cuda', [gpu_ids[0]], [f'{section} runs on one GPU: using GPU {gpu_ids[0]} of {gpu_ids}.'])
    if len(gpu_ids) == 1 and num_nodes == 1:
        return DevicePlan('cuda', list(gpu_ids))
    return DevicePlan('distributed', list(gpu_ids))


def launch_distributed(task_argv: List[str], plan: DevicePlan, num_nodes: int) -> int:
    """Re-run ``python -m posecls <task_argv>`` as one process per GPU with torchrun and wait.

    Uses ``posecls.engine.launcher`` (``select_devices`` + ``launch``). Each
    process finds itself in a torchrun worker and trains with
    ``launcher='pytorch'``. For several nodes run the same command on every node
    with ``NODE_RANK`` (or ``RANK``), ``MASTER_ADDR`` and ``MASTER_PORT`` set.

    Returns:
        torchrun's exit code.
    """
    from posecls.engine.launcher import launch, select_devices
    sel = select_devices(len(plan.gpu_ids), plan.gpu_ids)
    node_rank = int(os.environ.get('NODE_RANK', os.environ.get('RANK', '0')))
    master_addr = os.environ.get('MASTER_ADDR', '127.0.0.1')
    master_port = int(os.environ.get('MASTER_PORT', '29500'))
    print(f'Launching {sel.nproc_per_node} processes per node on {num_nodes} node(s) with torchrun '
          f'(CUDA_VISIBLE_DEVICES={sel.cuda_visible_devices}, node rank {node_rank}, master '
          f'{master_addr}:{master_port})', flush=True)
    return int(launch('posecls', list(task_argv), nproc_per_node=sel.nproc_per_node, nnodes=num_nodes,
                      node_rank=node_rank, master_addr=master_addr, master_port=master_port,
                      cuda_visible_devices=sel.cuda_visible_devices))


def set_cuda_device(plan: DevicePlan) -> None:
    """Make the plan's GPU the current CUDA device (single-process GPU runs)."""
    if plan.mode == 'cuda':
        import torch
        torch.cuda.set_device(plan.gpu_ids[0])


__all__ = ['DevicePlan', 'plan_devices', 'launch_distributed', 'in_torchrun_worker', 'set_cuda_device',
           'cuda_device_count']
