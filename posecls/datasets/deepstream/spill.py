"""Per-object rows of dataset_convert, kept in memory up to a budget and spilled to temporary files beyond it.

:class:`TrackStore` receives, chunk by chunk, each object's features (n, C, V)
float32 and frame numbers (n,) int64. While the rows it holds fit in
``budget_bytes`` they stay in memory (small inputs never touch the disk); once
they exceed it, every object's rows are appended to two raw files per object
in a temporary folder ``<results_dir>/.posecls-tmp-<pid>-<hex>/`` and the
buffers are emptied, so memory stays below the budget whatever the input size.
After reading, spilled objects are served by :class:`DiskRows`, which reads
only the rows asked for (no memory map, so rows read once do not stay
resident).

The folder is removed by :meth:`TrackStore.close` (on success and on error);
one left by a killed run is removed by :func:`remove_stale_temp` at the start
of the next run in the same results folder.
"""
import os
import os.path as osp
import re
import shutil
from typing import Dict, Hashable, List, Optional, Tuple, Union

import numpy as np

#: Name prefix of everything temporary that dataset_convert writes in a results folder.
TMP_PREFIX = '.posecls-tmp-'
_TMP_NAME = re.compile(r'^' + re.escape(TMP_PREFIX) + r'(\d+)-[0-9a-f]{8,32}$')

Rows = Union[np.ndarray, 'DiskRows']


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def remove_stale_temp(folder: str) -> List[str]:
    """Remove the ``.posecls-tmp-<pid>-<hex>`` entries of ``folder`` whose process is gone (a killed run).

    Entries of a process that is still running (another conversion into the
    same folder, or this process) are left alone.

    Returns:
        The paths removed.
    """
    removed = []
    if not osp.isdir(folder):
        return removed
    for name in os.listdir(folder):
        m = _TMP_NAME.match(name)
        if not m or int(m.group(1)) == os.getpid() or _process_alive(int(m.group(1))):
            continue
        path = osp.join(folder, name)
        if osp.isdir(path) and not osp.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            os.unlink(path)
        removed.append(path)
    return removed


class DiskRows:
    """A read-only (n, *row_shape) array in a raw file; slicing reads just those rows.

    Args:
        path: Raw file of C-ordered rows.
        dtype: Element type.
        row_shape: Shape of one row.
        n: Number of rows.
    """

    def __init__(self, path: str, dtype: np.dtype, row_shape: Tuple[int, ...], n: int) -> None:
        self.path = path
        self.dtype = np.dtype(dtype)
        self.row_shape = tuple(row_shape)
        self._n = n
        self._row_items = int(np.prod(self.row_shape, dtype=np.int64))

    @property
    def shape(self) -> Tuple[int, ...]:
        return (self._n,) + self.row_shape

    @property
    def ndim(self) -> int:
        return 1 + len(self.row_shape)

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, index: Union[int, slice]) -> np.ndarray:
        """Rows ``index`` (a slice with step 1, or one row) read from the file."""
        if isinstance(index, slice):
            start, stop, step = index.indices(self._n)
            if step != 1:
                raise IndexError(f'{self.path}: only contiguous slices are supported, got step {step}')
            count = max(0, stop - start)
            if count == 0:
                return np.zeros((0,) + self.row_shape, self.dtype)
            data = np.fromfile(self.path, self.dtype, count * self._row_items,
                               offset=start * self._row_items * self.dtype.itemsize)
            return data.reshape((count,) + self.row_shape)
        i = int(index) + (self._n if int(index) < 0 else 0)
        if not 0 <= i < self._n:
            raise IndexError(f'{self.path}: row {index} out of range for {self._n} rows')
        return self[i:i + 1][0]

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        out = self[:]
        return out if dtype is None else out.astype(dtype)


class TrackStore:
    """Rows of every object, in memory up to ``budget_bytes``, in temporary files beyond.

    Args:
        folder: Where the temporary folder is made (the results folder); None
            keeps everything in memory.
        budget_bytes: Most row bytes buffered in memory before a spill.
    """

    def __init__(self, folder: Optional[str], budget_bytes: int) -> None:
        self.folder = folder
        self.budget_bytes = budget_bytes
        self.tmp_dir: Optional[str] = None
        self._mem: Dict[Hashable, Tuple[List[np.ndarray], List[np.ndarray]]] = {}
        self._disk: Dict[Hashable, Tuple[int, str, Tuple[int, ...]]] = {}  # key -> (rows, file stem, row shape)
        self._buffered = 0
        self.spills = 0

    def __enter__(self) -> 'TrackStore':
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def append(self, key: Hashable, features: np.ndarray, frame_nums: np.ndarray) -> None:
        """Add rows of object ``key``: features (n, C, V) float32, frame_nums (n,) int64."""
        feats, nums = self._mem.setdefault(key, ([], []))
        feats.append(features)
        nums.append(frame_nums)
        self._buffered += features.nbytes + frame_nums.nbytes
        if self.folder is not None and self._buffered > self.budget_bytes:
            self._spill()

    def finish(self) -> None:
        """After the last append: once anything was spilled, spill the rest too (memory is then freed)."""
        if self.tmp_dir is not None:
            self._spill()

    def arrays(self, key: Hashable) -> Tuple[Rows, Rows]:
        """(features, frame_nums) of object ``key``: ndarrays, or :class:`DiskRows` if it was spilled."""
        if key in self._disk:
            if self._mem.get(key, ([], []))[0]:
                self._spill()
            n, stem, row_shape = self._disk[key]
            return DiskRows(stem + '.f32', np.float32, row_shape, n), DiskRows(stem + '.i64', np.int64, (), n)
        feats, nums = self._mem[key]
        if len(feats) > 1:  # concatenate once; the store keeps the result
            feats[:] = [np.concatenate(feats, axis=0)]
            nums[:] = [np.concatenate(nums, axis=0)]
        return feats[0], nums[0]

    def _spill(self) -> None:
        if self.tmp_dir is None:
            os.makedirs(self.folder, exist_ok=True)
            self.tmp_dir = osp.join(self.folder, f'{TMP_PREFIX}{os.getpid()}-{os.urandom(8).hex()}')
            os.mkdir(self.tmp_dir)
        for key, (feats, nums) in self._mem.items():
            if not feats:
                continue
            n, stem, row_shape = self._disk.get(key) or (0, osp.join(self.tmp_dir, str(len(self._disk))),
                                                         feats[0].shape[1:])
            with open(stem + '.f32', 'ab') as f:
                for a in feats:
                    f.write(np.ascontiguousarray(a, np.float32))
            with open(stem + '.i64', 'ab') as f:
                for a in nums:
                    f.write(np.ascontiguousarray(a, np.int64))
            self._disk[key] = (n + sum(len(a) for a in nums), stem, row_shape)
            feats.clear()
            nums.clear()
        self._buffered = 0
        self.spills += 1

    def close(self) -> None:
        """Drop every row and remove the temporary folder."""
        self._mem.clear()
        self._disk.clear()
        self._buffered = 0
        if self.tmp_dir is not None:
            shutil.rmtree(self.tmp_dir, ignore_errors=True)
            self.tmp_dir = None
