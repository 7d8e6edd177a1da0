"""BaseTransform: the interface of posecls's data transforms."""
from abc import ABCMeta, abstractmethod
from typing import Any, Dict, Optional

import numpy as np


class BaseTransform(metaclass=ABCMeta):
    """A callable that maps a results dict to a results dict.

    Random transforms draw from ``results['rng']`` (a ``np.random.Generator``
    set by PoseDataset per sample) so they are reproducible; without one they
    use a private generator seeded with ``seed``.

    Args:
        seed: Seed of the fallback generator (None: fresh OS entropy).
    """

    def __init__(self, seed: Optional[int] = None) -> None:
        self._fallback_rng = np.random.default_rng(seed)

    def rng(self, results: Dict[str, Any]) -> np.random.Generator:
        """The generator to draw from for this sample."""
        rng = results.get('rng')
        return rng if rng is not None else self._fallback_rng

    @abstractmethod
    def transform(self, results: Dict[str, Any]) -> Dict[str, Any]:
        """Transform one sample."""

    def __call__(self, results: Dict[str, Any]) -> Dict[str, Any]:
        return self.transform(results)


def check_keypoint(results: Dict[str, Any], name: str) -> np.ndarray:
    """Return ``results['keypoint']`` after checking it is (C, T, V, M) (or (clips, C, T, V, M))."""
    if 'keypoint' not in results:
        raise KeyError(f'{name} needs results["keypoint"]; keys present: {sorted(results)}')
    kp = results['keypoint']
    if kp.ndim != 4:
        raise ValueError(f'{name} expects keypoint of shape (C, T, V, M), got {kp.shape}')
    return kp
