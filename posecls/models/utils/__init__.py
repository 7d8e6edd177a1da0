"""Model building blocks."""
from .adaptive_gcn import ADAPTIVE_MODES, CTRGC, AdaptiveGraphConv, CTRGraphConv
from .data_bn import DATA_BN_TYPES, SkeletonInputBN, normalize_skeleton_input
from .graph_conv import GCN_IMPLS, ConvTemporalGraphical
from .tcn import MSTCN, MSTCN_BRANCHES, MultiScaleTCN, UnitTCN

__all__ = ['ConvTemporalGraphical', 'GCN_IMPLS', 'AdaptiveGraphConv', 'ADAPTIVE_MODES', 'CTRGC', 'CTRGraphConv',
           'SkeletonInputBN', 'normalize_skeleton_input', 'DATA_BN_TYPES', 'MSTCN', 'MSTCN_BRANCHES', 'MultiScaleTCN',
           'UnitTCN']
