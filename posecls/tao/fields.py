"""Typed spec fields: defaults, allowed values and the check that normalises a value.

A spec is a tree of :class:`Section` objects whose leaves are :class:`Field`
objects. ``Field.check(value, key)`` returns the normalised value or raises
:class:`~posecls.tao.errors.SpecError` naming the key, the value and what is allowed.
"""
import math
from typing import Any, Callable, Dict, List, Optional, Sequence, Union

from posecls.tao.errors import SpecError

Choices = Union[None, Sequence[Any], Callable[[], Sequence[Any]]]

KINDS = ('int', 'float', 'bool', 'str', 'int_list', 'str_list', 'label_map', 'paths', 'label_map_or_path', 'rows',
         'choice', 'mapping')


def _fmt(value: Any) -> str:
    return repr(value) if isinstance(value, str) else str(value)


def _yaml_word(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else _fmt(value)


class Field:
    """One spec key.

    Args:
        kind: ``'int'``, ``'float'``, ``'bool'``, ``'str'``, ``'int_list'``,
            ``'str_list'``, ``'label_map'`` (``{name: id}``), ``'label_map_or_path'``
            (that or a JSON file path), ``'paths'`` (a path or a list of paths),
            ``'rows'`` (a CSV path or a list of mappings), ``'choice'`` (any
            value listed in ``choices``) or ``'mapping'`` (``{name: value}``, checked by the consumer).
        default: Default value (TAO's unless ``tao`` is False).
        doc: One-line description.
        maps_to: Where the value goes in the mmengine config (for docs and help).
        choices: Allowed values, or a callable returning them (registries).
        choices_doc: How to describe the choices in help when they are dynamic.
        known: Values of dynamic choices that are always allowed (posecls's built-ins): the spec check accepts
            them without resolving ``choices`` (which imports the registries, hence mmengine or torch).
        low / high: Numeric bounds (of the value, or of each list item).
        low_open / high_open: Exclude the bound itself.
        nullable: None is allowed (an empty string is read as None, like TAO's ``""``).
        not_zero: 0 is not allowed (e.g. ``window_size``: -1 or >= 1).
        tao: False for posecls extensions (documented as such).
    """

    def __init__(self, kind: str, default: Any, doc: str, *, maps_to: str = '', choices: Choices = None,
                 choices_doc: str = '', known: Sequence[Any] = (), low: Optional[float] = None,
                 high: Optional[float] = None, low_open: bool = False, high_open: bool = False, nullable: bool = False,
                 not_zero: bool = False, tao: bool = True) -> None:
        if kind not in KINDS:
            raise ValueError(f'unknown field kind {kind!r}')
        self.kind = kind
        self.default = default
        self.doc = doc
        self.maps_to = maps_to
        self._choices = choices
        self.choices_doc = choices_doc
        self.known = tuple(known)
        self.low, self.high, self.low_open, self.high_open = low, high, low_open, high_open
        self.nullable = nullable
        self.not_zero = not_zero
        self.tao = tao

    # ------------------------------------------------------------------ description
    @property
    def choices(self) -> Optional[List[Any]]:
        """Allowed values (resolved now for dynamic choices), or None."""
        if self._choices is None:
            return None
        return list(self._choices() if callable(self._choices) else self._choices)

    def _range_text(self) -> str:
        parts = []
        if self.low is not None:
            parts.append(f"{'>' if self.low_open else '>='} {_fmt(self.low)}")
        if self.high is not None:
            parts.append(f"{'<' if self.high_open else '<='} {_fmt(self.high)}")
        if self.not_zero:
            parts.append('!= 0')
        return ' and '.join(parts)

    def describe(self, resolve_choices: bool = True) -> str:
        """Type and allowed values in words, e.g. ``"int >= 1"`` or ``"one of: 'a', 'b'"``."""
        base = {'int': 'an int', 'float': 'a number', 'bool': 'true or false', 'str': 'a string',
                'int_list': 'a list of ints', 'str_list': 'a list of strings',
                'label_map': 'a mapping {class name: id} with ids 0..K-1',
                'label_map_or_path': 'a mapping {class name: id} with ids 0..K-1, or a JSON file path',
                'paths': 'a path or a list of paths', 'rows': 'a CSV path or a list of mappings',
                'choice': 'a value', 'mapping': 'a mapping {option: value}'}[self.kind]
        if self._choices is not None:
            if callable(self._choices) and not resolve_choices and self.choices_doc:
                base = f'one of: {self.choices_doc}'
            else:
                base = 'one of: ' + ', '.join(_yaml_word(c) for c in self.choices)
        rng = self._range_text()
        if rng:
            base += (' with items ' if self.kind.endswith('_list') else ' ') + rng
        if self.nullable:
            base += ' (or null)'
        return base

    # ------------------------------------------------------------------ checking
    def _fail(self, key: str, value: Any, extra: str = '') -> SpecError:
        return SpecError(f'{key}: got {_fmt(value)} ({type(value).__name__}); expected {self.describe()}{extra}')

    def _number(self, key: str, value: Any, integer: bool) -> Union[int, float]:
        if isinstance(value, bool):
            raise self._fail(key, value)
        if isinstance(value, str):  # OmegaConf-style coercion of numeric strings ("1e-4" is a str in YAML 1.1)
            try:
                value = int(value) if integer else float(value)
            except ValueError:
                raise self._fail(key, value) from None
        if integer:
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            if not isinstance(value, int):
                raise self._fail(key, value)
        else:
            if not isinstance(value, (int, float)) or not math.isfinite(value):
                raise self._fail(key, value)
            value = float(value)
        return value

    def _in_range(self, key: str, value: Union[int, float], shown: Any) -> None:
        bad = ((self.low is not None and (value < self.low or (self.low_open and value == self.low)))
               or (self.high is not None and (value > self.high or (self.high_open and value == self.high)))
               or (self.not_zero and value == 0))
        if bad:
            raise self._fail(key, shown)

    def check(self, value: Any, key: str) -> Any:
        """Validate and normalise ``value`` for the dotted ``key``.

        Raises:
            SpecError: naming the key, the value and the allowed values.
        """
        if value is None or (value == '' and self.nullable):
            if self.nullable:
                return None
            raise self._fail(key, value)
        kind = self.kind
        if kind in ('int', 'float'):
            value = self._number(key, value, kind == 'int')
            self._in_range(key, value, value)
        elif kind == 'bool':
            if not isinstance(value, bool):
                raise self._fail(key, value)
        elif kind == 'str':
            if isinstance(value, (int, float)) and not isinstance(value, bool) and self._choices is None:
                value = str(value)  # e.g. encryption_key: 1234
            if not isinstance(value, str):
                raise self._fail(key, value)
        elif kind in ('int_list', 'str_list'):
            if isinstance(value, tuple):
                value = list(value)
            if not isinstance(value, list):
                raise self._fail(key, value)
            items = []
            for i, item in enumerate(value):
                if kind == 'int_list':
                    try:
                        item = self._number(f'{key}[{i}]', item, True)
                    except SpecError:
                        raise self._fail(key, value, f' ({key}[{i}] = {_fmt(item)} is not an int)') from None
                    self._in_range(key, item, value)
                elif not isinstance(item, str):
                    raise self._fail(key, value, f' ({key}[{i}] = {_fmt(item)} is not a string)')
                items.append(item)
            value = items
        elif kind == 'label_map' or (kind == 'label_map_or_path' and not isinstance(value, str)):
            value = _check_label_map(value, key, self)
        elif kind == 'label_map_or_path':
            pass  # a JSON path: read and checked by the consumer
        elif kind == 'paths':
            if isinstance(value, tuple):
                value = list(value)
            if not (isinstance(value, str) or (isinstance(value, list) and value
                                               and all(isinstance(v, str) for v in value))):
                raise self._fail(key, value)
        elif kind == 'mapping':
            if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
                raise self._fail(key, value)
            value = dict(value)
        elif kind == 'rows':
            if isinstance(value, tuple):
                value = list(value)
            if not (isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, dict) for v in value))):
                raise self._fail(key, value)
        if self._choices is not None and value not in self.known:
            allowed = self.choices
            if value not in allowed:
                raise SpecError(f'{key}: {_fmt(value)} is not allowed; allowed values: '
                                + ', '.join(_fmt(c) for c in allowed))
        return value


def _check_label_map(value: Any, key: str, field: Field) -> Dict[str, int]:
    if not isinstance(value, dict) or not value:
        raise field._fail(key, value)
    out = {}
    for name, idx in value.items():
        if isinstance(idx, bool) or not isinstance(idx, int):
            raise SpecError(f'{key}.{name}: class id must be an int, got {_fmt(idx)}')
        out[str(name)] = idx
    ids = sorted(out.values())
    if ids != list(range(len(ids))):
        raise SpecError(f'{key}: class ids must be exactly 0..{len(ids) - 1} (no gaps or repeats), got {ids}')
    return out


class Section:
    """A group of keys (``model``, ``train.optim`` ...).

    Args:
        doc: One-line description.
        fields: Child fields and sections by name.
        tao: False for a posecls extension section.
    """

    def __init__(self, doc: str, fields: Dict[str, Union[Field, 'Section']], tao: bool = True) -> None:
        self.doc = doc
        self.fields = fields
        self.tao = tao

    def defaults(self) -> Dict[str, Any]:
        """A fresh nested dict of the defaults."""
        return {k: (f.defaults() if isinstance(f, Section) else _copy(f.default)) for k, f in self.fields.items()}

    def iter_fields(self, prefix: str = ''):
        """Yield ``(dotted key, Field)`` for every leaf, depth first in declaration order."""
        for name, f in self.fields.items():
            key = f'{prefix}{name}'
            if isinstance(f, Section):
                yield from f.iter_fields(key + '.')
            else:
                yield key, f


def _copy(value: Any) -> Any:
    if isinstance(value, list):
        return [_copy(v) for v in value]
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    return value
