"""The HTML report of a trained run (``posecls report WORK_DIR``): one self-contained page.

Modules: ``collect`` (what a work dir holds: checkpoint, config, scalars, evaluation), ``figures`` (plots),
``card`` (the model card), ``animations`` (skeleton animations with the layout's edges), ``html`` (the page),
``build`` (:func:`build_report`). Attributes are imported on first use (:mod:`posecls.utils.lazy`), so
``posecls report --help`` imports neither torch, mmengine nor plotly.
"""
from posecls.utils.lazy import lazy_exports

_EXPORTS = {'build_report': 'build', 'REPORT_FILE': 'build', 'REPORT_DIR': 'build'}

__getattr__, __dir__, import_all = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
