"""register_all_modules: import every module that registers something."""
import datetime
import warnings

from mmengine import DefaultScope


def register_all_modules(init_default_scope: bool = True) -> None:
    """Import posecls's graphs, models, datasets, transforms, metrics, hooks and schedulers.

    Args:
        init_default_scope: Also make ``posecls`` the current default scope, so
            ``type='STGCN'`` in a config resolves to posecls's registries first.
    """
    import posecls.datasets  # noqa: F401
    import posecls.engine  # noqa: F401
    import posecls.evaluation  # noqa: F401
    import posecls.graphs  # noqa: F401
    import posecls.models  # noqa: F401
    import posecls.utils.atomic_io  # noqa: F401  (registers the atomic_local file backend)

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
