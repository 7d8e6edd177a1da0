"""The TAO tasks; each module has ``run(spec, argv) -> dict`` for a spec checked by ``check_task``."""
import importlib
from typing import Any, Callable, Dict, List

from posecls.tao.schema import TASKS


def get_task(name: str) -> Callable[[Dict[str, Any], List[str]], Dict[str, Any]]:
    """The ``run`` function of a task (imported lazily: ``--help`` stays fast)."""
    if name not in TASKS:
        raise KeyError(f"unknown task {name!r}; allowed: {', '.join(TASKS)}")
    return importlib.import_module(f'posecls.tao.tasks.{name}').run


__all__ = ['get_task', 'TASKS']
