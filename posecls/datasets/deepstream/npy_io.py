"""Write ``.npy`` files atomically, whole or block by block."""
from contextlib import contextmanager
from typing import Callable, Iterator, Tuple

import numpy as np

from posecls.utils.atomic_io import atomic_open


def save_npy(path: str, array: np.ndarray) -> None:
    """``np.save(path, array, allow_pickle=False)`` through a temporary file renamed into place."""
    with atomic_open(path, 'wb') as f:
        np.save(f, array, allow_pickle=False)


@contextmanager
def npy_block_writer(path: str, shape: Tuple[int, ...], dtype=np.float32) -> Iterator[Callable[[np.ndarray], None]]:
    """Stream an array of known shape into ``path`` block by block (axis 0), atomically.

    The file is byte-identical to ``np.save`` of the whole array. It appears
    under ``path`` only when exactly ``shape[0]`` rows were written and the
    block exits without an exception.

    Args:
        path: Destination ``.npy``.
        shape: Final shape; blocks are (k, *shape[1:]).
        dtype: Element type.

    Yields:
        ``write(block)``.
    """
    dtype = np.dtype(dtype)
    written = [0]
    with atomic_open(path, 'wb') as f:
        np.lib.format.write_array_header_1_0(
            f, {'descr': np.lib.format.dtype_to_descr(dtype), 'fortran_order': False, 'shape': tuple(shape)})

        def write(block: np.ndarray) -> None:
            if block.dtype != dtype or tuple(block.shape[1:]) != tuple(shape[1:]):
                raise ValueError(f'{path}: block {block.dtype}{block.shape} does not match {dtype}{shape}')
            if written[0] + block.shape[0] > shape[0]:
                raise ValueError(f'{path}: more than {shape[0]} rows written')
            f.write(np.ascontiguousarray(block))  # the buffer itself, no copy
            written[0] += block.shape[0]

        yield write
        if written[0] != shape[0]:
            raise ValueError(f'{path}: {written[0]} rows written, {shape[0]} expected')
