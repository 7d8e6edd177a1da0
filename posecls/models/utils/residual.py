"""The residual path of a GCN block: none, identity, or a projection where the shapes change."""
from typing import Callable, Optional

import torch
from torch import nn
from torch.nn import functional as F

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


class StridedPointwiseConv2d(nn.Conv2d):
    """A 1x1 ``nn.Conv2d`` with a stride that, on channels-last input, subsamples first and convolves at stride 1.

    The same arithmetic, parameters and state_dict names as ``nn.Conv2d(in, out, 1, stride)`` (a 1x1 kernel at
    stride s reads exactly the rows ``x[:, :, ::s]``). On channels-last tensors this keeps oneDNN's strided 1x1
    backward-weights path out of the way: with fewer input channels than its SIMD block (16 on AVX-512) that
    kernel writes past its workspace (oneDNN issue #6035, open; torch 2.13's oneDNN 3.12): heap corruption
    (seen here on AMD EPYC Zen 4: ``double free or corruption``, SIGSEGV), hangs or wrong weight gradients.
    It is also less work. Contiguous (NCHW) input, eval and export take ``nn.Conv2d``'s own path, so the ONNX
    graph is unchanged.

    Shape:
        x: (N, C_in, T, V) -> (N, C_out, ceil(T / s_t), ceil(V / s_v)).
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.kernel_size != (1, 1) or self.padding != (0, 0) or self.dilation != (1, 1):
            raise ValueError(f'StridedPointwiseConv2d is a 1x1 convolution without padding or dilation, got '
                             f'kernel_size={self.kernel_size}, padding={self.padding}, dilation={self.dilation}')

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Convolve ``x``; channels-last input with a stride is subsampled, then convolved at stride 1."""
        if self.stride != (1, 1) and not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last):
            return F.conv2d(x[:, :, ::self.stride[0], ::self.stride[1]], self.weight, self.bias, groups=self.groups)
        return super().forward(x)


def add_residual(y: torch.Tensor, residual: Optional[nn.Module], x: torch.Tensor) -> torch.Tensor:
    """``y + residual(x)`` (``y`` alone when the block has no residual)."""
    return y if residual is None else y + residual(x)
