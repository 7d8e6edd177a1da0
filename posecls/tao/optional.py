"""Lazy access to modules that other parts of posecls provide (deploy, dataset conversion, launcher).

A task that needs one of them fails with :class:`~posecls.tao.errors.TaskNotAvailable`
naming what is missing -- never silently.
"""
import importlib
from typing import Any, Callable

from posecls.tao.errors import TaskNotAvailable


def require(module: str, attr: str, feature: str) -> Callable[..., Any]:
    """Import ``module.attr`` or raise TaskNotAvailable.

    Args:
        module: Module path, e.g. ``'posecls.deploy'``.
        attr: Function or class needed from it.
        feature: What the user asked for, for the message (e.g. ``'posecls export'``).
    """
    try:
        mod = importlib.import_module(module)
    except ImportError as e:
        missing = getattr(e, 'name', None)
        why = (f'{module} is not part of this installation' if missing and module.startswith(missing)
               else f'{module} could not be imported ({e}); install its dependencies')
        raise TaskNotAvailable(f'{feature} is not available in this installation: {why}.') from e
    fn = getattr(mod, attr, None)
    if fn is None:
        raise TaskNotAvailable(f'{feature} is not available in this installation: {module} has no {attr}() '
                               '(an older posecls?).')
    return fn
