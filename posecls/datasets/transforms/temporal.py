"""Temporal transforms of TAO / original ST-GCN: AutoPad and RandomChoose (docs/reference.md §4.3)."""
from typing import Any, Dict, Optional

import numpy as np

from posecls.datasets.transforms.base import BaseTransform, check_keypoint
from posecls.registry import TRANSFORMS


def _pad(data: np.ndarray, size: int, begin: int) -> np.ndarray:
    C, T, V, M = data.shape
    out = np.zeros((C, size, V, M), dtype=data.dtype)
    out[:, begin:begin + T] = data
    return out


@TRANSFORMS.register_module()
class AutoPad(BaseTransform):
    """Zero-pad a sequence to ``window_size`` frames; never crops (TAO's ``auto_pad``).

    TAO applies it when ``window_size > 0`` and ``random_choose`` is off.

    Args:
        window_size: Target length; sequences already this long or longer are unchanged.
        random_pad: Place the data at a random offset in ``[0, window_size - T]``
            instead of at frame 0.
        seed: Seed of the fallback RNG.

    Required keys: ``keypoint`` (C, T, V, M). Modified keys: ``keypoint``.
    """

    def __init__(self, window_size: int, random_pad: bool = False, seed: Optional[int] = None) -> None:
        super().__init__(seed)
        if not isinstance(window_size, int) or window_size < 1:
            raise ValueError(f'window_size must be a positive int, got {window_size!r}')
        self.window_size = window_size
        self.random_pad = random_pad

    def transform(self, results: Dict[str, Any]) -> Dict[str, Any]:
        """Pad ``keypoint`` along T."""
        data = check_keypoint(results, 'AutoPad')
        T = data.shape[1]
        if T < self.window_size:
            begin = int(self.rng(results).integers(0, self.window_size - T + 1)) if self.random_pad else 0
            results['keypoint'] = _pad(data, self.window_size, begin)
        return results

    def __repr__(self) -> str:
        return f'AutoPad(window_size={self.window_size}, random_pad={self.random_pad})'


# TAO's spec calls the padding length ``window_size``; ``Window`` is the same transform.
TRANSFORMS.register_module(name='Window', module=AutoPad)


@TRANSFORMS.register_module()
class RandomChoose(BaseTransform):
    """Random temporal crop (or random-offset pad) to ``window_size`` frames (TAO's ``random_choose``).

    T is the full array length, zero padding already in the file included.
    T == size: unchanged; T < size: zero-pad at a random offset (when
    ``auto_pad``); T > size: frames ``[b, b + size)`` with ``b`` uniform in
    ``[0, T - size]``.

    Args:
        window_size: Output length.
        auto_pad: Pad shorter sequences (TAO: True).
        seed: Seed of the fallback RNG.

    Required keys: ``keypoint`` (C, T, V, M). Modified keys: ``keypoint``.
    """

    def __init__(self, window_size: int, auto_pad: bool = True, seed: Optional[int] = None) -> None:
        super().__init__(seed)
        if not isinstance(window_size, int) or window_size < 1:
            raise ValueError(f'window_size must be a positive int, got {window_size!r}')
        self.window_size = window_size
        self.auto_pad = auto_pad

    def transform(self, results: Dict[str, Any]) -> Dict[str, Any]:
        """Crop or pad ``keypoint`` along T."""
        data = check_keypoint(results, 'RandomChoose')
        T = data.shape[1]
        size = self.window_size
        rng = self.rng(results)
        if T == size:
            return results
        if T < size:
            if self.auto_pad:
                results['keypoint'] = _pad(data, size, int(rng.integers(0, size - T + 1)))
            return results
        begin = int(rng.integers(0, T - size + 1))
        results['keypoint'] = np.ascontiguousarray(data[:, begin:begin + size])
        return results

    def __repr__(self) -> str:
        return f'RandomChoose(window_size={self.window_size}, auto_pad={self.auto_pad})'
