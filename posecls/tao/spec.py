"""Load an experiment spec: YAML + overrides + defaults, interpolation, type and range checks.

``load_spec(path, overrides)`` returns a plain nested dict holding every key of
:data:`posecls.tao.schema.SPEC` (defaults filled in), or raises
:class:`~posecls.tao.errors.SpecError` before anything else happens. Task-level
checks (required keys, files, consistency) live in :mod:`posecls.tao.checks`.
"""
import os.path as osp
import re
from typing import Any, Dict, List, Sequence, Tuple

import yaml

from posecls.tao.errors import SpecError
from posecls.tao.fields import Section
from posecls.tao.overrides import apply_overrides
from posecls.tao.schema import SPEC

_INTERP = re.compile(r'\$\{([^${}]+)\}')


def read_spec_file(path: str) -> Dict[str, Any]:
    """Read a YAML spec file into a dict (an empty file is an empty spec); ``specs/...`` names a shipped spec."""
    from posecls.utils.package_data import resolve_shipped_path
    path = resolve_shipped_path(path)
    if not osp.isfile(path):
        raise SpecError(f'experiment spec not found: {path}')
    with open(path) as f:
        try:
            raw = yaml.safe_load(f)
        except yaml.YAMLError as e:
            raise SpecError(f'{path} is not valid YAML: {e}') from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise SpecError(f'{path}: the spec must be a YAML mapping of sections, got {type(raw).__name__}')
    return raw


def _merge(raw: Dict[str, Any], section: Section, prefix: str) -> Dict[str, Any]:
    """Defaults of ``section`` with ``raw`` laid over them; unknown keys are errors."""
    out = section.defaults()
    for key, value in raw.items():
        dotted = f'{prefix}{key}'
        if key not in section.fields:
            scope = f'in {prefix[:-1]}' if prefix else 'at the top level'
            raise SpecError(f"unknown key '{dotted}'; allowed keys {scope}: {', '.join(section.fields)}")
        entry = section.fields[key]
        if isinstance(entry, Section):
            if value is None:
                continue  # an empty section in YAML ("train:") keeps the defaults
            if not isinstance(value, dict):
                raise SpecError(f"'{dotted}' is a section ({', '.join(entry.fields)}), got {value!r}")
            out[key] = _merge(value, entry, dotted + '.')
        else:
            out[key] = value
    return out


def _lookup(spec: Dict[str, Any], ref: str) -> Any:
    node: Any = spec
    for part in ref.strip().split('.'):
        if not isinstance(node, dict) or part not in node:
            raise KeyError(ref)
        node = node[part]
    return node


def _resolve(value: Any, spec: Dict[str, Any], key: str, stack: Tuple[str, ...]) -> Any:
    if isinstance(value, dict):
        return {k: _resolve(v, spec, f'{key}.{k}', stack) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, spec, f'{key}[{i}]', stack) for i, v in enumerate(value)]
    if not isinstance(value, str) or '${' not in value:
        return value

    def target(ref: str) -> Any:
        ref = ref.strip()
        if ref in stack:
            raise SpecError(f'{key}: circular interpolation ${{{ref}}} ({" -> ".join(stack + (ref, ))})')
        try:
            found = _lookup(spec, ref)
        except KeyError:
            raise SpecError(f'{key}: interpolation ${{{ref}}} refers to a key that does not exist') from None
        return _resolve(found, spec, ref, stack + (ref, ))

    whole = _INTERP.fullmatch(value)
    if whole:
        return target(whole.group(1))

    def text(match: 're.Match') -> str:
        found = target(match.group(1))
        return '' if found is None else str(found)

    return _INTERP.sub(text, value)


def resolve_interpolations(spec: Dict[str, Any]) -> Dict[str, Any]:
    """Replace OmegaConf-style ``${section.key}`` references (whole or inside strings)."""
    return {k: _resolve(v, spec, k, (k, )) for k, v in spec.items()}


def _check_types(spec: Dict[str, Any], section: Section, prefix: str) -> Dict[str, Any]:
    out = {}
    for name, entry in section.fields.items():
        if isinstance(entry, Section):
            out[name] = _check_types(spec[name], entry, f'{prefix}{name}.')
        else:
            out[name] = entry.check(spec[name], f'{prefix}{name}')
    return out


def build_spec(raw: Dict[str, Any], overrides: Sequence[str] = ()) -> Dict[str, Any]:
    """Validate a raw spec dict (plus overrides) against the schema.

    Returns:
        The complete spec: every key present, defaults filled in, values normalised.

    Raises:
        SpecError: unknown key, wrong type, value outside the allowed range.
    """
    raw = apply_overrides(_deep_copy(raw), overrides)
    merged = _merge(raw, SPEC, '')
    resolved = resolve_interpolations(merged)
    import_custom_modules(SPEC.fields['custom_imports'].check(resolved['custom_imports'], 'custom_imports'))
    return _check_types(resolved, SPEC, '')


def import_custom_modules(modules: Sequence[str]) -> None:
    """Import the spec's ``custom_imports`` (the working directory importable, as for configs).

    Raises:
        SpecError: a module that cannot be imported, with the import error.
    """
    import importlib
    import os
    import sys
    if modules and os.getcwd() not in sys.path:
        sys.path.append(os.getcwd())
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as e:  # noqa: BLE001 - any failure of the user's module is reported with its cause
            raise SpecError(f'custom_imports: cannot import {name!r} ({type(e).__name__}: {e}); run from the folder '
                            'that holds it or put that folder on PYTHONPATH') from None


def load_spec(path: str, overrides: Sequence[str] = ()) -> Dict[str, Any]:
    """Read ``path``, apply ``overrides`` and validate (see :func:`build_spec`)."""
    return build_spec(read_spec_file(path), overrides)


def _deep_copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value


def resolve_gpus(num_gpus: int, gpu_ids: List[int]) -> Tuple[int, List[int]]:
    """TAO's rule for disagreeing ``num_gpus`` / ``gpu_ids``: the larger GPU set wins.

    ``num_gpus = max(num_gpus, len(gpu_ids))``; when ``gpu_ids`` is the shorter one
    it becomes ``[0, ..., num_gpus - 1]`` (TAO's ``core/entrypoint`` launcher). The
    rule lives in :func:`posecls.engine.launcher.select_devices`, which launches too.
    """
    from posecls.engine.launcher import select_devices
    sel = select_devices(num_gpus, list(gpu_ids), visible_devices='')
    return sel.nproc_per_node, list(sel.gpu_ids)


def task_results_dir(spec: Dict[str, Any], task: str) -> str:
    """``<task>.results_dir`` if set, else ``<results_dir>/<task>`` (TAO >= 5)."""
    own = spec.get(task, {}).get('results_dir') if isinstance(spec.get(task), dict) else None
    if own:
        return own
    if not spec.get('results_dir'):
        raise SpecError(f'results_dir is not set: set results_dir (outputs go to <results_dir>/{task}) or '
                        f'{task}.results_dir')
    return osp.join(spec['results_dir'], task)


def spec_to_yaml(spec: Dict[str, Any]) -> str:
    """YAML text of a resolved spec with the encryption key left out."""
    clean = _deep_copy(spec)
    note = ''
    if clean.get('encryption_key'):
        clean['encryption_key'] = None
        note = '# encryption_key was set; it is never written to disk.\n'
    return note + yaml.safe_dump(clean, sort_keys=False, default_flow_style=None)
