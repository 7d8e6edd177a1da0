"""Heads."""
from .gcn_head import GCNHead
from .protogcn_head import ClassSpecificContrastiveLoss, ProtoGCNHead

__all__ = ['GCNHead', 'ProtoGCNHead', 'ClassSpecificContrastiveLoss']
