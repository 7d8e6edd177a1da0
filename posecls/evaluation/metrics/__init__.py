"""Metrics."""
from .accuracy_metric import PoseAccMetric
from .dump_predictions import DumpPredictions

__all__ = ['PoseAccMetric', 'DumpPredictions']
