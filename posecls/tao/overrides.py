"""Command-line overrides ``section.key=value`` (TAO / Hydra grammar).

* ``a.b.c=value`` sets a key; every segment must exist in the spec schema.
* The value is YAML: ``[10,60]`` is a list, ``{walking: 0}`` a mapping, ``true`` /
  ``false`` booleans, ``null`` (or ``~``) None, numbers are numbers. String keys
  (paths, names, the encryption key) keep the text as typed, unquoted if quoted,
  so ``encryption_key=0123`` stays ``'0123'``.
* ``key=`` (nothing after ``=``) is the empty string, read as null by optional keys.
* Hydra's ``+key=value`` / ``++key=value`` are accepted and mean the same (every key exists in the schema).
"""
from typing import Any, Dict, List, Sequence, Tuple

import yaml

from posecls.tao.errors import SpecError
from posecls.tao.fields import Field, Section
from posecls.tao.schema import SPEC

_NULLS = ('null', 'Null', 'NULL', '~')


def _allowed(section: Section) -> str:
    return ', '.join(section.fields)


def resolve_key(key: str, schema: Section = SPEC, context: str = '') -> Tuple[List[str], Any]:
    """Split a dotted key and find its schema entry (a Field or a Section).

    Raises:
        SpecError: a segment that does not exist (the message lists the allowed keys there).
    """
    parts = key.split('.')
    if not key or any(not p for p in parts):
        raise SpecError(f'malformed key {key!r}{context}: use dotted names like train.optim.lr')
    node: Any = schema
    for i, part in enumerate(parts):
        where = '.'.join(parts[:i])
        if not isinstance(node, Section):
            raise SpecError(f'{where} is a value, not a section, so {key!r}{context} does not exist; set it whole, '
                            f'e.g. {where}=...')
        if part not in node.fields:
            scope = f'in {where}' if where else 'at the top level'
            raise SpecError(f'unknown key {key!r}{context}; allowed keys {scope}: {_allowed(node)}')
        node = node.fields[part]
    return parts, node


def parse_value(raw: str, entry: Any, context: str) -> Any:
    """Turn the text after ``=`` into a value for the schema entry ``entry``."""
    if raw == '':
        return ''
    if isinstance(entry, Field) and entry.kind == 'str':
        if raw in _NULLS:
            return None
        if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in '"\'':
            return _yaml(raw, context)
        return raw
    return _yaml(raw, context)


def _yaml(raw: str, context: str) -> Any:
    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError as e:
        raise SpecError(f'cannot parse the value of {context}: {e}'.replace('\n', ' ')) from None


def parse_override(arg: str) -> Tuple[str, List[str], Any]:
    """Parse one ``key=value`` argument.

    Returns:
        (key, path segments, value).

    Raises:
        SpecError: no ``=``, an unknown key or an unparsable value.
    """
    if '=' not in arg:
        raise SpecError(f'override {arg!r} is not of the form section.key=value (e.g. train.num_epochs=5)')
    key, raw = arg.split('=', 1)
    key = key.strip().lstrip('+')
    context = f' (override {arg!r})'
    parts, entry = resolve_key(key, context=context)
    return key, parts, parse_value(raw, entry, f'override {arg!r}')


def apply_overrides(spec: Dict[str, Any], overrides: Sequence[str]) -> Dict[str, Any]:
    """Apply ``key=value`` overrides to a raw (not yet validated) spec dict, in order, in place.

    Returns:
        ``spec``.
    """
    for arg in overrides:
        _, parts, value = parse_override(arg)
        node = spec
        for i, part in enumerate(parts[:-1]):
            child = node.get(part)
            if not isinstance(child, dict):
                child = {}
                node[part] = child
            node = child
        node[parts[-1]] = value
    return spec
