"""ST-GCN backbone with TAO PoseClassificationNet's exact structure and state_dict names."""
from typing import List, Optional, Union

import torch
from torch import nn

from posecls.models.backbones.base import GCNBackbone
from posecls.models.backbones.stages import stage_plan
from posecls.models.utils import ConvTemporalGraphical, normalize_skeleton_input
from posecls.models.utils.residual import StridedPointwiseConv2d, add_residual, residual_unit
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
        gcn_impl: Graph aggregation form (:data:`~posecls.models.utils.graph_conv.STGCN_GCN_IMPLS`, see
            ConvTemporalGraphical).

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
        self.residual = residual_unit(in_channels, out_channels, stride, residual, _tao_projection)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor, A: torch.Tensor) -> torch.Tensor:
        """Apply the block with adjacency ``A`` (K, V, V)."""
        y, _ = self.gcn(x, A)
        return self.relu(add_residual(self.tcn(y), self.residual, x))


def _tao_projection(in_channels: int, out_channels: int, stride: int) -> nn.Module:
    """TAO's residual projection ``Sequential(Conv2d 1x1 / stride, BN)`` (keys ``residual.0.*``, ``residual.1.*``)."""
    return nn.Sequential(StridedPointwiseConv2d(in_channels, out_channels, kernel_size=1, stride=(stride, 1)),
                         nn.BatchNorm2d(out_channels))


@MODELS.register_module()
class STGCN(GCNBackbone):
    """Spatial Temporal Graph Convolutional Network (Yan et al. 2018) as TAO builds it.

    Ten blocks ``C->b, b, b, b, 2b/s2, 2b, 2b, 4b/s2, 4b, 4b`` (b = ``base_channels``,
    64 in TAO); block 0 has no residual and no dropout; a joint-major
    ``data_bn`` (BatchNorm1d over ``V * C``, channel index ``v * C + c``); one
    learnable edge-importance mask per block; every person is an independent
    sample. With the defaults, keys and shapes equal TAO's ``ST_GCN`` without its
    ``fcn`` head (docs/reference.md §3.3).

    Args:
        in_channels: Input channels C (3 for x, y, z).
        graph_cfg: Keyword arguments of :class:`posecls.graphs.Graph`
            (``layout``, ``strategy``, ``max_hop``, ``dilation``).
        edge_importance_weighting: Learn a (K, V, V) mask per block.
        data_bn: Normalise the input with BatchNorm1d(V * C).
        base_channels: Channels of the first stage (64 in TAO).
        temporal_kernel_size: Temporal kernel (9 in TAO; odd).
        dropout: Dropout of blocks 1-9 (0.5 in TAO's spec default).
        gcn_impl: Graph aggregation form, the same arithmetic in every form (ConvTemporalGraphical):
            ``'auto'`` (default): training on a CPU keeps the activations channels-last and aggregates
            with one matmul over (V * K) (``'channels_last'``; faster CPU training, docs/benchmarks.md
            "posecls vs MMAction2"); eval mode and other devices use TAO's einsum, so inference, export
            and parity are unchanged.
            ``'einsum'`` (TAO's form everywhere: turns the training speed-up off), ``'matmul'``
            (reshape + MatMul) or ``'channels_last'`` (in both modes).
        init_cfg: mmengine initialisation config; None keeps PyTorch's
            default initialisation (TAO's behaviour).

    Shape:
        Input (N, C, T, V, M) -> features (N, M, 4 * base_channels, T', V) with
        T' = T reduced by two stride-2 stages (300 -> 75).
    """

    blocks_attr = 'st_gcn_networks'

    def __init__(self, in_channels: int = 3, graph_cfg: Optional[dict] = None,
                 edge_importance_weighting: bool = True, data_bn: bool = True, base_channels: int = 64,
                 temporal_kernel_size: int = 9, dropout: float = 0.5, gcn_impl: str = 'auto',
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(in_channels, graph_cfg, init_cfg)
        self.register_buffer('A', self.adjacency())
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f'dropout must be in [0, 1), got {dropout}')
        kernel_size = (temporal_kernel_size, self.A.size(0))
        # TAO's key names: a plain BatchNorm1d(V * C) as `data_bn` (normalize_input folds like SkeletonInputBN)
        self.data_bn = nn.BatchNorm1d(in_channels * self.num_node) if data_bn else nn.Identity()
        plan = stage_plan(in_channels, base_channels, 10, (5, 8), (5, 8), 2.0, always_first=True)
        self.out_channels = plan[-1][1]
        self.st_gcn_networks = nn.ModuleList([
            STGCNBlock(cin, cout, kernel_size, stride, dropout if res else 0.0, residual=res, gcn_impl=gcn_impl)
            for cin, cout, stride, res in plan
        ])
        if edge_importance_weighting:
            self.edge_importance = nn.ParameterList(
                [nn.Parameter(torch.ones(self.A.size())) for _ in self.st_gcn_networks])
        else:
            self.edge_importance = None

    def set_gcn_impl(self, impl: str) -> None:
        """Switch every block's graph aggregation (``'auto'``, ``'einsum'``, ``'matmul'``, ``'channels_last'``)."""
        for block in self.st_gcn_networks:
            block.gcn.set_impl(impl)

    def normalize_input(self, x: torch.Tensor) -> torch.Tensor:
        """TAO's joint-major ``data_bn`` over ``V * C``, persons folded into the batch.

        The result is channels-last when the first block aggregates in the ``'channels_last'`` form, so that
        every convolution, BatchNorm and aggregation after it runs channels-last without reordering.
        """
        x = normalize_skeleton_input(x, self.data_bn, 'VC', self.in_channels, self.num_node, name='STGCN',
                                     layout_name=self.graph.layout.name)
        if self.st_gcn_networks[0].gcn.effective_impl(x.device.type) == 'channels_last':
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    def forward_block(self, index: int, block: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """Block ``index`` with the adjacency weighted by its edge-importance mask."""
        A = self.A if self.edge_importance is None else self.A * self.edge_importance[index]
        return block(x, A)
