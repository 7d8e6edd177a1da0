"""Backbones: ST-GCN (TAO's), ST-GCN++, CTR-GCN and ProtoGCN."""
from .ctrgcn import CTRGCN, CTRGCNBlock
from .protogcn import ProtoGCN, ProtoGCNBlock
from .stgcn import STGCN, STGCNBlock
from .stgcnpp import STGCNPP, STGCNPPBlock

__all__ = ['STGCN', 'STGCNBlock', 'STGCNPP', 'STGCNPPBlock', 'CTRGCN', 'CTRGCNBlock', 'ProtoGCN', 'ProtoGCNBlock']
