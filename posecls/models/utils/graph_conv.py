"""ConvTemporalGraphical: ST-GCN's spatial graph convolution."""
from typing import Tuple

import torch
from torch import nn

#: the exportable aggregation forms (ONNX Einsum, or reshape + MatMul), shared by every posecls graph convolution
GCN_IMPLS = ('einsum', 'matmul')
#: ConvTemporalGraphical's forms: the exportable ones, the channels-last training form and ``'auto'``
STGCN_GCN_IMPLS = ('auto', ) + GCN_IMPLS + ('channels_last', )


def channels_last_aggregation(x: torch.Tensor, A: torch.Tensor) -> torch.Tensor:
    """``out[n, c, t, w] = sum_k sum_v x[n, k * C + c, t, v] * A[k, v, w]`` as one matmul over (V * K).

    In channels-last memory ``x`` is laid out (N, T, V, K, C), so for every (n, t) the (V * K, C) slab is
    contiguous and the aggregation is ``A2 @ slab`` with ``A2[w, v * K + k] = A[k, v, w]`` (A pre-arranged
    once per call, K x V x V numbers): one batched matmul, no copies of the activations and a channels-last
    result, which the following BatchNorm / temporal convolution consume without reordering. Any other
    memory format gives the same values after one copy.

    Args:
        x: (N, K * C, T, V) output of the 1x1 convolution.
        A: (K, V, W) adjacency.

    Returns:
        torch.Tensor: (N, C, T, W), channels-last memory.
    """
    n, kc, t, v = x.shape
    k = A.size(0)
    c = kc // k
    slabs = x.permute(0, 2, 3, 1).reshape(n * t, v * k, c)
    # cast before expanding (autocast would materialise the expanded copy); bmm of a stride-0 batch runs
    # without the transposing copies torch.matmul makes for a 2-D @ 3-D product (1.6x faster with backward)
    A2 = A.permute(2, 1, 0).reshape(A.size(2), v * k).to(slabs.dtype)
    return torch.bmm(A2.expand(n * t, -1, -1), slabs).view(n, t, A.size(2), c).permute(0, 3, 1, 2)


class ConvTemporalGraphical(nn.Module):
    """1x1 convolution to ``K * out_channels`` maps, then aggregation over joints with A.

    ``out[n, c, t, w] = sum_k sum_v conv(x)[n, k, c, t, v] * A[k, v, w]``.

    Args:
        in_channels: Input channels C_in.
        out_channels: Output channels C_out.
        kernel_size: Spatial kernel size K (= A.size(0)).
        impl: How the aggregation is computed (the same arithmetic; switch at any time with :meth:`set_impl`):
            ``'einsum'``: TAO's form (exports an ONNX Einsum node), contiguous output as the original.
            ``'matmul'``: reshape + MatMul, for runtimes without Einsum.
            ``'channels_last'``: :func:`channels_last_aggregation`, the fastest on CPUs when the activations
            are channels-last (what :class:`~posecls.models.backbones.STGCN` does with it).
            ``'auto'``: ``'channels_last'`` in training mode on a CPU, ``'einsum'`` in eval mode and on
            other devices (where the channels-last form has not been measured).
            Export always switches to ``'einsum'`` or ``'matmul'``.

    Shape:
        x: (N, C_in, T, V); A: (K, V, V) -> out: (N, C_out, T, V).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, impl: str = 'einsum') -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.conv = nn.Conv2d(in_channels, out_channels * kernel_size, kernel_size=(1, 1), bias=True)
        self.set_impl(impl)

    def set_impl(self, impl: str) -> None:
        """Choose the aggregation form (one of :data:`STGCN_GCN_IMPLS`)."""
        if impl not in STGCN_GCN_IMPLS:
            raise ValueError(f"gcn impl must be one of {STGCN_GCN_IMPLS}, got '{impl}'")
        self.impl = impl

    def effective_impl(self, device_type: str = 'cpu') -> str:
        """The form :meth:`forward` uses now for inputs on ``device_type`` (``'auto'`` resolved)."""
        if self.impl == 'auto':
            return 'channels_last' if self.training and device_type == 'cpu' else 'einsum'
        return self.impl

    def forward(self, x: torch.Tensor, A: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Apply the graph convolution; returns ``(out, A)`` like the original."""
        if A.size(0) != self.kernel_size:
            raise ValueError(f'adjacency has K={A.size(0)} partitions, the layer expects {self.kernel_size}')
        x = self.conv(x)
        impl = self.effective_impl(x.device.type)
        if impl == 'channels_last':
            return channels_last_aggregation(x, A), A
        n, kc, t, v = x.size()
        k = self.kernel_size
        x = x.view(n, k, kc // k, t, v)
        if impl == 'einsum':
            x = torch.einsum('nkctv,kvw->nctw', (x, A))
        else:
            c = kc // k
            x = x.permute(0, 2, 3, 1, 4).reshape(n, c * t, k * v)
            x = torch.matmul(x, A.reshape(k * v, A.size(2))).view(n, c, t, A.size(2))
        return x.contiguous(), A
