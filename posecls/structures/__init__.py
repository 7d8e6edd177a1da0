"""Data structures passed between datasets, models and metrics."""
from .pose_data_sample import PoseDataSample

__all__ = ['PoseDataSample']
