"""``posecls <task> --help``: the keys a task reads, with defaults and allowed values."""
from typing import Any, List

import yaml

from posecls.tao.fields import Field, Section
from posecls.tao.schema import SPEC, TASK_SECTIONS, TOP_LEVEL_KEYS


def format_default(value: Any) -> str:
    """A default as it would be written in YAML (``null``, ``true``, ``[10, 60]``)."""
    text = yaml.safe_dump(value, default_flow_style=True).strip()
    return text[:-4].strip() if text.endswith('...') else text


def _line(key: str, f: Field) -> str:
    mark = ' [posecls]' if not f.tao else ''
    return f'  {key} = {format_default(f.default)}\n      {f.doc}; {f.describe(resolve_choices=False)}{mark}'


def task_keys_help(task: str) -> str:
    """The keys read by ``task``: top-level keys then its sections, one entry per key."""
    lines: List[str] = ['spec keys (set in the YAML or override as key=value; shown with their defaults):']
    for key in TOP_LEVEL_KEYS:
        lines.append(_line(key, SPEC.fields[key]))
    for name in TASK_SECTIONS[task]:
        section = SPEC.fields[name]
        assert isinstance(section, Section)
        ext = ' [posecls]' if not section.tao else ''
        lines.append(f'\n {name}: {section.doc}{ext}')
        for key, f in section.iter_fields(name + '.'):
            lines.append(_line(key, f))
    lines.append('\n[posecls] marks posecls extensions; everything else is TAO\'s key with TAO\'s default.')
    return '\n'.join(lines)
