"""Utilities: module registration, atomic file writes, safe checkpoint loading, lazy package attributes.

Attributes are imported on first use (:mod:`posecls.utils.lazy`): ``posecls.utils.atomic_io`` and the
other numpy-only helpers do not pull in mmengine or torch.
"""
from .lazy import lazy_exports

_EXPORTS = {'register_all_modules': 'setup_env'}

__getattr__, __dir__, import_all = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
