"""PoseStream: the joint, bone, joint-motion and bone-motion input streams of multi-stream GCNs."""
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from posecls.datasets.transforms.base import BaseTransform, check_keypoint
from posecls.datasets.transforms.skeleton_utils import bone_parents, num_valid_frames, presence_mask, resolve_channels
from posecls.registry import TRANSFORMS

STREAMS = ('joint', 'bone', 'joint_motion', 'bone_motion')


@TRANSFORMS.register_module()
class PoseStream(BaseTransform):
    """Turn joint coordinates into one stream, or several concatenated along C.

    - ``joint``: the coordinates as they are.
    - ``bone``: ``x[v] - x[parent(v)]`` with parents from the layout (breadth-first
      tree from its centre, see :func:`bone_parents`) or from ``bone_pairs``; the
      root's bone is zero.
    - ``joint_motion`` / ``bone_motion``: ``s[t + 1] - s[t]`` of the joint / bone
      stream inside the valid frames, zero on the last valid frame.

    Differences involving a missing joint (all channels zero) are zero, so absent
    joints, persons and the padding stay zero. Channels outside ``channels``
    (e.g. a detection score) are copied from the joint stream unchanged.

    Args:
        stream: One of :data:`STREAMS`, or a list of them to concatenate
            (``['joint', 'bone']`` gives 2C channels; set the backbone's
            ``in_channels`` accordingly).
        layout: Layout whose bones are used (a registered name such as
            ``'kinect-v1-20'``, or a layout dict); needed for bone streams unless
            ``bone_pairs`` is given.
        bone_pairs: ``(joint, parent)`` 0-based pairs; joints not listed get a zero bone.
        channels: Coordinate channels that are differenced (default: all).

    Required keys: ``keypoint`` (C, T, V, M). Modified keys: ``keypoint`` (C * streams, T, V, M).
    """

    def __init__(self, stream: Union[str, Sequence[str]] = 'joint', layout: Optional[Union[str, dict]] = None,
                 bone_pairs: Optional[Sequence[Tuple[int, int]]] = None,
                 channels: Optional[Sequence[int]] = None) -> None:
        super().__init__()
        streams = [stream] if isinstance(stream, str) else list(stream)
        bad = [s for s in streams if s not in STREAMS]
        if bad or not streams:
            raise ValueError(f'PoseStream: stream must be one of {STREAMS} or a list of them, got {stream!r}')
        self.streams = streams
        self.layout = layout
        self.bone_pairs = None if bone_pairs is None else [(int(a), int(b)) for a, b in bone_pairs]
        self.channels = channels
        self._parents: Optional[np.ndarray] = None
        if any(s.startswith('bone') for s in streams) and layout is None and bone_pairs is None:
            raise ValueError('PoseStream: bone streams need the skeleton: pass layout=... (e.g. the graph layout '
                             'of the model) or bone_pairs=[(joint, parent), ...]')

    def parents(self, num_node: int) -> np.ndarray:
        """(V,) parent index of every joint."""
        if self._parents is None:
            if self.bone_pairs is not None:
                parents = np.arange(num_node)
                for v, p in self.bone_pairs:
                    if not (0 <= v < num_node and 0 <= p < num_node):
                        raise ValueError(f'PoseStream: bone pair ({v}, {p}) is outside the V={num_node} joints')
                    parents[v] = p
            else:
                from posecls.graphs import get_layout
                lay = get_layout(self.layout)
                parents = bone_parents(lay.num_node, lay.edges, lay.center)
            self._parents = parents
        if len(self._parents) != num_node:
            raise ValueError(f'PoseStream: the bone layout has {len(self._parents)} joints but the data has '
                             f'V={num_node}')
        return self._parents

    @staticmethod
    def _motion(data: np.ndarray, present: np.ndarray, length: int, chans: List[int]) -> np.ndarray:
        out = np.array(data, copy=True)
        diff = np.zeros_like(data[chans])
        if length > 1:
            both = present[1:length] & present[:length - 1]
            step = data[chans, 1:length] - data[chans, :length - 1]
            diff[:, :length - 1] = np.where(both[None], step, 0.0)
        out[chans] = diff
        return out

    def transform(self, results: Dict[str, Any]) -> Dict[str, Any]:
        """Compute the stream(s)."""
        kp = check_keypoint(results, 'PoseStream')
        C, T, V, M = kp.shape
        chans = resolve_channels(self.channels, C, 'PoseStream')
        joint = np.asarray(kp, dtype=np.float32)
        present = presence_mask(results)
        length = num_valid_frames(results)
        bone = bone_present = None
        if any(s.startswith('bone') for s in self.streams):
            parents = self.parents(V)
            bone_present = present & present[:, parents]
            bone = np.array(joint, copy=True)
            bone[chans] = np.where(bone_present[None], joint[chans] - joint[chans][:, :, parents], 0.0)
        outputs = []
        for s in self.streams:
            if s == 'joint':
                outputs.append(joint)
            elif s == 'bone':
                outputs.append(bone)
            elif s == 'joint_motion':
                outputs.append(self._motion(joint, present, length, chans))
            else:
                outputs.append(self._motion(bone, bone_present, length, chans))
        results['keypoint'] = np.concatenate(outputs, axis=0).astype(np.float32)
        return results

    def __repr__(self) -> str:
        return f'PoseStream(stream={self.streams}, layout={self.layout!r}, channels={self.channels})'
