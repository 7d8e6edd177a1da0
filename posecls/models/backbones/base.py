"""GCNBackbone: the skeleton every posecls GCN backbone shares (graph, input BN, stage loop, output reshape).

A backbone subclass builds its blocks (``stage_plan`` gives channels, strides and
residual flags) into a ``nn.ModuleList`` whose attribute name it declares in
``blocks_attr`` (the names are part of the state_dict: ``st_gcn_networks`` in
ST-GCN as TAO names it, ``gcn`` in ST-GCN++, ``net`` in CTR-GCN), and its input
normalisation as ``data_bn``. :meth:`GCNBackbone.forward` is then the same for
all of them: check + normalise + fold persons into the batch, the blocks, and
the (N, M, C', T', V) output.
"""
from typing import List, Optional, Union

import torch
from mmengine.model import BaseModule
from torch import nn

from posecls.graphs import Graph

#: graph of every backbone when ``graph_cfg`` is None: TAO's NVIDIA 34-joint layout, spatial partition.
DEFAULT_GRAPH_CFG = dict(layout='nvidia', strategy='spatial')

class GCNBackbone(BaseModule):
    """Base of the skeleton GCN backbones: input (N, C, T, V, M) -> features (N, M, C', T', V).

    Subclasses set ``data_bn`` (a :class:`posecls.models.utils.SkeletonInputBN`,
    or override :meth:`normalize_input`) and the ModuleList named by
    :attr:`blocks_attr`, and may override :meth:`forward_block` (ST-GCN passes
    its edge-weighted adjacency).

    Args:
        in_channels: Input channels C.
        graph_cfg: Keyword arguments of :class:`posecls.graphs.Graph` (default
            :data:`DEFAULT_GRAPH_CFG`).
        init_cfg: mmengine initialisation config.

    Attributes:
        graph: The :class:`Graph` (its layout gives the export shape).
        in_channels: C.
        num_node: Joints V of the layout.
        out_channels: C' of the features (set by the subclass).
    """

    #: attribute holding the blocks (kept per backbone: it names the state_dict keys)
    blocks_attr: str = 'blocks'

    def __init__(self, in_channels: int, graph_cfg: Optional[dict] = None,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.graph = Graph(**(dict(DEFAULT_GRAPH_CFG) if graph_cfg is None else dict(graph_cfg)))
        self.in_channels = in_channels
        self.num_node = int(self.graph.A.shape[1])

    def adjacency(self) -> torch.Tensor:
        """The graph's (K, V, V) adjacency as a float32 tensor (a fresh copy)."""
        return torch.tensor(self.graph.A, dtype=torch.float32)

    @property
    def blocks(self) -> nn.ModuleList:
        """The backbone's blocks, in order."""
        return getattr(self, self.blocks_attr)

    def normalize_input(self, x: torch.Tensor) -> torch.Tensor:
        """Check, normalise and fold persons: (N, C, T, V, M) -> (N * M, C, T, V)."""
        return self.data_bn(x)

    def forward_block(self, index: int, block: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """Apply block ``index``."""
        return block(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Extract features.

        Args:
            x: (N, C, T, V, M) skeleton sequences.

        Returns:
            torch.Tensor: (N, M, C', T', V) features.
        """
        N, M = x.shape[0], x.shape[-1]
        x = self.normalize_input(x)
        for i, block in enumerate(self.blocks):
            x = self.forward_block(i, block, x)
        return x.reshape((N, M) + tuple(x.shape[1:]))
