"""ProtoGCN's building blocks: motion-topology-enhanced graph convolution, a global-joint MSTCN, prototype memory.

ProtoGCN: Liu, Liu, Ren, Wang, Wang, Sun, "Revealing Key Details to See Differences: A Novel Prototypical
Perspective for Skeleton-based Action Recognition", CVPR 2025 (arXiv 2411.18941). Written for posecls from the
paper and the description of the public reference code (firework8/ProtoGCN, MIT licence, built on pyskl); no
code is copied. docs/reference.md, "External models", lists what was taken from where.
"""
from typing import Sequence, Tuple

import torch
from torch import nn

from posecls.models.utils.graph_conv import GCN_IMPLS
from posecls.models.utils.tcn import MSTCN, MSTCN_BRANCHES, BranchCfg


class MotionTopologyGraphConv(nn.Module):
    """ProtoGCN's spatial unit: K learned topologies, each enhanced per sample by the motion of the joints.

    With ``m = int(ratio * out_channels)`` channels per subset k (all shapes per sample):

    - ``q, s = mean_T(conv1(x)), mean_T(conv2(x))``: (K, m, V) joint descriptors;
    - inter-joint (motion) graph ``G_inter[k, c, v, w] = alpha * tanh(q[k, c, v] - s[k, c, w])`` (per channel);
    - intra (correlation) graph ``G_intra[k, v, w] = beta * softmax_v(sum_c q[k, c, v] s[k, c, w])``;
    - ``y = post(sum over (k, c) of pre(x)[k, c] @ (A_k + G_inter[k, c] + G_intra[k]))``;
      output ``ReLU(BN(y) + down(x))``.

    ``alpha`` and ``beta`` are K-vectors starting at 0 (the block starts as a plain learned-topology GCN); as in
    the reference, the first entry of each scales every subset, so the other K - 1 entries are kept only so the
    parameter count matches the reference. The enhancement ``G_inter + G_intra`` (one (V, V) graph per channel of
    ``pre(x)``) is the second output: ProtoGCN's prototype branch reconstructs the last block's one.

    Args:
        in_channels: Input channels.
        out_channels: Output channels.
        A: (K, V, V) initial topology (learned).
        ratio: Channels per subset as a fraction of ``out_channels``.
        impl: ``'einsum'`` or ``'matmul'`` (the same arithmetic; switch with :meth:`set_impl`).

    Shape:
        (N, C_in, T, V) -> ((N, C_out, T, V), (N, K * m, V, V)).

    Raises:
        ValueError: ``int(ratio * out_channels) < 1`` or an unknown ``impl``.
    """

    def __init__(self, in_channels: int, out_channels: int, A: torch.Tensor, ratio: float = 0.125,
                 impl: str = 'einsum') -> None:
        super().__init__()
        self.set_impl(impl)
        self.num_subsets = int(A.size(0))
        self.mid_channels = int(ratio * out_channels)
        if self.mid_channels < 1:
            raise ValueError(f'MotionTopologyGraphConv: ratio={ratio} x out_channels={out_channels} leaves no channel '
                             'per subset; use more channels (base_channels) or a larger gcn_ratio')
        inner = self.mid_channels * self.num_subsets
        self.A = nn.Parameter(A.clone())
        self.pre = nn.Sequential(nn.Conv2d(in_channels, inner, 1), nn.BatchNorm2d(inner), nn.ReLU(inplace=True))
        self.conv1 = nn.Conv2d(in_channels, inner, 1)
        self.conv2 = nn.Conv2d(in_channels, inner, 1)
        self.alpha = nn.Parameter(torch.zeros(self.num_subsets))
        self.beta = nn.Parameter(torch.zeros(self.num_subsets))
        self.post = nn.Conv2d(inner, out_channels, 1)
        self.bn = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        if in_channels != out_channels:
            self.down = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1), nn.BatchNorm2d(out_channels))
        else:
            self.down = nn.Identity()

    @property
    def graph_channels(self) -> int:
        """Channels K * m of the enhancement graph (the second output)."""
        return self.mid_channels * self.num_subsets

    def set_impl(self, impl: str) -> None:
        """Choose ``'einsum'`` or ``'matmul'`` for the correlation graph and the aggregation."""
        if impl not in GCN_IMPLS:
            raise ValueError(f"gcn impl must be one of {GCN_IMPLS}, got '{impl}'")
        self.impl = impl

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Aggregate over joints; also return the per-sample enhancement graph."""
        n, _, t, v = x.shape
        k, m = self.num_subsets, self.mid_channels
        res = self.down(x)
        pre = self.pre(x).view(n, k, m, t, v)
        q = self.conv1(x).view(n, k, m, t, v).mean(3)  # (n, k, m, v)
        s = self.conv2(x).view(n, k, m, t, v).mean(3)
        inter = torch.tanh(q.unsqueeze(-1) - s.unsqueeze(-2)) * self.alpha[0]  # (n, k, m, v, w)
        if self.impl == 'einsum':
            corr = torch.einsum('nkcv,nkcw->nkvw', q, s)
        else:
            corr = torch.matmul(q.transpose(-1, -2), s)
        intra = torch.softmax(corr, dim=-2) * self.beta[0]  # normalised over the source joint v
        enhancement = inter + intra.unsqueeze(2)  # (n, k, m, v, w)
        graph = self.A.unsqueeze(1) + enhancement
        if self.impl == 'einsum':
            y = torch.einsum('nkctv,nkcvw->nkctw', pre, graph)
        else:
            y = torch.matmul(pre, graph)
        y = self.post(y.reshape(n, k * m, t, v))
        return self.relu(self.bn(y) + res), enhancement.reshape(n, k * m, v, v)


class GlobalJointMSTCN(MSTCN):
    """:class:`MSTCN` with a global joint: the mean over joints goes through the branches with the joints.

    The input gets a (V + 1)-th column, the mean of the V joints; after the branches, that column's output,
    scaled per joint by a learned ``add_coeff`` (V values starting at 0), is added to every joint before the fusion
    (``transform``), BN and dropout of :class:`MSTCN`. The temporal unit of the ProtoGCN reference (pyskl's
    ``mstcn`` with DG-STGCN's joint-global term).

    Args:
        in_channels: Input channels.
        out_channels: Output channels.
        num_joints: V (the reference fixes 25 and uses the first V; posecls sizes it to the layout).
        stride: Temporal stride.
        branches: Branch configs (see :class:`MSTCN`).
        dropout: Dropout at the end.

    Shape:
        (N, C_in, T, V) -> (N, C_out, ceil(T / stride), V).
    """

    def __init__(self, in_channels: int, out_channels: int, num_joints: int, stride: int = 1,
                 branches: Sequence[BranchCfg] = MSTCN_BRANCHES, dropout: float = 0.0) -> None:
        super().__init__(in_channels, out_channels, stride=stride, branches=branches, dropout=dropout)
        self.add_coeff = nn.Parameter(torch.zeros(num_joints))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the branches to the joints and their mean, add the mean's output per joint, fuse."""
        v = x.size(-1)
        if v != self.add_coeff.numel():
            raise ValueError(f'GlobalJointMSTCN was built for {self.add_coeff.numel()} joints, got V={v}')
        x = torch.cat([x, x.mean(-1, keepdim=True)], dim=-1)
        out = torch.cat([branch(x) for branch in self.branches], dim=1)
        out = out[..., :v] + out[..., v:] * self.add_coeff
        return self.drop(self.bn(self.transform(out)))


class PrototypeReconstruction(nn.Module):
    """ProtoGCN's Prototype Reconstruction Network: a vector as a softmax mixture of learned prototypes.

    ``z = dropout(M softmax(Q x))``: ``Q`` (``query``, P x C) scores the P prototypes, the columns of ``M``
    (``memory``, C x P), for each input vector; both without bias.

    Args:
        channels: C.
        num_prototypes: P.
        dropout: Dropout on the reconstruction.

    Shape:
        (..., C) -> (..., C).
    """

    def __init__(self, channels: int, num_prototypes: int = 400, dropout: float = 0.1) -> None:
        super().__init__()
        if num_prototypes < 1:
            raise ValueError(f'num_prototypes must be >= 1, got {num_prototypes}')
        self.query = nn.Linear(channels, num_prototypes, bias=False)
        self.memory = nn.Linear(num_prototypes, channels, bias=False)
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstruct ``x`` from the prototypes."""
        return self.drop(self.memory(torch.softmax(self.query(x), dim=-1)))
