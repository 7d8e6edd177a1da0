"""Functional metrics."""
from .classification import (
                             classification_summary,
                             confusion_matrix,
                             cross_entropy,
                             format_tao_table,
                             most_confused_pairs,
                             per_class_accuracy,
                             precision_recall_f1,
                             topk_accuracy,
)

__all__ = ['confusion_matrix', 'per_class_accuracy', 'topk_accuracy', 'cross_entropy', 'classification_summary',
           'format_tao_table', 'precision_recall_f1', 'most_confused_pairs']
