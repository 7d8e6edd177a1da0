"""register_all_modules: import every module that registers something.

Packages whose ``__init__`` imports lazily (:mod:`posecls.utils.lazy`) expose ``import_all``, which imports
every submodule they list; a module added to such a list is registered here without a change.
"""
import datetime
import importlib
import warnings

from mmengine import DefaultScope

#: what register_all_modules imports: packages (all the submodules a lazy package lists) and modules
REGISTERING_PACKAGES = ('posecls.datasets', 'posecls.engine', 'posecls.evaluation', 'posecls.graphs', 'posecls.models',
                        'posecls.utils.atomic_backend')


def register_all_modules(init_default_scope: bool = True) -> None:
    """Import posecls's graphs, models, datasets, transforms, metrics, hooks and schedulers.

    Args:
        init_default_scope: Also make ``posecls`` the current default scope, so
            ``type='STGCN'`` in a config resolves to posecls's registries first.
    """
    for name in REGISTERING_PACKAGES:
        package = importlib.import_module(name)
        import_all = getattr(package, 'import_all', None)  # a package with lazy attributes (posecls.utils.lazy)
        if import_all is not None:
            import_all()

    if init_default_scope:
        never_created = DefaultScope.get_current_instance() is None or not DefaultScope.check_instance_created(
            'posecls')
        if never_created:
            DefaultScope.get_instance('posecls', scope_name='posecls')
            return
        current = DefaultScope.get_current_instance()
        if current.scope_name != 'posecls':
            warnings.warn(f'The current default scope "{current.scope_name}" is not "posecls"; '
                          'register_all_modules switches to a new "posecls" scope.')
            stamp = datetime.datetime.now().strftime('%Y%m%d-%H%M%S-%f')
            DefaultScope.get_instance(f'posecls-{stamp}', scope_name='posecls')
