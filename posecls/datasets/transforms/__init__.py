"""Data transforms."""
from .base import BaseTransform
from .formatting import PackPoseInputs
from .spatial import RandomMove
from .temporal import AutoPad, RandomChoose

__all__ = ['BaseTransform', 'AutoPad', 'RandomChoose', 'RandomMove', 'PackPoseInputs']
