"""TAO's window sampling of a track, and the zero-padded window arrays.

Windows start at 0, step, 2*step, ... with ``step = int(sequence_length *
sequence_overlap)`` while at least ``sequence_length_min`` appearances remain;
a window holds ``sequence_length`` appearances, or the rest of the track when
fewer remain, and is zero-padded at the end to ``sequence_length_max``
(docs/reference.md §5.2).
"""
from typing import Sequence, Tuple

import numpy as np


def window_bounds(n: int, sequence_length: int, step: int, sequence_length_min: int) -> np.ndarray:
    """TAO's windows over a track of ``n`` appearances.

    Args:
        n: Track length (appearances).
        sequence_length: Window length L.
        step: Start step (>= 1).
        sequence_length_min: Shortest window kept (>= 1).

    Returns:
        (S, 2) int64 ``[start, end)`` positions; S = 0 when n < sequence_length_min.
    """
    if step < 1 or sequence_length_min < 1:
        raise ValueError(f'window step ({step}) and sequence_length_min ({sequence_length_min}) must be >= 1')
    if n < sequence_length_min:
        return np.zeros((0, 2), np.int64)
    starts = np.arange(0, n - sequence_length_min + 1, step, dtype=np.int64)
    return np.stack([starts, np.minimum(starts + sequence_length, n)], axis=1)


def piece_bounds(pieces: Sequence[Tuple[int, int]], sequence_length: int, step: int,
                 sequence_length_min: int) -> np.ndarray:
    """Windows of each ``[start, end)`` piece of a split track, in track positions.

    Returns:
        (S, 2) int64 windows of all pieces, piece after piece.
    """
    out = [window_bounds(e - s, sequence_length, step, sequence_length_min) + s for s, e in pieces]
    return np.concatenate(out, axis=0) if out else np.zeros((0, 2), np.int64)


def fill_windows(features: np.ndarray, bounds: np.ndarray, sequence_length_max: int,
                 out: np.ndarray = None) -> np.ndarray:
    """Copy windows of a track into zero-padded arrays.

    Args:
        features: (n, C, V) float32 track features.
        bounds: (S, 2) ``[start, end)`` windows; ``end - start <= sequence_length_max``.
        sequence_length_max: T of the output.
        out: Optional zeroed (S, C, T, V, 1) float32 array to fill.

    Returns:
        (S, C, sequence_length_max, V, 1) float32.
    """
    n, c, v = features.shape
    if out is None:
        out = np.zeros((len(bounds), c, sequence_length_max, v, 1), np.float32)
    for k, (s, e) in enumerate(bounds.tolist()):
        out[k, :, :e - s, :, 0] = features[s:e].transpose(1, 0, 2)
    return out


def fill_window_block(features, bounds: np.ndarray, sequence_length_max: int) -> np.ndarray:
    """Windows of a track whose features may live on disk: reads only rows ``[min start, max end)``.

    Args:
        features: (n, C, V) float32 ndarray, or anything whose contiguous
            slices give one (``spill.DiskRows``).
        bounds: (S, 2) ``[start, end)`` windows (S >= 1).
        sequence_length_max: T of the output.

    Returns:
        (S, C, sequence_length_max, V, 1) float32, equal to
        ``fill_windows(features[:], bounds, sequence_length_max)``.
    """
    lo, hi = int(bounds[:, 0].min()), int(bounds[:, 1].max())
    return fill_windows(np.asarray(features[lo:hi]), bounds - lo, sequence_length_max)


def covered_count(n: int, bounds: np.ndarray) -> int:
    """Number of the ``n`` positions that lie in at least one window."""
    if n == 0 or len(bounds) == 0:
        return 0
    mark = np.zeros(n + 1, np.int64)
    np.add.at(mark, bounds[:, 0], 1)
    np.add.at(mark, bounds[:, 1], -1)
    return int(np.count_nonzero(np.cumsum(mark)[:n]))
