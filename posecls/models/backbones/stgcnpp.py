"""ST-GCN++ (Duan et al., PYSKL 2022): ST-GCN with a learned topology, GCN residuals and a multi-scale TCN."""
from typing import List, Optional, Sequence, Union

import torch
from torch import nn

from posecls.models.backbones.base import GCNBackbone
from posecls.models.backbones.stages import stage_plan
from posecls.models.utils import MSTCN, MSTCN_BRANCHES, AdaptiveGraphConv, SkeletonInputBN, UnitTCN
from posecls.models.utils.residual import add_residual, residual_unit
from posecls.models.utils.tcn import unit_projection
from posecls.registry import MODELS

TCN_TYPES = ('mstcn', 'unit_tcn')


class STGCNPPBlock(nn.Module):
    """``ReLU(tcn(gcn(x)) + residual(x))`` with an :class:`AdaptiveGraphConv` and an MSTCN.

    Args:
        in_channels: Input channels.
        out_channels: Output channels.
        A: (K, V, V) adjacency.
        stride: Temporal stride.
        residual: Block residual (identity, or a strided 1x1 UnitTCN when shapes differ).
        gcn_adaptive: See :class:`AdaptiveGraphConv` (``'init'`` in ST-GCN++).
        gcn_with_res: Residual inside the graph convolution.
        tcn_type: ``'mstcn'`` (ST-GCN++) or ``'unit_tcn'`` (a single 9x1 convolution).
        tcn_branches: MSTCN branch configs.
        tcn_dropout: Dropout at the end of the TCN.

    Shape:
        (N, C_in, T, V) -> (N, C_out, ceil(T / stride), V).
    """

    def __init__(self, in_channels: int, out_channels: int, A: torch.Tensor, stride: int = 1, residual: bool = True,
                 gcn_adaptive: Optional[str] = 'init', gcn_with_res: bool = True, tcn_type: str = 'mstcn',
                 tcn_branches: Sequence = MSTCN_BRANCHES, tcn_dropout: float = 0.0) -> None:
        super().__init__()
        if tcn_type not in TCN_TYPES:
            raise ValueError(f'tcn_type must be one of {TCN_TYPES}, got {tcn_type!r}')
        self.gcn = AdaptiveGraphConv(in_channels, out_channels, A, adaptive=gcn_adaptive, with_res=gcn_with_res)
        if tcn_type == 'mstcn':
            self.tcn = MSTCN(out_channels, out_channels, stride=stride, branches=tcn_branches, dropout=tcn_dropout)
        else:
            self.tcn = UnitTCN(out_channels, out_channels, 9, stride=stride, dropout=tcn_dropout)
        self.residual = residual_unit(in_channels, out_channels, stride, residual, unit_projection)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the block."""
        return self.relu(add_residual(self.tcn(self.gcn(x)), self.residual, x))


@MODELS.register_module()
class STGCNPP(GCNBackbone):
    """ST-GCN++ backbone (pyskl ``STGCN(gcn_adaptive='init', gcn_with_res=True, tcn_type='mstcn')``).

    Ten blocks by default: ``C->64``, 64 x3, 128/s2, 128 x2, 256/s2, 256 x2
    (``inflate_stages`` / ``down_stages`` = (5, 8)). With the ``ntu-rgb+d`` graph,
    3 channels and a 60-class GCNHead it has 1.39 M parameters, as published.

    Args:
        in_channels: Input channels C (3 for x, y, z; 6 for joint+bone).
        graph_cfg: Keyword arguments of :class:`posecls.graphs.Graph`.
        base_channels: Channels of the first stage.
        ch_ratio: Channel multiplier at every inflate stage.
        num_stages: Number of blocks.
        inflate_stages: 1-based blocks that multiply the channels by ``ch_ratio``.
        down_stages: 1-based blocks with temporal stride 2.
        data_bn_type: ``'VC'``, ``'MVC'`` or None (see :class:`SkeletonInputBN`).
        num_person: Persons M for ``data_bn_type='MVC'``.
        gcn_adaptive: Topology mode of every block (``'init'``, ``'importance'``, ``'offset'``, None).
        gcn_with_res: Residual inside the graph convolutions.
        tcn_type: ``'mstcn'`` or ``'unit_tcn'``.
        tcn_branches: MSTCN branch configs.
        tcn_dropout: TCN dropout of blocks 2..n (block 1 has none, as in pyskl).
        init_cfg: mmengine initialisation config (None: PyTorch defaults, as pyskl).

    Shape:
        Input (N, C, T, V, M) -> features (N, M, C_out, T', V), T' = T / 4 with the defaults.
    """

    blocks_attr = 'gcn'

    def __init__(self, in_channels: int = 3, graph_cfg: Optional[dict] = None, base_channels: int = 64,
                 ch_ratio: float = 2.0, num_stages: int = 10, inflate_stages: Sequence[int] = (5, 8),
                 down_stages: Sequence[int] = (5, 8), data_bn_type: Optional[str] = 'VC', num_person: int = 2,
                 gcn_adaptive: Optional[str] = 'init', gcn_with_res: bool = True, tcn_type: str = 'mstcn',
                 tcn_branches: Sequence = MSTCN_BRANCHES, tcn_dropout: float = 0.0,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(in_channels, graph_cfg, init_cfg)
        A = self.adjacency()
        self.data_bn = SkeletonInputBN(in_channels, self.num_node, data_bn_type, num_person, name='STGCNPP',
                                       layout_name=self.graph.layout.name)
        plan = stage_plan(in_channels, base_channels, num_stages, inflate_stages, down_stages, ch_ratio)
        self.gcn = nn.ModuleList([
            STGCNPPBlock(cin, cout, A, stride, residual=res, gcn_adaptive=gcn_adaptive, gcn_with_res=gcn_with_res,
                         tcn_type=tcn_type, tcn_branches=tcn_branches, tcn_dropout=tcn_dropout if res else 0.0)
            for cin, cout, stride, res in plan
        ])
        self.out_channels = plan[-1][1]
