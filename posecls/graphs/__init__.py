"""Skeleton layouts, partition strategies and the Graph adjacency builder."""
from . import builtin_layouts, strategies  # noqa: F401  (registers the built-ins)
from .graph import Graph, get_hop_distance, normalize_digraph
from .layout import SkeletonLayout, get_layout

__all__ = ['Graph', 'SkeletonLayout', 'get_layout', 'get_hop_distance', 'normalize_digraph']
