"""3-D augmentations: random rotation about x/y/z and random scaling (pyskl / CTR-GCN style)."""
from typing import Any, Dict, Optional, Sequence, Tuple, Union

import numpy as np

from posecls.datasets.transforms.base import BaseTransform, check_keypoint
from posecls.datasets.transforms.skeleton_utils import presence_mask, resolve_channels
from posecls.registry import TRANSFORMS

ANGLE_UNITS = ('deg', 'rad')


def rotation_matrix(ax: float, ay: float, az: float) -> np.ndarray:
    """``Rz(az) @ Ry(ay) @ Rx(ax)`` for angles in radians, as a (3, 3) float64 array."""
    cx, sx, cy, sy, cz, sz = np.cos(ax), np.sin(ax), np.cos(ay), np.sin(ay), np.cos(az), np.sin(az)
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return rz @ ry @ rx


def _triple(value: Union[float, Sequence[float]], name: str) -> Tuple[float, float, float]:
    vals = (float(value), ) * 3 if np.isscalar(value) else tuple(float(v) for v in value)
    if len(vals) != 3 or any(v < 0 for v in vals):
        raise ValueError(f'{name} must be a non-negative number or three (x, y, z) numbers, got {value!r}')
    return vals


@TRANSFORMS.register_module()
class RandomRotate(BaseTransform):
    """Rotate the whole clip by random angles about the x, y and z axes.

    Angles are drawn uniformly from ``[-a, a]`` per axis, once per clip, and
    applied as ``Rz Ry Rx`` to the (x, y, z) channels of every present joint
    (missing joints stay zero). With 2-D data (``channels`` of length 2) only the
    z angle is used, as an in-plane rotation.

    Args:
        angle: Largest angle: one number for all axes or ``(ax, ay, az)``.
            CTR-GCN's NW-UCLA recipe: ``(60, 60, 0)`` degrees; pyskl's
            ``RandomRot(theta=0.3)``: ``0.3`` rad on all axes.
        unit: ``'deg'`` or ``'rad'``.
        channels: The coordinate channels, default ``(0, 1, 2)``.
        p: Probability of rotating a clip.

    Required keys: ``keypoint`` (C, T, V, M). Modified keys: ``keypoint``.
    """

    def __init__(self, angle: Union[float, Sequence[float]] = (60., 60., 0.), unit: str = 'deg',
                 channels: Optional[Sequence[int]] = (0, 1, 2), p: float = 1.0) -> None:
        super().__init__()
        if unit not in ANGLE_UNITS:
            raise ValueError(f'RandomRotate: unit must be one of {ANGLE_UNITS}, got {unit!r}')
        if not 0.0 <= p <= 1.0:
            raise ValueError(f'RandomRotate: p must be in [0, 1], got {p}')
        self.angle = _triple(angle, 'RandomRotate: angle')
        self.unit = unit
        self.channels = channels
        self.p = p

    def transform(self, results: Dict[str, Any]) -> Dict[str, Any]:
        """Rotate ``keypoint``."""
        kp = check_keypoint(results, 'RandomRotate')
        chans = resolve_channels(self.channels, kp.shape[0], 'RandomRotate')
        if len(chans) not in (2, 3):
            raise ValueError(f'RandomRotate: needs 2 or 3 coordinate channels, got channels={chans}')
        rng = self.rng(results)
        if rng.random() >= self.p:
            return results
        limits = np.radians(self.angle) if self.unit == 'deg' else np.asarray(self.angle)
        ax, ay, az = rng.uniform(-limits, limits)
        rot = rotation_matrix(ax, ay, az) if len(chans) == 3 else np.array(
            [[np.cos(az), -np.sin(az)], [np.sin(az), np.cos(az)]])
        present = presence_mask(results)
        out = np.array(kp, dtype=np.float32, copy=True)
        xyz = np.einsum('ij,jtvm->itvm', rot, out[chans].astype(np.float64))
        out[chans] = np.where(present[None], xyz, 0.0).astype(np.float32)
        results['keypoint'] = out
        return results

    def __repr__(self) -> str:
        return f'RandomRotate(angle={self.angle}, unit={self.unit!r}, channels={self.channels}, p={self.p})'


@TRANSFORMS.register_module()
class RandomScale(BaseTransform):
    """Multiply the coordinates by a random factor.

    Args:
        scale: ``(low, high)``: factor drawn uniformly from the range (CTR-GCN:
            ``(0.5, 1.5)``); a number s: factor ``1 + U(-s, s)`` (pyskl's
            ``RandomScale(scale=0.1)``).
        per_axis: Draw one factor per channel (pyskl) instead of one for all.
        channels: The coordinate channels, default ``(0, 1, 2)``.

    Required keys: ``keypoint`` (C, T, V, M). Modified keys: ``keypoint``.
    """

    def __init__(self, scale: Union[float, Sequence[float]] = 0.1, per_axis: bool = True,
                 channels: Optional[Sequence[int]] = (0, 1, 2)) -> None:
        super().__init__()
        if np.isscalar(scale):
            if not 0 <= scale < 1:
                raise ValueError(f'RandomScale: a single scale must be in [0, 1), got {scale}')
            self.range = (1.0 - float(scale), 1.0 + float(scale))
        else:
            lo, hi = (float(v) for v in scale)
            if not 0 < lo <= hi:
                raise ValueError(f'RandomScale: scale range must satisfy 0 < low <= high, got {tuple(scale)}')
            self.range = (lo, hi)
        self.per_axis = per_axis
        self.channels = channels

    def transform(self, results: Dict[str, Any]) -> Dict[str, Any]:
        """Scale ``keypoint``."""
        kp = check_keypoint(results, 'RandomScale')
        chans = resolve_channels(self.channels, kp.shape[0], 'RandomScale')
        rng = self.rng(results)
        factors = rng.uniform(self.range[0], self.range[1], size=len(chans) if self.per_axis else 1)
        out = np.array(kp, dtype=np.float32, copy=True)
        out[chans] = (out[chans] * factors.reshape(-1, 1, 1, 1)).astype(np.float32)
        results['keypoint'] = out
        return results

    def __repr__(self) -> str:
        return f'RandomScale(range={self.range}, per_axis={self.per_axis}, channels={self.channels})'
