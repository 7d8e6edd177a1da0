"""Evaluation: metrics, functional helpers and reports.

Attributes are imported on first use (:mod:`posecls.utils.lazy`): the functional metrics, score fusion and
reports need numpy only; the mmengine metrics (``posecls.evaluation.metrics``) bring torch and mmengine. The
names of ``functional`` and ``metrics`` are attributes here too.
"""
from posecls.utils.lazy import lazy_exports

_EXPORTS = {'plot_confusion_matrix': 'report', 'write_evaluation_report': 'report'}

__getattr__, __dir__, import_all = lazy_exports(__name__, _EXPORTS, star=('functional', 'metrics'))
