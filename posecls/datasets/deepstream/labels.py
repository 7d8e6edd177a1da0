"""Label rules for building a labelled dataset straight from DeepStream JSON.

A labels CSV (or a list of row mappings in a spec) maps JSON file / object id
/ frame range to a class name::

    file,object_id,start_frame,end_frame,label
    walk_cam1.json,,,,walking          # every object of a file
    cam2.json,3,120,480,sitting_down   # object 3, frame_num 120..480 (inclusive)
    ,7,,,standing                      # object 7 of every file

Only ``label`` is required; a missing column, an empty cell or ``*`` matches
anything. A window takes the label of the rules that contain all its frames
(every ``frame_num`` of the window within ``[start_frame, end_frame]``);
windows no rule contains are left out (counted in the summary), and rules that
contain a window but disagree on its label are an error.
"""
import csv
import os.path as osp
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from posecls.datasets.label_io import classes_from_label_map, load_label_map

COLUMNS = ('file', 'object_id', 'start_frame', 'end_frame', 'label')


@dataclass(frozen=True)
class LabelRule:
    """One row of the labels table.

    Attributes:
        where: ``"labels.csv line 3"`` (for messages).
        file: Input file name (basename or path as given), None = any.
        object_id: Object id as text, None = any.
        start_frame: First frame_num (inclusive), None = unbounded.
        end_frame: Last frame_num (inclusive), None = unbounded.
        label: Class name.
    """

    where: str
    file: Optional[str]
    object_id: Optional[str]
    start_frame: Optional[int]
    end_frame: Optional[int]
    label: str

    def matches_track(self, file_names: Tuple[str, ...], object_id: Any) -> bool:
        """True if this rule applies to the track ``object_id`` of the file known by ``file_names``."""
        return (self.file is None or self.file in file_names) and (self.object_id is None
                                                                   or self.object_id == str(object_id))


def _cell(v: Any) -> Optional[str]:
    if v is None:
        return None
    v = str(v).strip()
    return None if v in ('', '*') else v


def _frame(v: Any, where: str, col: str) -> Optional[int]:
    text = _cell(v)
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        raise ValueError(f'{where}: {col}={text!r} is not an integer frame number') from None


def load_label_rules(labels: Union[str, Sequence[Mapping[str, Any]]]) -> List[LabelRule]:
    """Read label rules from a CSV file or a list of mappings.

    Args:
        labels: CSV path (header with ``label`` and any of ``file, object_id,
            start_frame, end_frame``), or a list of dicts with those keys.

    Returns:
        The rules in file order.

    Raises:
        FileNotFoundError: missing CSV.
        ValueError: unknown or missing columns, non-integer frames,
            ``start_frame > end_frame``, empty labels, or no rows at all.
    """
    if isinstance(labels, str):
        if not osp.isfile(labels):
            raise FileNotFoundError(f'dataset_convert.labels: file not found: {labels}')
        with open(labels, newline='', encoding='utf-8-sig') as f:
            reader = csv.DictReader(f)
            header = [h.strip() for h in (reader.fieldnames or [])]
            reader.fieldnames = header
            rows = [(f'{labels} line {reader.line_num}', r) for r in reader]
        source = labels
    else:
        rows = []
        for i, r in enumerate(labels):
            if not isinstance(r, Mapping):
                raise ValueError(f'dataset_convert.labels[{i}] is {r!r}; expected a mapping with "label" and any of '
                                 f'{", ".join(COLUMNS[:-1])}')
            rows.append((f'dataset_convert.labels[{i}]', r))
        header = sorted({k for _, r in rows for k in r})
        source = 'dataset_convert.labels'
    unknown = [h for h in header if h not in COLUMNS]
    if unknown:
        raise ValueError(f'{source}: unknown column(s) {unknown}; expected "label" and any of '
                         f'{", ".join(COLUMNS[:-1])}')
    if rows and 'label' not in header:
        raise ValueError(f'{source}: no "label" column; the header must name "label" and any of '
                         f'{", ".join(COLUMNS[:-1])}')
    rules = []
    for where, r in rows:
        if None in r:  # csv: more cells than header names
            raise ValueError(f'{where}: {len(header) + len(r[None])} cells but the header has {len(header)}')
        label = _cell(r.get('label'))
        if label is None:
            raise ValueError(f'{where}: empty label')
        start, end = _frame(r.get('start_frame'), where, 'start_frame'), _frame(r.get('end_frame'), where,
                                                                                'end_frame')
        if start is not None and end is not None and start > end:
            raise ValueError(f'{where}: start_frame {start} is after end_frame {end}')
        rules.append(LabelRule(where, _cell(r.get('file')), _cell(r.get('object_id')), start, end, label))
    if not rules:
        raise ValueError(f'{source}: no label rows')
    return rules


def resolve_classes(rules: Sequence[LabelRule], label_map: Union[None, str, Mapping[str, int]]) -> Dict[str, int]:
    """The ``{class: id}`` map: ``label_map`` validated against the rules, or classes in order of first use.

    Raises:
        ValueError: ids not 0..n-1, or a rule whose label is not in ``label_map``.
    """
    if label_map is None:
        classes: Dict[str, int] = {}
        for r in rules:
            classes.setdefault(r.label, len(classes))
        return classes
    lm = load_label_map(label_map if isinstance(label_map, str) else dict(label_map))
    classes_from_label_map(lm, 'dataset_convert.label_map')
    for r in rules:
        if r.label not in lm:
            raise ValueError(f'{r.where}: label {r.label!r} is not in dataset_convert.label_map '
                             f'(classes: {", ".join(classes_from_label_map(lm))})')
    return dict(lm)


def check_rule_files(rules: Sequence[LabelRule], names: Sequence[Tuple[str, ...]]) -> None:
    """Every rule's ``file`` must name one of the inputs (``names``: per input, the names it answers to)."""
    known = {n for ns in names for n in ns}
    for r in rules:
        if r.file is not None and r.file not in known:
            raise ValueError(f'{r.where}: file {r.file!r} is not one of the inputs '
                             f'({", ".join(sorted(ns[0] for ns in names))})')


def label_windows(rules: Sequence[LabelRule], file_names: Tuple[str, ...], object_id: Any,
                  frame_ranges: np.ndarray) -> Tuple[List[Optional[str]], List[LabelRule]]:
    """Labels of one track's windows.

    Args:
        rules: All label rules.
        file_names: Names the track's input file answers to (basename, path).
        object_id: The track's object id.
        frame_ranges: (S, 2) first and last frame_num of each window.

    Returns:
        (labels, used): the label of each window (None = no rule contains it),
        and the rules that labelled at least one window.

    Raises:
        ValueError: two rules containing the same window disagree.
    """
    labels: List[Optional[str]] = [None] * len(frame_ranges)
    by: List[Optional[LabelRule]] = [None] * len(frame_ranges)
    used = []
    lo, hi = frame_ranges[:, 0], frame_ranges[:, 1]
    for r in rules:
        if not r.matches_track(file_names, object_id):
            continue
        inside = np.ones(len(frame_ranges), bool)
        if r.start_frame is not None:
            inside &= lo >= r.start_frame
        if r.end_frame is not None:
            inside &= hi <= r.end_frame
        hits = np.flatnonzero(inside).tolist()
        if hits:
            used.append(r)
        for k in hits:
            if labels[k] is None:
                labels[k], by[k] = r.label, r
            elif labels[k] != r.label:
                raise ValueError(f'{file_names[0]}, object_id {object_id}, window of frames {lo[k]}-{hi[k]}: '
                                 f'{by[k].where} says {labels[k]!r} but {r.where} says {r.label!r}; make the rules '
                                 'agree or narrow their frame ranges')
    return labels, used


def split_by_ratio(groups: Dict[Tuple[Any, ...], List[int]], group_labels: Dict[Tuple[Any, ...], str],
                   val_ratio: float, seed: int) -> Tuple[set, List[str]]:
    """Pick whole groups (file, object, label) for the val split, per class.

    For each class the groups are shuffled with ``seed`` and moved to val until
    val holds ``round(val_ratio * class windows)`` windows, never taking the
    class's last training group (windows of one track never straddle splits).

    Args:
        groups: group key -> indices of its windows.
        group_labels: group key -> class name.
        val_ratio: Target fraction of each class's windows in val.
        seed: Shuffle seed.

    Returns:
        (val_indices, warnings).
    """
    rng = np.random.default_rng(seed)
    val: set = set()
    warnings = []
    classes: Dict[str, List[Tuple[Any, ...]]] = {}
    for key in groups:
        classes.setdefault(group_labels[key], []).append(key)
    for label, keys in classes.items():
        total = sum(len(groups[k]) for k in keys)
        target = int(round(val_ratio * total))
        order = rng.permutation(len(keys)).tolist()
        taken = 0
        for n, i in enumerate(order):
            if taken >= target or n == len(order) - 1:
                break
            val.update(groups[keys[i]])
            taken += len(groups[keys[i]])
        if target > 0 and taken == 0:
            warnings.append(f'class {label!r}: its {total} window(s) come from a single track, so none can go to '
                            'val without leaving train without it; all stay in train')
    return val, warnings
