"""Per-joint features of TAO's dataset_convert, vectorised over all poses at once.

The arithmetic is TAO's, operation for operation, in float64 (Python floats)
and rounded once to float32 when stored, so the result is bit-identical to
TAO's per-joint loops (docs/reference.md §5.2):

* ``3dbp``:  ``(pose3d_j - pose3d_pelvis) / focal_length`` for x, y, z;
* ``25dbp``: ``u / input_width - 0.5``, ``v / input_height - 0.5``, ``zRel``;
* ``2dbp``:  the same x and y only;
* a joint whose confidence (4th value) is exactly 0.0 is all zeros (for 3dbp
  the pelvis is subtracted even when its own confidence is 0).
"""
import numpy as np


def pose_features(poses: np.ndarray, pose_type: str, input_width: float = 1920.0, input_height: float = 1080.0,
                  focal_length: float = 1200.0) -> np.ndarray:
    """Convert raw DeepStream poses to TAO's normalised joint features.

    Args:
        poses: (N, 4*V) float64, each row V groups of [x, y, z, conf] as read
            from ``pose3d`` (3dbp) or ``pose25d`` (25dbp, 2dbp).
        pose_type: ``3dbp``, ``25dbp`` or ``2dbp``.
        input_width: Frame width in pixels (25dbp, 2dbp).
        input_height: Frame height in pixels (25dbp, 2dbp).
        focal_length: Focal length in pixels (3dbp).

    Returns:
        (N, C, V) float32 with C = 3 (3dbp, 25dbp) or 2 (2dbp).
    """
    n = poses.shape[0]
    a = np.asarray(poses, dtype=np.float64).reshape(n, -1, 4)
    if pose_type == '3dbp':
        xyz = (a[:, :, :3] - a[:, :1, :3]) / float(focal_length)
    elif pose_type in ('25dbp', '2dbp'):
        c = 3 if pose_type == '25dbp' else 2
        xyz = np.empty((n, a.shape[1], c), np.float64)
        xyz[:, :, 0] = a[:, :, 0] / float(input_width) - 0.5
        xyz[:, :, 1] = a[:, :, 1] / float(input_height) - 0.5
        if c == 3:
            xyz[:, :, 2] = a[:, :, 2]
    else:
        raise ValueError(f'pose_type={pose_type!r} is not supported: expected 3dbp, 25dbp or 2dbp')
    xyz[a[:, :, 3] == 0.0] = 0.0
    return np.ascontiguousarray(xyz.astype(np.float32).transpose(0, 2, 1))
