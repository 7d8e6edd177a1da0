"""The residual path of a GCN block: none, identity, or a projection where the shapes change."""
from typing import Callable, Optional

import torch
from torch import nn

Projection = Callable[[int, int, int], nn.Module]


def residual_unit(in_channels: int, out_channels: int, stride: int, enabled: bool,
                  projection: Projection) -> Optional[nn.Module]:
    """A block's residual path: none, identity, or a projection where the shapes change.

    Args:
        in_channels: Block input channels.
        out_channels: Block output channels.
        stride: Temporal stride of the block.
        enabled: False: no residual (the block returns ``relu(f(x))``).
        projection: ``(in_channels, out_channels, stride) -> module`` used when
            ``in_channels != out_channels`` or ``stride != 1`` (a strided 1x1
            convolution + BN in every posecls backbone; its layout differs, and
            with it the state_dict names).

    Returns:
        None (no residual), ``nn.Identity()`` or the projection module.
    """
    if not enabled:
        return None
    if in_channels == out_channels and stride == 1:
        return nn.Identity()
    return projection(in_channels, out_channels, stride)


def add_residual(y: torch.Tensor, residual: Optional[nn.Module], x: torch.Tensor) -> torch.Tensor:
    """``y + residual(x)`` (``y`` alone when the block has no residual)."""
    return y if residual is None else y + residual(x)
