"""Model building blocks."""
from .graph_conv import GCN_IMPLS, ConvTemporalGraphical

__all__ = ['ConvTemporalGraphical', 'GCN_IMPLS']
