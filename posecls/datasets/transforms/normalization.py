"""Per-clip normalisation: centre on a joint, scale to a fixed range (CTR-GCN / pyskl preprocessing)."""
from typing import Any, Dict, Optional, Sequence

import numpy as np

from posecls.datasets.transforms.base import BaseTransform, check_keypoint
from posecls.datasets.transforms.skeleton_utils import presence_mask, resolve_channels
from posecls.registry import TRANSFORMS

CENTER_MODES = ('first', 'per_frame')
CENTER_PERSONS = ('first', 'each')
SCALE_MODES = ('minmax', 'max_abs')


@TRANSFORMS.register_module()
class CenterOnJoint(BaseTransform):
    """Translate a clip so that a joint sits at the origin.

    Missing joints (all channels zero: TAO's convention for undetected joints,
    absent persons and padding) stay zero; only present joints move.

    Args:
        joint: Index of the reference joint (e.g. 1 = spine in the Kinect v1
            layout, as CTR-GCN centres NW-UCLA).
        mode: ``'first'``: subtract the joint's position in the first frame where
            it is present (the clip keeps its motion); ``'per_frame'``: subtract
            it in every frame (removes global translation). Where the joint is
            missing, the mean of the frame's present joints is used instead.
        person: ``'first'``: the first person present gives the reference for all
            persons (relative positions are kept); ``'each'``: every person is
            centred on its own joint.
        channels: Channels to translate (default: all, e.g. x, y, z); pass
            ``(0, 1)`` for (x, y, score) data.

    Required keys: ``keypoint`` (C, T, V, M). Modified keys: ``keypoint``.
    """

    def __init__(self, joint: int = 0, mode: str = 'first', person: str = 'first',
                 channels: Optional[Sequence[int]] = None) -> None:
        super().__init__()
        if mode not in CENTER_MODES:
            raise ValueError(f'CenterOnJoint: mode must be one of {CENTER_MODES}, got {mode!r}')
        if person not in CENTER_PERSONS:
            raise ValueError(f'CenterOnJoint: person must be one of {CENTER_PERSONS}, got {person!r}')
        if not isinstance(joint, int) or joint < 0:
            raise ValueError(f'CenterOnJoint: joint must be a joint index >= 0, got {joint!r}')
        self.joint = joint
        self.mode = mode
        self.person = person
        self.channels = channels

    def _reference(self, xyz: np.ndarray, present: np.ndarray) -> np.ndarray:
        """(C', T) reference per frame for one person's (C', T, V) data; NaN where nothing is present."""
        C, T, V = xyz.shape
        ref = np.full((C, T), np.nan)
        has_joint = present[:, self.joint]
        ref[:, has_joint] = xyz[:, has_joint, self.joint]
        counts = present.sum(axis=1)
        fallback = (~has_joint) & (counts > 0)
        if fallback.any():
            ref[:, fallback] = (xyz[:, fallback] * present[None, fallback]).sum(axis=2) / counts[fallback]
        if self.mode == 'first':
            frames = np.flatnonzero(has_joint)
            if frames.size == 0:
                frames = np.flatnonzero(counts > 0)
            ref[:] = ref[:, frames[:1]] if frames.size else np.nan
        return ref

    def transform(self, results: Dict[str, Any]) -> Dict[str, Any]:
        """Centre ``keypoint``."""
        kp = check_keypoint(results, 'CenterOnJoint')
        C, T, V, M = kp.shape
        if self.joint >= V:
            raise ValueError(f'CenterOnJoint: joint {self.joint} is outside the V={V} joints of the data')
        chans = resolve_channels(self.channels, C, 'CenterOnJoint')
        present = presence_mask(results)  # (T, V, M)
        out = np.array(kp, dtype=np.float32, copy=True)
        xyz = out[chans].astype(np.float64)  # (C', T, V, M)
        persons = [m for m in range(M) if present[..., m].any()]
        if not persons:
            results['keypoint'] = out
            return results
        shared = self._reference(xyz[..., persons[0]], present[..., persons[0]]) if self.person == 'first' else None
        for m in persons:
            ref = shared if shared is not None else self._reference(xyz[..., m], present[..., m])
            ref = np.nan_to_num(ref, nan=0.0)
            xyz[..., m] = np.where(present[None, :, :, m], xyz[..., m] - ref[:, :, None], 0.0)
        out[chans] = xyz.astype(np.float32)
        results['keypoint'] = out
        return results

    def __repr__(self) -> str:
        return (f'CenterOnJoint(joint={self.joint}, mode={self.mode!r}, person={self.person!r}, '
                f'channels={self.channels})')


@TRANSFORMS.register_module()
class NormalizeScale(BaseTransform):
    """Scale a clip to a fixed range using statistics of its present joints.

    Args:
        mode: ``'minmax'``: every channel independently to [-1, 1] by its min and
            max over the clip (CTR-GCN's NW-UCLA preprocessing; changes the aspect
            ratio); ``'max_abs'``: all channels together divided by the largest
            absolute value (keeps the shape and the origin, e.g. after
            :class:`CenterOnJoint`).
        channels: Channels to scale (default: all).

    A channel (``minmax``) or clip (``max_abs``) without spread is mapped to 0 /
    left unchanged instead of dividing by zero. Missing joints stay zero.

    Required keys: ``keypoint`` (C, T, V, M). Modified keys: ``keypoint``.
    """

    def __init__(self, mode: str = 'minmax', channels: Optional[Sequence[int]] = None) -> None:
        super().__init__()
        if mode not in SCALE_MODES:
            raise ValueError(f'NormalizeScale: mode must be one of {SCALE_MODES}, got {mode!r}')
        self.mode = mode
        self.channels = channels

    def transform(self, results: Dict[str, Any]) -> Dict[str, Any]:
        """Scale ``keypoint``."""
        kp = check_keypoint(results, 'NormalizeScale')
        chans = resolve_channels(self.channels, kp.shape[0], 'NormalizeScale')
        present = presence_mask(results)
        out = np.array(kp, dtype=np.float32, copy=True)
        if not present.any():
            results['keypoint'] = out
            return results
        vals = out[chans][:, present].astype(np.float64)  # (C', P) present entries
        if self.mode == 'minmax':
            lo, hi = vals.min(axis=1), vals.max(axis=1)
            span = hi - lo
            safe = np.where(span > 0, span, 1.0)
            scaled = np.where((span > 0)[:, None], (vals - lo[:, None]) / safe[:, None] * 2.0 - 1.0, 0.0)
        else:
            peak = np.abs(vals).max()
            scaled = vals / peak if peak > 0 else vals
        block = out[chans]
        block[:, present] = scaled.astype(np.float32)
        out[chans] = block
        results['keypoint'] = out
        return results

    def __repr__(self) -> str:
        return f'NormalizeScale(mode={self.mode!r}, channels={self.channels})'
