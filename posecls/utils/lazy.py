"""Package attributes imported on first use (PEP 562), so importing a package costs nothing it does not need.

A package ``__init__`` lists its public names and the submodule of each, and gets a module-level
``__getattr__`` / ``__dir__`` plus an ``import_all`` that imports every listed submodule::

    from posecls.utils.lazy import lazy_exports

    _EXPORTS = {'PoseDataset': 'pose_dataset', 'load_label_file': 'label_io'}
    __getattr__, __dir__, import_all = lazy_exports(__name__, _EXPORTS, star=('transforms', ))
    __all__ = sorted(_EXPORTS)

``from posecls.datasets import PoseDataset`` then imports ``posecls.datasets.pose_dataset`` (and
torch) only at that moment, while ``posecls.datasets.deepstream`` (numpy only) never does. Names of
the ``star`` submodules (what ``from .transforms import *`` used to re-export) are found there on
first use, so a name added to such a submodule needs no change here. A submodule is also reachable
as an attribute (``posecls.datasets.pose_dataset``) without an explicit import, as it was when the
``__init__`` imported it.

A name that is also a submodule's (``posecls.deploy.export_onnx``, the function of the module
``posecls.deploy.export_onnx``) stays the function, as the eager ``from .export_onnx import
export_onnx`` made it: the import system's binding of the submodule onto the package is ignored
for such names.

``posecls.utils.register_all_modules()`` calls each package's ``import_all``: every module a
package lists is imported, so its classes are registered; a module added to the list is
registered without touching ``register_all_modules``.
"""
import importlib
import importlib.util
import sys
import types
from typing import Any, Callable, List, Mapping, Sequence, Tuple


class _LazyPackage(types.ModuleType):
    """A package module that keeps an exported name when a submodule of the same name is imported."""

    _lazy_names: frozenset = frozenset()

    def __setattr__(self, name: str, value: Any) -> None:
        if (name in self._lazy_names and isinstance(value, types.ModuleType)
                and value.__name__ == f'{self.__name__}.{name}'):
            return  # the import system binding submodule `name`; the package's `name` is the exported object
        super().__setattr__(name, value)


def lazy_exports(package: str, exports: Mapping[str, str], star: Sequence[str] = ()
                 ) -> Tuple[Callable[[str], Any], Callable[[], List[str]], Callable[[], None]]:
    """The ``__getattr__``, ``__dir__`` and ``import_all`` of a package with lazily imported attributes.

    Args:
        package: The package's ``__name__``.
        exports: ``{public name: submodule}``, the submodule relative to ``package`` (``'pose_dataset'``,
            ``'deepstream.options'``).
        star: Submodules whose public names (their ``__all__``) are attributes of the package too.

    Returns:
        ``(__getattr__, __dir__, import_all)``: assign them at module level of the package.
    """
    exports = dict(exports)
    star = tuple(star)
    module = sys.modules[package]
    if not isinstance(module, _LazyPackage):
        module.__class__ = _LazyPackage
    module._lazy_names = frozenset(exports)

    def _sub(sub: str) -> Any:
        return importlib.import_module(f'{package}.{sub}')

    def _found(name: str, value: Any) -> Any:
        setattr(module, name, value)  # later look-ups are plain attribute reads
        return value

    def __getattr__(name: str) -> Any:
        if name in exports:
            return _found(name, getattr(_sub(exports[name]), name))
        if name.startswith('__'):  # import machinery and introspection probes (__path__ is always set)
            raise AttributeError(f'module {package!r} has no attribute {name!r}')
        for sub in star:
            submodule = _sub(sub)
            if name in getattr(submodule, '__all__', ()):
                return _found(name, getattr(submodule, name))
        if importlib.util.find_spec(f'{package}.{name}') is not None:  # a submodule, as eager imports made it
            return _sub(name)
        raise AttributeError(f'module {package!r} has no attribute {name!r}')

    def __dir__() -> List[str]:
        names = set(vars(module)) | set(exports)
        for sub in star:
            names.update(getattr(_sub(sub), '__all__', ()))
        return sorted(names)

    def import_all() -> None:
        """Import every submodule the package lists (registering what they define)."""
        for sub in dict.fromkeys(list(exports.values()) + list(star)):
            _sub(sub)

    return __getattr__, __dir__, import_all


__all__ = ['lazy_exports']
