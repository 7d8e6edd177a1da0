"""High-level APIs: build a model, evaluate it, classify sequences, write outputs.

Attributes are imported on first use, so ``posecls.apis.outputs`` (numpy only)
does not pull in torch and mmengine.
"""
import importlib
from typing import Any

_EXPORTS = {
    'init_recognizer': 'inference', 'init_model': 'inference', 'inference_recognizer': 'inference',
    'as_recognizer': 'inference',
    'classes_from_config': 'inference', 'RAW_PIPELINE': 'inference',
    'test_model': 'test',
    'format_ranked_line': 'outputs', 'write_ranked_scores': 'outputs', 'write_lines': 'outputs',
    'top1_labels': 'outputs', 'ranked_lines': 'outputs',
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
    return getattr(importlib.import_module(f'{__name__}.{_EXPORTS[name]}'), name)
