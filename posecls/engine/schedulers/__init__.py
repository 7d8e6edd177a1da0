"""Parameter schedulers."""
from .auto_reduce_lr import AutoReduceLR

__all__ = ['AutoReduceLR']
