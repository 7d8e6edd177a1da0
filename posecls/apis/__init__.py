"""High-level APIs: build a model, evaluate it, classify sequences, write outputs.

Attributes are imported on first use (:mod:`posecls.utils.lazy`), so ``posecls.apis.outputs``
(numpy only) does not pull in torch and mmengine.
"""
from posecls.utils.lazy import lazy_exports

_EXPORTS = {
    'init_recognizer': 'inference', 'init_model': 'inference', 'inference_recognizer': 'inference',
    'as_recognizer': 'inference',
    'classes_from_config': 'inference', 'RAW_PIPELINE': 'inference',
    'test_model': 'test',
    'format_ranked_line': 'outputs', 'write_ranked_scores': 'outputs', 'write_lines': 'outputs',
    'top1_labels': 'outputs', 'ranked_lines': 'outputs',
}

__getattr__, __dir__, import_all = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
