"""Graph convolutions with a learnable topology: ST-GCN++'s ``unit_gcn`` and CTR-GCN's CTRGC."""
from typing import Optional

import torch
from torch import nn

from posecls.models.utils.graph_conv import GCN_IMPLS

ADAPTIVE_MODES = (None, 'init', 'importance', 'offset')


class AdaptiveGraphConv(nn.Module):
    """Spatial graph convolution whose adjacency can be learned (ST-GCN++'s ``unit_gcn``).

    ``y = ReLU(BN(sum_k conv_k(x) A_k) + res(x))`` where the 1x1 convolution is
    applied before aggregation and ``A`` depends on ``adaptive``:

    - ``None``: the fixed graph;
    - ``'init'``: a parameter initialised with the graph (ST-GCN++);
    - ``'importance'``: graph * learnable mask initialised to 1 (ST-GCN's edge importance);
    - ``'offset'``: graph + learnable offset initialised near 0.

    Args:
        in_channels: Input channels.
        out_channels: Output channels.
        A: (K, V, V) adjacency; ``A[k, v, w]`` weights source joint v for target w.
        adaptive: One of :data:`ADAPTIVE_MODES`.
        with_res: Add a residual (identity, or 1x1 conv + BN when channels differ).
        impl: ``'einsum'`` or ``'matmul'`` aggregation (the same arithmetic; the
            matmul form exports to ONNX without Einsum). Switch with :meth:`set_impl`.

    Shape:
        (N, C_in, T, V) -> (N, C_out, T, V).
    """

    def __init__(self, in_channels: int, out_channels: int, A: torch.Tensor, adaptive: Optional[str] = 'init',
                 with_res: bool = True, impl: str = 'einsum') -> None:
        super().__init__()
        self.set_impl(impl)
        if adaptive not in ADAPTIVE_MODES:
            raise ValueError(f'adaptive must be one of {ADAPTIVE_MODES}, got {adaptive!r}')
        self.adaptive = adaptive
        self.num_subsets = A.size(0)
        if adaptive == 'init':
            self.A = nn.Parameter(A.clone())
        else:
            self.register_buffer('A', A.clone())
        if adaptive == 'importance':
            self.PA = nn.Parameter(torch.ones_like(A))
        elif adaptive == 'offset':
            self.PA = nn.Parameter(torch.empty_like(A).uniform_(-1e-6, 1e-6))
        self.conv = nn.Conv2d(in_channels, out_channels * self.num_subsets, kernel_size=1)
        self.bn = nn.BatchNorm2d(out_channels)
        self.act = nn.ReLU(inplace=True)
        if not with_res:
            self.down = None
        elif in_channels == out_channels:
            self.down = nn.Identity()
        else:
            self.down = nn.Sequential(nn.Conv2d(in_channels, out_channels, kernel_size=1), nn.BatchNorm2d(out_channels))

    def set_impl(self, impl: str) -> None:
        """Choose ``'einsum'`` or ``'matmul'`` aggregation."""
        if impl not in GCN_IMPLS:
            raise ValueError(f"gcn impl must be one of {GCN_IMPLS}, got '{impl}'")
        self.impl = impl

    def adjacency(self) -> torch.Tensor:
        """The (K, V, V) adjacency used in the forward pass."""
        if self.adaptive == 'importance':
            return self.A * self.PA
        if self.adaptive == 'offset':
            return self.A + self.PA
        return self.A

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Aggregate over joints."""
        n, _, t, v = x.shape
        res = 0 if self.down is None else self.down(x)
        k = self.num_subsets
        y = self.conv(x).view(n, k, -1, t, v)
        A = self.adjacency()
        if self.impl == 'einsum':
            y = torch.einsum('nkctv,kvw->nctw', y, A).contiguous()
        else:
            c = y.size(2)
            y = y.permute(0, 2, 3, 1, 4).reshape(n, c * t, k * v)
            y = torch.matmul(y, A.reshape(k * v, A.size(2))).view(n, c, t, A.size(2))
        return self.act(self.bn(y) + res)


class CTRGC(nn.Module):
    """Channel-wise topology refinement graph convolution for one partition (CTR-GCN).

    The shared topology ``A`` (V, V) is refined per sample and per channel:
    ``R = alpha * conv4(tanh(phi(x)_u - psi(x)_v))`` (phi, psi: 1x1 convolutions
    to ``rel_channels``, averaged over T), then ``y_c = x3_c (A + R_c)`` with
    ``x3 = conv3(x)``.

    Args:
        in_channels: Input channels.
        out_channels: Output channels.
        rel_reduction: ``rel_channels = in_channels // rel_reduction`` (8 when
            ``in_channels <= 16``).

    Shape:
        x: (N, C_in, T, V), A: (V, V) -> (N, C_out, T, V).
    """

    def __init__(self, in_channels: int, out_channels: int, rel_reduction: int = 8) -> None:
        super().__init__()
        self.rel_channels = 8 if in_channels <= 16 else in_channels // rel_reduction
        self.conv1 = nn.Conv2d(in_channels, self.rel_channels, kernel_size=1)
        self.conv2 = nn.Conv2d(in_channels, self.rel_channels, kernel_size=1)
        self.conv3 = nn.Conv2d(in_channels, out_channels, kernel_size=1)
        self.conv4 = nn.Conv2d(self.rel_channels, out_channels, kernel_size=1)
        self.tanh = nn.Tanh()

    def forward(self, x: torch.Tensor, A: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
        """Refine ``A`` from ``x`` and aggregate."""
        x1, x2, x3 = self.conv1(x).mean(-2), self.conv2(x).mean(-2), self.conv3(x)
        rel = self.tanh(x1.unsqueeze(-1) - x2.unsqueeze(-2))  # (N, R, V, V)
        graph = self.conv4(rel) * alpha + A[None, None]  # (N, C_out, V, V)
        return torch.matmul(x3, graph)  # y[n, c, t, w] = sum_v x3[n, c, t, v] graph[n, c, v, w]


class CTRGraphConv(nn.Module):
    """CTR-GCN's spatial unit: one :class:`CTRGC` per partition of a learnable ``A``, summed.

    ``y = ReLU(BN(sum_k CTRGC_k(x, A_k)) + down(x))``; the BN starts at
    weight 1e-6 so every block starts close to its residual path.

    Args:
        in_channels: Input channels.
        out_channels: Output channels.
        A: (K, V, V) initial adjacency (learned).
        rel_reduction: See :class:`CTRGC`.

    Shape:
        (N, C_in, T, V) -> (N, C_out, T, V).
    """

    def __init__(self, in_channels: int, out_channels: int, A: torch.Tensor, rel_reduction: int = 8) -> None:
        super().__init__()
        self.num_subsets = A.size(0)
        self.convs = nn.ModuleList([CTRGC(in_channels, out_channels, rel_reduction) for _ in range(self.num_subsets)])
        self.A = nn.Parameter(A.clone())
        self.alpha = nn.Parameter(torch.zeros(1))
        self.bn = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        if in_channels != out_channels:
            self.down = nn.Sequential(nn.Conv2d(in_channels, out_channels, kernel_size=1), nn.BatchNorm2d(out_channels))
        else:
            self.down = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Sum the refined convolutions of every partition."""
        y = self.convs[0](x, self.A[0], self.alpha)
        for k in range(1, self.num_subsets):
            y = y + self.convs[k](x, self.A[k], self.alpha)
        return self.relu(self.bn(y) + self.down(x))
