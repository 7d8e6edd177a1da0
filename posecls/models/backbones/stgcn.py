"""ST-GCN backbone with TAO PoseClassificationNet's exact structure and state_dict names."""
from typing import List, Optional, Union

import torch
from mmengine.model import BaseModule
from torch import nn

from posecls.graphs import Graph
from posecls.models.utils import ConvTemporalGraphical
from posecls.registry import MODELS


class STGCNBlock(nn.Module):
    """One spatial-temporal graph convolution block (``st_gcn`` in the original).

    ``out = ReLU(tcn(gcn(x, A)) + residual(x))`` with
    ``tcn = [BN, ReLU, Conv(kt x 1, stride), BN, Dropout]``.

    Args:
        in_channels: Input channels.
        out_channels: Output channels.
        kernel_size: (temporal kernel kt, spatial kernel K); kt must be odd.
        stride: Temporal stride.
        dropout: Dropout probability at the end of ``tcn``.
        residual: ``False`` for no residual; otherwise identity when shapes
            match, else ``Conv2d(1x1, stride) + BN``.
        gcn_impl: ``'einsum'`` or ``'matmul'`` (see ConvTemporalGraphical).

    Shape:
        x: (N, C_in, T, V) -> (N, C_out, ceil(T / stride), V).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: tuple, stride: int = 1,
                 dropout: float = 0.0, residual: bool = True, gcn_impl: str = 'einsum') -> None:
        super().__init__()
        kt, K = kernel_size
        if kt % 2 != 1:
            raise ValueError(f'temporal kernel size must be odd, got {kt}')
        padding = ((kt - 1) // 2, 0)
        self.gcn = ConvTemporalGraphical(in_channels, out_channels, K, impl=gcn_impl)
        self.tcn = nn.Sequential(
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_channels, out_channels, (kt, 1), (stride, 1), padding),
            nn.BatchNorm2d(out_channels),
            nn.Dropout(dropout, inplace=True),
        )
        self.has_residual = bool(residual)
        if not residual or (in_channels == out_channels and stride == 1):
            self.residual = None
        else:
            self.residual = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=(stride, 1)),
                nn.BatchNorm2d(out_channels),
            )
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor, A: torch.Tensor) -> torch.Tensor:
        """Apply the block with adjacency ``A`` (K, V, V)."""
        if not self.has_residual:
            res = 0
        elif self.residual is None:
            res = x
        else:
            res = self.residual(x)
        x, _ = self.gcn(x, A)
        return self.relu(self.tcn(x) + res)


@MODELS.register_module()
class STGCN(BaseModule):
    """Spatial Temporal Graph Convolutional Network (Yan et al. 2018) as TAO builds it.

    Ten blocks ``C->b, b, b, b, 2b/s2, 2b, 2b, 4b/s2, 4b, 4b`` (b = ``base_channels``,
    64 in TAO); block 0 has no residual and no dropout; a joint-major
    ``data_bn`` (BatchNorm1d over ``V * C``, channel index ``v * C + c``); one
    learnable edge-importance mask per block; every person is an independent
    sample. With the defaults, keys and shapes equal TAO's ``ST_GCN`` without its
    ``fcn`` head (tao_reference.md §3.3).

    Args:
        in_channels: Input channels C (3 for x, y, z).
        graph_cfg: Keyword arguments of :class:`posecls.graphs.Graph`
            (``layout``, ``strategy``, ``max_hop``, ``dilation``).
        edge_importance_weighting: Learn a (K, V, V) mask per block.
        data_bn: Normalise the input with BatchNorm1d(V * C).
        base_channels: Channels of the first stage (64 in TAO).
        temporal_kernel_size: Temporal kernel (9 in TAO; odd).
        dropout: Dropout of blocks 1-9 (0.5 in TAO's spec default).
        gcn_impl: ``'einsum'`` or ``'matmul'`` graph aggregation.
        init_cfg: mmengine initialisation config; None keeps PyTorch's
            default initialisation (TAO's behaviour).

    Shape:
        Input (N, C, T, V, M) -> features (N, M, 4 * base_channels, T', V) with
        T' = T reduced by two stride-2 stages (300 -> 75).
    """

    def __init__(self, in_channels: int = 3, graph_cfg: Optional[dict] = None,
                 edge_importance_weighting: bool = True, data_bn: bool = True, base_channels: int = 64,
                 temporal_kernel_size: int = 9, dropout: float = 0.5, gcn_impl: str = 'einsum',
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        graph_cfg = dict(layout='nvidia', strategy='spatial') if graph_cfg is None else dict(graph_cfg)
        self.graph = Graph(**graph_cfg)
        A = torch.tensor(self.graph.A, dtype=torch.float32, requires_grad=False)
        self.register_buffer('A', A)
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f'dropout must be in [0, 1), got {dropout}')
        self.in_channels = in_channels
        self.num_node = A.size(1)
        spatial_kernel_size = A.size(0)
        kernel_size = (temporal_kernel_size, spatial_kernel_size)
        self.data_bn = nn.BatchNorm1d(in_channels * self.num_node) if data_bn else nn.Identity()
        b = base_channels
        self.out_channels = 4 * b
        specs = [(in_channels, b, 1, False, 0.0), (b, b, 1, True, dropout), (b, b, 1, True, dropout),
                 (b, b, 1, True, dropout), (b, 2 * b, 2, True, dropout), (2 * b, 2 * b, 1, True, dropout),
                 (2 * b, 2 * b, 1, True, dropout), (2 * b, 4 * b, 2, True, dropout),
                 (4 * b, 4 * b, 1, True, dropout), (4 * b, 4 * b, 1, True, dropout)]
        self.st_gcn_networks = nn.ModuleList([
            STGCNBlock(cin, cout, kernel_size, stride, p, residual=res, gcn_impl=gcn_impl)
            for cin, cout, stride, res, p in specs
        ])
        if edge_importance_weighting:
            self.edge_importance = nn.ParameterList(
                [nn.Parameter(torch.ones(self.A.size())) for _ in self.st_gcn_networks])
        else:
            self.edge_importance = None

    def set_gcn_impl(self, impl: str) -> None:
        """Switch every block's graph aggregation between ``'einsum'`` and ``'matmul'``."""
        for block in self.st_gcn_networks:
            block.gcn.set_impl(impl)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Extract features.

        Args:
            x: (N, C, T, V, M) skeleton sequences.

        Returns:
            torch.Tensor: (N, M, C_out, T', V) features.
        """
        if x.dim() != 5:
            raise ValueError(f'STGCN expects input (N, C, T, V, M), got shape {tuple(x.shape)}')
        N, C, T, V, M = x.size()
        if C != self.in_channels:
            raise ValueError(f'input has C={C} channels but the model was built with in_channels='
                             f'{self.in_channels}')
        if V != self.num_node:
            raise ValueError(f"input has V={V} joints but graph layout '{self.graph.layout.name}' has "
                             f'{self.num_node}')
        x = x.permute(0, 4, 3, 1, 2).contiguous().view(N * M, V * C, T)
        x = self.data_bn(x)
        x = x.view(N, M, V, C, T).permute(0, 1, 3, 4, 2).contiguous().view(N * M, C, T, V)
        for i, block in enumerate(self.st_gcn_networks):
            A = self.A if self.edge_importance is None else self.A * self.edge_importance[i]
            x = block(x, A)
        _, c, t, v = x.size()
        return x.view(N, M, c, t, v)
