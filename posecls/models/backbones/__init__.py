"""Backbones: ST-GCN (TAO's), ST-GCN++ and CTR-GCN."""
from .ctrgcn import CTRGCN, CTRGCNBlock
from .stgcn import STGCN, STGCNBlock
from .stgcnpp import STGCNPP, STGCNPPBlock

__all__ = ['STGCN', 'STGCNBlock', 'STGCNPP', 'STGCNPPBlock', 'CTRGCN', 'CTRGCNBlock']
