"""BF16OptimWrapper: bfloat16 mixed precision on any device, the CPU included."""
from contextlib import contextmanager
from typing import Optional

import torch
from mmengine.optim import OptimWrapper
from torch import nn

from posecls.registry import OPTIM_WRAPPERS


def cpu_has_native_bf16() -> bool:
    """Whether this CPU runs bfloat16 convolutions and matmuls natively (AVX512-BF16 or AMX).

    Without it oneDNN emulates bfloat16 and mixed precision on the CPU is slower than float32.
    """
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


@OPTIM_WRAPPERS.register_module()
class BF16OptimWrapper(OptimWrapper):
    """Optimizer wrapper that runs forward and loss under ``torch.autocast(dtype=torch.bfloat16)``.

    mmengine's ``AmpOptimWrapper`` refuses to start without a GPU; this wrapper is
    what ``tools/train.py --amp`` uses on a CPU. Parameters, gradients and the
    optimizer state stay float32; autocast runs convolutions and matmuls in
    bfloat16 (which has float32's exponent range, so no loss scaling is needed)
    and keeps reductions such as the loss in float32. On CPUs with AVX512-BF16
    or AMX (Intel Cooper Lake / Sapphire Rapids and newer, AMD Zen 4 and newer)
    this trains ST-GCN about twice as fast as float32 (docs/benchmarks.md).
    Checkpoints are the same as :class:`mmengine.optim.OptimWrapper`'s.

    Args:
        device_type: ``'cpu'``, ``'cuda'`` ..., or None for the device of the
            model's first parameter.
        **kwargs: :class:`mmengine.optim.OptimWrapper` arguments (``optimizer``,
            ``clip_grad``, ``accumulative_counts``).
    """

    def __init__(self, device_type: Optional[str] = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.device_type = device_type

    @contextmanager
    def optim_context(self, model: nn.Module):
        """Gradient-accumulation context of the parent plus bfloat16 autocast."""
        device_type = self.device_type
        if device_type is None:
            device_type = next(model.parameters()).device.type
        with super().optim_context(model), torch.autocast(device_type=device_type, dtype=torch.bfloat16):
            yield
