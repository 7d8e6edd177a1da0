"""Runner."""
from .pose_runner import PoseRunner

__all__ = ['PoseRunner']
