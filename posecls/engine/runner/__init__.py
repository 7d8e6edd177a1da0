"""Runner and log processor."""
from .log_processor import PoseLogProcessor
from .pose_runner import PoseRunner

__all__ = ['PoseRunner', 'PoseLogProcessor']
