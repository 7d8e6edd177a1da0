"""Helpers shared by the skeleton transforms: presence masks, valid lengths, bone parents."""
from collections import deque
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np


def presence_mask(results: Dict[str, Any]) -> np.ndarray:
    """Where a joint is present, as a (T, V, M) bool array.

    TAO and the original ST-GCN store missing joints, absent persons and the
    padding after a clip as zeros. The mask is read off the keypoints the first
    time a transform asks (any channel non-zero) and kept in
    ``results['presence']``, so a joint that a transform moves to the origin
    (e.g. the centre joint after :class:`CenterOnJoint`) stays present.

    Args:
        results: Sample dict with ``keypoint`` (C, T, V, M).
    """
    mask = results.get('presence')
    kp = results['keypoint']
    if mask is None or mask.shape != kp.shape[1:]:
        mask = np.any(kp != 0, axis=0)
        results['presence'] = mask
    return mask


def num_valid_frames(results: Dict[str, Any]) -> int:
    """Frames ``[0, L)`` that hold data: up to the last frame with a present joint (see :func:`presence_mask`)."""
    nonzero = np.flatnonzero(presence_mask(results).any(axis=(1, 2)))
    return int(nonzero[-1] + 1) if nonzero.size else 0


def resolve_channels(channels: Optional[Sequence[int]], num_channels: int, name: str) -> List[int]:
    """Channel indices a spatial transform works on (all channels when None), validated."""
    chans = list(range(num_channels)) if channels is None else [int(c) for c in channels]
    bad = [c for c in chans if not 0 <= c < num_channels]
    if bad or not chans:
        raise ValueError(f'{name}: channels {list(chans)} must be indices in [0, {num_channels - 1}] of the '
                         f'C={num_channels} keypoint channels')
    return chans


def bone_parents(num_node: int, edges: Sequence[Tuple[int, int]], center: int) -> np.ndarray:
    """Parent of every joint in the tree found by breadth-first search from ``center``.

    The bone of joint v is ``x[v] - x[parent[v]]``; the centre is its own parent
    (a zero bone). With the Kinect v1 layout and centre 2 this gives CTR-GCN's
    NW-UCLA bone pairs.

    Args:
        num_node: Joints V.
        edges: Undirected 0-based links.
        center: Root joint.

    Returns:
        np.ndarray: (V,) int parent indices.

    Raises:
        ValueError: when a joint is not connected to the centre.
    """
    neighbours: List[List[int]] = [[] for _ in range(num_node)]
    for a, b in edges:
        neighbours[a].append(b)
        neighbours[b].append(a)
    parent = np.full(num_node, -1, dtype=np.int64)
    parent[center] = center
    queue = deque([center])
    while queue:
        v = queue.popleft()
        for w in sorted(neighbours[v]):
            if parent[w] < 0:
                parent[w] = v
                queue.append(w)
    orphans = np.flatnonzero(parent < 0).tolist()
    if orphans:
        raise ValueError(f'joints {orphans} are not connected to the centre joint {center}; bones need a '
                         'connected skeleton (or pass bone_pairs explicitly)')
    return parent
