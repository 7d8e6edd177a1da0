"""Data transforms."""
from .augmentation import RandomRotate, RandomScale
from .base import BaseTransform
from .formatting import PackPoseInputs
from .normalization import CenterOnJoint, NormalizeScale
from .sampling import UniformSample
from .spatial import RandomMove
from .streams import STREAMS, PoseStream
from .temporal import AutoPad, RandomChoose

__all__ = ['BaseTransform', 'AutoPad', 'RandomChoose', 'RandomMove', 'PackPoseInputs', 'CenterOnJoint',
           'NormalizeScale', 'RandomRotate', 'RandomScale', 'UniformSample', 'PoseStream', 'STREAMS']
