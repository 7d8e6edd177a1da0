"""Evaluation: metrics, functional helpers and reports."""
from .functional import *  # noqa: F401,F403
from .metrics import *  # noqa: F401,F403
from .report import plot_confusion_matrix, write_evaluation_report  # noqa: F401
