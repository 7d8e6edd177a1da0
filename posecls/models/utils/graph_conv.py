"""ConvTemporalGraphical: ST-GCN's spatial graph convolution."""
from typing import Tuple

import torch
from torch import nn

GCN_IMPLS = ('einsum', 'matmul')


class ConvTemporalGraphical(nn.Module):
    """1x1 convolution to ``K * out_channels`` maps, then aggregation over joints with A.

    ``out[n, c, t, w] = sum_k sum_v conv(x)[n, k, c, t, v] * A[k, v, w]``.

    Args:
        in_channels: Input channels C_in.
        out_channels: Output channels C_out.
        kernel_size: Spatial kernel size K (= A.size(0)).
        impl: ``'einsum'`` (TAO's form; exports an ONNX Einsum node) or
            ``'matmul'`` (the same arithmetic as reshape + MatMul, for runtimes
            without Einsum). Switch at any time with :meth:`set_impl`.

    Shape:
        x: (N, C_in, T, V); A: (K, V, V) -> out: (N, C_out, T, V).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, impl: str = 'einsum') -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.conv = nn.Conv2d(in_channels, out_channels * kernel_size, kernel_size=(1, 1), bias=True)
        self.set_impl(impl)

    def set_impl(self, impl: str) -> None:
        """Choose ``'einsum'`` or ``'matmul'`` aggregation."""
        if impl not in GCN_IMPLS:
            raise ValueError(f"gcn impl must be one of {GCN_IMPLS}, got '{impl}'")
        self.impl = impl

    def forward(self, x: torch.Tensor, A: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Apply the graph convolution; returns ``(out, A)`` like the original."""
        if A.size(0) != self.kernel_size:
            raise ValueError(f'adjacency has K={A.size(0)} partitions, the layer expects {self.kernel_size}')
        x = self.conv(x)
        n, kc, t, v = x.size()
        k = self.kernel_size
        x = x.view(n, k, kc // k, t, v)
        if self.impl == 'einsum':
            x = torch.einsum('nkctv,kvw->nctw', (x, A))
        else:
            c = kc // k
            x = x.permute(0, 2, 3, 1, 4).reshape(n, c * t, k * v)
            x = torch.matmul(x, A.reshape(k * v, A.size(2))).view(n, c, t, A.size(2))
        return x.contiguous(), A
