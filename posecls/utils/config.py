"""``--cfg-options``: merge command-line overrides into a config, refusing a misspelt top-level key."""
import difflib
import inspect
from typing import Any, Dict, Optional

#: top-level keys a config may gain from the command line although it does not set them (Runner arguments
#: and keys posecls / mmengine read)
_RUNNER_KEYS = None
EXTRA_TOP_LEVEL_KEYS = frozenset({'custom_imports', 'runner_type', 'model_wrapper_cfg', 'find_unused_parameters',
                                  'sync_bn', 'init_from', 'console_log_level', 'compile', 'activation_checkpointing',
                                  'efficient_conv_bn_eval', 'strategy', 'data_root', 'gpu_ids'})


def _allowed_new_keys() -> frozenset:
    global _RUNNER_KEYS
    if _RUNNER_KEYS is None:
        from mmengine.runner import Runner
        _RUNNER_KEYS = frozenset(p for p in inspect.signature(Runner.__init__).parameters if p != 'self')
    return _RUNNER_KEYS | EXTRA_TOP_LEVEL_KEYS


def check_option_keys(cfg: Any, options: Optional[Dict[str, Any]], source: str = '--cfg-options') -> None:
    """Refuse an override whose top-level key the config does not have (a typo would be silently ignored).

    Args:
        cfg: The mmengine Config.
        options: ``{'a.b.c': value}`` overrides.
        source: Where they come from, for the message.

    Raises:
        KeyError: naming the key and the config's closest keys.
    """
    known = set(cfg.keys())
    for key in options or {}:
        top = key.split('.')[0]
        if top in known or top in _allowed_new_keys():
            continue
        close = difflib.get_close_matches(top, sorted(known), n=3, cutoff=0.6)
        hint = f'; did you mean {" or ".join(repr(c) for c in close)}?' if close else ''
        raise KeyError(f'{source}: {key!r}: the config has no top-level key {top!r}{hint} (its keys: '
                       f'{", ".join(sorted(k for k in known if not k.startswith("_")))})')


def merge_cfg_options(cfg: Any, options: Optional[Dict[str, Any]], source: str = '--cfg-options') -> Any:
    """:func:`check_option_keys`, then mmengine's ``merge_from_dict``; returns ``cfg``."""
    if options:
        check_option_keys(cfg, options, source)
        cfg.merge_from_dict(options)
    return cfg


__all__ = ['check_option_keys', 'merge_cfg_options']
