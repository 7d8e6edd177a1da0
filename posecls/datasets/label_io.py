"""Read and write TAO label files ``[[sample names], [labels]]`` safely; read label maps ``{class: id}``.

Label files are pickles. They are read with a restricted unpickler that
resolves no global at all, so only built-in containers and scalars (list,
tuple, dict, str, int, float, bool, None) can appear; a pickle that tries to
import anything (numpy scalars included) is refused before any of it runs.
"""
import io
import json
import os.path as osp
import pickle
from typing import Dict, List, Optional, Sequence, Tuple, Union

from posecls.utils.atomic_io import atomic_write_bytes


class LabelFileError(ValueError):
    """A label file that is unsafe or malformed."""


class _NoGlobalsUnpickler(pickle.Unpickler):

    def __init__(self, file, path: str) -> None:
        super().__init__(file)
        self._path = path

    def find_class(self, module: str, name: str):
        raise LabelFileError(
            f'label file {self._path}: refusing to unpickle a reference to {module}.{name}. posecls reads '
            'label files with a restricted unpickler that accepts only lists/tuples of str and int '
            '(a pickle that imports anything could run code). Re-save it with plain Python values, e.g. '
            'pickle.dump([list(map(str, names)), list(map(int, labels))], f) or '
            'posecls.datasets.save_label_file().')


def safe_unpickle(data: bytes, path: str = '<bytes>'):
    """Unpickle ``data`` allowing only built-in containers and scalars."""
    try:
        return _NoGlobalsUnpickler(io.BytesIO(data), path).load()
    except LabelFileError:
        raise
    except Exception as e:  # noqa: BLE001 - any parse failure is a bad file
        raise LabelFileError(f'label file {path}: not a readable pickle ({type(e).__name__}: {e})') from e


def load_label_file(path: str) -> Tuple[List[str], List[int]]:
    """Load ``(sample_names, labels)`` from a TAO label pickle.

    Args:
        path: ``.pkl`` holding a 2-element list/tuple ``[names, labels]``.

    Returns:
        (names, labels) as lists of str and int.

    Raises:
        FileNotFoundError: missing file.
        LabelFileError: unsafe content, wrong structure or types (the message
            names the file, the field and the first bad entry).
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'label file not found: {path}')
    with open(path, 'rb') as f:
        obj = safe_unpickle(f.read(), path)
    if not isinstance(obj, (list, tuple)) or len(obj) != 2:
        raise LabelFileError(f'label file {path}: expected a 2-element sequence [sample_names, labels], '
                             f'got {type(obj).__name__}' + (f' of length {len(obj)}' if hasattr(obj, '__len__')
                                                            else ''))
    names, labels = obj
    if not isinstance(names, (list, tuple)) or not isinstance(labels, (list, tuple)):
        raise LabelFileError(f'label file {path}: sample_names and labels must be lists')
    if len(names) != len(labels):
        raise LabelFileError(f'label file {path}: {len(names)} sample names but {len(labels)} labels')
    for i, n in enumerate(names):
        if not isinstance(n, str):
            raise LabelFileError(f'label file {path}: sample_names[{i}] is {type(n).__name__}, expected str')
    out = []
    for i, lb in enumerate(labels):
        if isinstance(lb, bool) or not isinstance(lb, int):
            raise LabelFileError(f'label file {path}: labels[{i}] = {lb!r} is {type(lb).__name__}, expected int')
        out.append(int(lb))
    return list(names), out


def save_label_file(path: str, names: Sequence[str], labels: Sequence[int]) -> None:
    """Write a TAO label file ``[[names], [labels]]`` (plain types, protocol 4), atomically."""
    if len(names) != len(labels):
        raise ValueError(f'{len(names)} names but {len(labels)} labels')
    payload = [[str(n) for n in names], [int(x) for x in labels]]
    atomic_write_bytes(path, pickle.dumps(payload, protocol=4))


def load_label_map(label_map: Union[None, str, Dict[str, int]]) -> Optional[Dict[str, int]]:
    """Return a ``{class name: id}`` dict from a dict or a JSON file path (None passes through)."""
    if label_map is None or isinstance(label_map, dict):
        return None if label_map is None else dict(label_map)
    if isinstance(label_map, str):
        if not osp.isfile(label_map):
            raise FileNotFoundError(f'label_map file not found: {label_map}')
        with open(label_map) as f:
            obj = json.load(f)
        if not isinstance(obj, dict):
            raise ValueError(f'label_map file {label_map}: expected a JSON object {{"name": id}}')
        return obj
    return dict(label_map)


def classes_from_label_map(label_map: Dict[str, int], source: str = 'label_map') -> List[str]:
    """Class names ordered by id; ids must be exactly 0..n-1."""
    for name, idx in label_map.items():
        if isinstance(idx, bool) or not isinstance(idx, int):
            raise ValueError(f'{source}: id of class {name!r} is {idx!r}, expected an int')
    ids = sorted(label_map.values())
    if ids != list(range(len(ids))):
        raise ValueError(f'{source}: class ids must be 0..{len(ids) - 1} without gaps or repeats, got {ids}')
    inv = {v: k for k, v in label_map.items()}
    return [inv[i] for i in range(len(ids))]
