"""CTR-GCN (Chen et al., ICCV 2021): channel-wise topology refinement graph convolution."""
from typing import List, Optional, Sequence, Union

import torch
from torch import nn

from posecls.models.backbones.base import GCNBackbone
from posecls.models.backbones.stages import stage_plan
from posecls.models.utils import CTRGraphConv, MultiScaleTCN, SkeletonInputBN
from posecls.models.utils.residual import add_residual, residual_unit
from posecls.models.utils.tcn import unit_projection
from posecls.registry import MODELS


class CTRGCNBlock(nn.Module):
    """``ReLU(tcn(gcn(x)) + residual(x))`` with a :class:`CTRGraphConv` and a :class:`MultiScaleTCN`.

    Args:
        in_channels: Input channels.
        out_channels: Output channels (a multiple of ``len(dilations) + 2``).
        A: (K, V, V) initial adjacency.
        stride: Temporal stride.
        residual: Block residual (identity, or a strided 1x1 UnitTCN when shapes differ).
        kernel_size: Temporal kernel of the dilated TCN branches.
        dilations: TCN dilations.
        tcn_dropout: Dropout at the end of the TCN.
        rel_reduction: CTRGC channel reduction.

    Shape:
        (N, C_in, T, V) -> (N, C_out, ceil(T / stride), V).
    """

    def __init__(self, in_channels: int, out_channels: int, A: torch.Tensor, stride: int = 1, residual: bool = True,
                 kernel_size: int = 5, dilations: Sequence[int] = (1, 2), tcn_dropout: float = 0.0,
                 rel_reduction: int = 8) -> None:
        super().__init__()
        self.gcn1 = CTRGraphConv(in_channels, out_channels, A, rel_reduction=rel_reduction)
        self.tcn1 = MultiScaleTCN(out_channels, out_channels, kernel_size=kernel_size, stride=stride,
                                  dilations=dilations, residual=False, dropout=tcn_dropout)
        self.residual = residual_unit(in_channels, out_channels, stride, residual, unit_projection)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the block."""
        return self.relu(add_residual(self.tcn1(self.gcn1(x)), self.residual, x))


@MODELS.register_module()
class CTRGCN(GCNBackbone):
    """CTR-GCN backbone (Uason-Chen/CTR-GCN ``model/ctrgcn.py``; pyskl ``CTRGCN``).

    Ten blocks ``C->64``, 64 x3, 128/s2, 128 x2, 256/s2, 256 x2; each block is a
    CTR graph convolution (one CTRGC per partition of a learnable A) and a
    multi-scale TCN (kernel 5, dilations 1 and 2, max-pool and 1x1 branches).
    Initialised as the original: convolutions Kaiming-normal (fan_out), the
    graph units' output BN at 1e-6, TCN BNs N(1, 0.02). With the ``ntu-rgb+d``
    graph, 3 channels, ``data_bn_type='MVC'``, 2 persons and a 60-class
    GCNHead it has 1.46 M parameters, as published.

    Args:
        in_channels: Input channels C.
        graph_cfg: Keyword arguments of :class:`posecls.graphs.Graph`.
        base_channels: Channels of the first stage (64).
        num_stages: Number of blocks.
        inflate_stages: 1-based blocks that double the channels.
        down_stages: 1-based blocks with temporal stride 2.
        data_bn_type: ``'VC'`` (any number of persons), ``'MVC'`` (the original; exactly
            ``num_person`` persons) or None.
        num_person: Persons M for ``'MVC'``.
        kernel_size: Temporal kernel of the TCN branches.
        dilations: TCN dilations.
        tcn_dropout: TCN dropout of blocks 2..n.
        rel_reduction: CTRGC channel reduction.
        init_cfg: mmengine initialisation config applied by ``init_weights`` on
            top of the original initialisation.

    Shape:
        Input (N, C, T, V, M) -> features (N, M, C_out, T', V), T' = T / 4 with the defaults.
    """

    blocks_attr = 'net'

    def __init__(self, in_channels: int = 3, graph_cfg: Optional[dict] = None, base_channels: int = 64,
                 num_stages: int = 10, inflate_stages: Sequence[int] = (5, 8), down_stages: Sequence[int] = (5, 8),
                 data_bn_type: Optional[str] = 'VC', num_person: int = 2, kernel_size: int = 5,
                 dilations: Sequence[int] = (1, 2), tcn_dropout: float = 0.0, rel_reduction: int = 8,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(in_channels, graph_cfg, init_cfg)
        A = self.adjacency()
        self.data_bn = SkeletonInputBN(in_channels, self.num_node, data_bn_type, num_person, name='CTRGCN',
                                       layout_name=self.graph.layout.name)
        plan = stage_plan(in_channels, base_channels, num_stages, inflate_stages, down_stages, 2.0,
                          always_first=True)
        self.net = nn.ModuleList([
            CTRGCNBlock(cin, cout, A, stride, residual=res, kernel_size=kernel_size, dilations=dilations,
                        tcn_dropout=tcn_dropout if res else 0.0, rel_reduction=rel_reduction)
            for cin, cout, stride, res in plan
        ])
        self.out_channels = plan[-1][1]
        self._init_like_original()

    def _init_like_original(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode='fan_out')
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
        for module in self.modules():
            if isinstance(module, MultiScaleTCN):
                for bn in module.modules():
                    if isinstance(bn, nn.BatchNorm2d):
                        nn.init.normal_(bn.weight, 1.0, 0.02)
            elif isinstance(module, CTRGraphConv):
                nn.init.constant_(module.bn.weight, 1e-6)
