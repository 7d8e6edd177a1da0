"""ProtoGCN (Liu et al., CVPR 2025): motion topology enhancement and prototype reconstruction of the learned graphs.

Liu, Liu, Ren, Wang, Wang, Sun, "Revealing Key Details to See Differences: A Novel Prototypical Perspective for
Skeleton-based Action Recognition", CVPR 2025, arXiv 2411.18941. Public reference: firework8/ProtoGCN (MIT
licence), built on pyskl. This module is written for posecls from the paper and the reference's description,
on posecls's blocks; no code is copied (docs/reference.md, "External models").

The method in short: ten ST-GCN++-style blocks whose graph convolution adds to K learned topologies a
per-sample "motion topology" (pairwise joint differences and correlations, :class:`MotionTopologyGraphConv`),
followed by a multi-scale TCN with a global joint. In training, the last block's per-sample topology is
reconstructed as a mixture of learned prototypes (:class:`PrototypeReconstruction`) and a class-specific
contrastive loss on the reconstruction (:class:`posecls.models.heads.ProtoGCNHead`) pulls samples of a class
towards that class's memory. Classification uses the block features only, so the prototype branch is off in
inference and export: ``forward`` is that of every posecls backbone.
"""
from typing import List, Optional, Sequence, Tuple, Union

import torch
from torch import nn

from posecls.models.backbones.base import GCNBackbone
from posecls.models.backbones.stages import stage_plan
from posecls.models.utils import MSTCN_BRANCHES, SkeletonInputBN
from posecls.models.utils.prototype_gcn import GlobalJointMSTCN, MotionTopologyGraphConv, PrototypeReconstruction
from posecls.models.utils.residual import add_residual, residual_unit
from posecls.models.utils.tcn import unit_projection
from posecls.registry import MODELS

#: initial topology of the blocks: 'random' (the reference: K random (V, V) graphs, no skeleton prior) or
#: 'graph' (the partitions of ``graph_cfg``: layout and strategy)
TOPOLOGIES = ('random', 'graph')


class ProtoGCNBlock(nn.Module):
    """``ReLU(tcn(gcn(x)) + residual(x))`` with a :class:`MotionTopologyGraphConv` and a :class:`GlobalJointMSTCN`.

    Args:
        in_channels: Input channels.
        out_channels: Output channels.
        A: (K, V, V) initial topology.
        stride: Temporal stride.
        residual: Block residual (identity, or a strided 1x1 UnitTCN when shapes differ).
        gcn_ratio: Channels per topology subset as a fraction of ``out_channels``.
        tcn_branches: MSTCN branch configs.
        tcn_dropout: Dropout at the end of the TCN.

    Shape:
        (N, C_in, T, V) -> ((N, C_out, ceil(T / stride), V), (N, K * m, V, V)): the features and the
        enhancement graph of the graph convolution.
    """

    def __init__(self, in_channels: int, out_channels: int, A: torch.Tensor, stride: int = 1, residual: bool = True,
                 gcn_ratio: float = 0.125, tcn_branches: Sequence = MSTCN_BRANCHES, tcn_dropout: float = 0.0) -> None:
        super().__init__()
        self.gcn = MotionTopologyGraphConv(in_channels, out_channels, A, ratio=gcn_ratio)
        self.tcn = GlobalJointMSTCN(out_channels, out_channels, int(A.size(-1)), stride=stride,
                                    branches=tcn_branches, dropout=tcn_dropout)
        self.residual = residual_unit(in_channels, out_channels, stride, residual, unit_projection)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Apply the block; also return the graph convolution's enhancement graph."""
        y, graph = self.gcn(x)
        return self.relu(add_residual(self.tcn(y), self.residual, x)), graph


@MODELS.register_module()
class ProtoGCN(GCNBackbone):
    """ProtoGCN backbone (reference: firework8/ProtoGCN ``ProtoGCN`` with its NTU configs).

    Ten blocks ``C->96``, 96 x3, 192/s2, 192 x2, 384/s2, 384 x2 (pyskl's stage rule, base 96), each a
    :class:`ProtoGCNBlock` over K=8 random initial topologies (``topology='random'``: ``N(init_off,
    init_std^2)`` entries, one draw shared by all blocks, as the reference's ``Graph(mode='random',
    num_filter=8, init_off=0.04, init_std=0.02)``). The prototype branch (training only, see
    :meth:`forward_with_reconstruction`): the last block's enhancement graphs (N * M, K * m, V, V), averaged over
    persons, are reconstructed per joint pair by ``num_prototype`` prototypes, then 1x1 conv + BN + ReLU, and
    averaged over channels to (N, V * V). With the ``ntu-rgb+d`` layout, 3 channels, 2 persons, 400 prototypes
    and a 120-class :class:`ProtoGCNHead` (whose contrastive loss adds a 625 -> 256 projection) it has the
    reference configuration's parameter count (tests/test_gcn_backbones.py).

    Args:
        in_channels: Input channels C.
        graph_cfg: Keyword arguments of :class:`posecls.graphs.Graph` (the layout gives V; the strategy is used
            only with ``topology='graph'``).
        base_channels: Channels of the first stage (96).
        ch_ratio: Channel multiplier at every inflate stage.
        num_stages: Number of blocks.
        inflate_stages: 1-based blocks that multiply the channels by ``ch_ratio``.
        down_stages: 1-based blocks with temporal stride 2.
        data_bn_type: ``'VC'``, ``'MVC'`` or None (see :class:`SkeletonInputBN`).
        num_person: Persons M for ``data_bn_type='MVC'``.
        topology: One of :data:`TOPOLOGIES`.
        num_filter: K of ``topology='random'`` (8).
        init_std: Standard deviation of the random topology.
        init_off: Mean of the random topology.
        gcn_ratio: Channels per subset as a fraction of a block's output channels (0.125).
        tcn_branches: MSTCN branch configs (the six of ST-GCN++).
        tcn_dropout: TCN dropout of blocks 2..n (block 1 has none).
        num_prototype: Prototypes P of the reconstruction (400 in the reference's NTU / Kinetics / FineGYM configs).
        prototype_dropout: Dropout on the reconstruction (0.1).
        init_cfg: mmengine initialisation config (None: PyTorch defaults, as the reference).

    Shape:
        Input (N, C, T, V, M) -> features (N, M, C_out, T', V), T' = T / 4 with the defaults.

    Raises:
        ValueError: an unknown ``topology``, ``num_filter < 1``, or a stage plan that leaves a block without
            channels per subset.
    """

    blocks_attr = 'gcn'

    def __init__(self, in_channels: int = 3, graph_cfg: Optional[dict] = None, base_channels: int = 96,
                 ch_ratio: float = 2.0, num_stages: int = 10, inflate_stages: Sequence[int] = (5, 8),
                 down_stages: Sequence[int] = (5, 8), data_bn_type: Optional[str] = 'VC', num_person: int = 2,
                 topology: str = 'random', num_filter: int = 8, init_std: float = 0.02, init_off: float = 0.04,
                 gcn_ratio: float = 0.125, tcn_branches: Sequence = MSTCN_BRANCHES, tcn_dropout: float = 0.0,
                 num_prototype: int = 400, prototype_dropout: float = 0.1,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(in_channels, graph_cfg, init_cfg)
        if topology not in TOPOLOGIES:
            raise ValueError(f'ProtoGCN: topology must be one of {TOPOLOGIES}, got {topology!r}')
        if topology == 'random':
            if not isinstance(num_filter, int) or num_filter < 1:
                raise ValueError(f'ProtoGCN: num_filter must be an int >= 1, got {num_filter!r}')
            A = torch.randn(num_filter, self.num_node, self.num_node) * init_std + init_off
        else:
            A = self.adjacency()
        self.topology = topology
        self.data_bn = SkeletonInputBN(in_channels, self.num_node, data_bn_type, num_person, name='ProtoGCN',
                                       layout_name=self.graph.layout.name)
        plan = stage_plan(in_channels, base_channels, num_stages, inflate_stages, down_stages, ch_ratio)
        self.gcn = nn.ModuleList([
            ProtoGCNBlock(cin, cout, A, stride, residual=res, gcn_ratio=gcn_ratio, tcn_branches=tcn_branches,
                          tcn_dropout=tcn_dropout if res else 0.0)
            for cin, cout, stride, res in plan
        ])
        self.out_channels = plan[-1][1]
        graph_channels = self.gcn[-1].gcn.graph_channels
        self.prn = PrototypeReconstruction(graph_channels, num_prototype, dropout=prototype_dropout)
        self.post = nn.Sequential(nn.Conv2d(graph_channels, graph_channels, 1), nn.BatchNorm2d(graph_channels),
                                  nn.ReLU(inplace=True))

    @property
    def reconstruction_size(self) -> int:
        """Length V * V of the reconstruction :meth:`forward_with_reconstruction` returns per sample."""
        return self.num_node * self.num_node

    def forward_block(self, index: int, block: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """Apply block ``index`` (its features; the enhancement graph is dropped)."""
        return block(x)[0]

    def reconstruct(self, graph: torch.Tensor, num_person: int) -> torch.Tensor:
        """The prototype reconstruction of the last block's enhancement graphs.

        Args:
            graph: (N * M, G, V, V) enhancement graphs of the last block.
            num_person: M.

        Returns:
            torch.Tensor: (N, V * V), the channel mean of ``ReLU(BN(conv(PRN(graph averaged over M))))``.
        """
        nm, g, v, _ = graph.shape
        n = nm // num_person
        graph = graph.reshape(n, num_person, g, v * v).mean(1).transpose(1, 2)  # (N, V*V, G): one vector per pair
        z = self.prn(graph).transpose(1, 2).reshape(n, g, v, v)
        return self.post(z).mean(1).reshape(n, v * v)

    def forward_with_reconstruction(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Features and the prototype reconstruction (what the training loss of ProtoGCN needs).

        Args:
            x: (N, C, T, V, M) skeleton sequences.

        Returns:
            (features (N, M, C', T', V), reconstruction (N, V * V)).
        """
        N, M = x.shape[0], x.shape[-1]
        x = self.normalize_input(x)
        graph = None
        for block in self.gcn:
            x, graph = block(x)
        return x.reshape((N, M) + tuple(x.shape[1:])), self.reconstruct(graph, M)
