"""Realistic deepstream-bodypose-3d ``--save-pose`` JSON, for tests, demos and benchmarks.

People (the procedural 34-joint body of :mod:`posecls.datasets.sample_data`)
walk in and out of a camera's view doing a schedule of actions. Each frame
holds ``pose3d`` (camera coordinates in mm) and ``pose25d`` (pixel u, v, the
depth relative to the pelvis, and a confidence), printed like C ``%f`` with the
exact layout of deepstream_pose_estimation_app.cpp. Occluded joints have
confidence 0; tracks enter late, leave early, miss a few frames, and can
re-appear after a long absence with the same id; the file can be cut short
like a crashed run. Everything is drawn from ``np.random.default_rng(seed)``.
"""
import csv
import io
import os.path as osp
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np

from posecls.datasets.sample_data import CLASSES, action_angles, body_joints
from posecls.utils.atomic_io import atomic_open, atomic_write_bytes

NUM_JOINTS = 34


def _fmt(values: np.ndarray) -> str:
    return ', '.join(map('{:f}'.format, values.tolist()))


def _track_poses(n: int, rng: np.random.Generator, width: int, height: int, focal: float,
                 actions: Sequence[str]) -> Dict[str, Any]:
    """Poses of one person over ``n`` appearances: pose3d (n, 34, 4), pose25d (n, 34, 4) and the action schedule."""
    sched, joints = [], []
    t = 0
    while t < n:
        seg = int(min(n - t, rng.integers(60, 200)))
        action = str(actions[int(rng.integers(len(actions)))])
        p = action_angles(action, seg, rng)
        joints.append(body_joints(p, 1.0))
        sched.append((t, t + seg, action))
        t += seg
    J = np.concatenate(joints, axis=0) * rng.uniform(0.85, 1.15)  # (n, 34, 3) body frame mm: x left, y up, z fwd
    yaw = rng.uniform(-np.pi, np.pi)
    c, s = np.cos(yaw), np.sin(yaw)
    x, y, z = J[..., 0], J[..., 1], J[..., 2]
    cam = np.stack([c * x + s * z, -y, -s * x + c * z], axis=-1)  # camera frame: X right, Y down, Z forward
    z0 = rng.uniform(3000, 7000)
    x_span = 0.35 * width * z0 / focal
    start_x = rng.uniform(-x_span, x_span)
    drift = rng.uniform(-1.0, 1.0) * min(2 * x_span / max(n, 1), 15.0)
    root = np.stack([start_x + drift * np.arange(n), np.full(n, rng.uniform(300, 700)),
                     z0 + rng.uniform(-3, 3) * np.arange(n)], axis=-1)
    p3 = cam + root[:, None, :] + rng.normal(0, 8.0, cam.shape)
    u = focal * p3[..., 0] / p3[..., 2] + width / 2
    v = focal * p3[..., 1] / p3[..., 2] + height / 2
    zrel = (p3[..., 2] - p3[:, :1, 2]) / 1000.0 + rng.normal(0, 3e-4, u.shape)
    conf = np.clip(rng.beta(8, 2, u.shape), 0.05, 0.999)
    occluded = rng.random(u.shape) < rng.uniform(0.01, 0.08)
    limb = rng.random(n) < 0.05  # a whole arm hidden now and then
    occluded[limb, 22:34:2] = True
    occluded[:, 0] &= rng.random(n) < 0.2  # the pelvis is rarely unseen
    conf[occluded] = 0.0
    pose3d = np.concatenate([p3, conf[..., None]], axis=-1)
    pose25d = np.stack([u, v, zrel, conf], axis=-1)
    return dict(pose3d=pose3d, pose25d=pose25d, schedule=sched)


def generate_deepstream_json(path: str, num_frames: int = 600, num_tracks: int = 4, seed: int = 0,
                             frames_per_batch: int = 1, reappear_gap: Optional[int] = None,
                             truncate_at: Union[None, int, float] = None, width: int = 1920, height: int = 1080,
                             focal_length: float = 1200.0, actions: Sequence[str] = CLASSES) -> Dict[str, Any]:
    """Write a deepstream-bodypose-3d style JSON file.

    Args:
        path: Output file (written atomically).
        num_frames: Video length in frames (frame_num 0..num_frames-1).
        num_tracks: People; each enters and leaves at random times, skips a
            few frames now and then, and has its own id, size, place and speed.
        seed: RNG seed: the same arguments give a byte-identical file.
        frames_per_batch: Frames per batch object (``num_frames_in_batch``).
        reappear_gap: If set, the first track disappears for this many frames
            in the middle of its life and re-appears with the same id.
        truncate_at: Cut the file like a crashed run: a byte count, or a
            fraction (0, 1) of the full size.
        width, height, focal_length: Camera used to project pose3d to pose25d.
        actions: Action names the schedules draw from.

    Returns:
        Ground truth: ``path``, ``bytes`` (size written), ``full_bytes``,
        ``truncated_at``, ``frames`` (frame entries written in full),
        ``tracks`` (per track: ``object_id``, ``frame_nums``, ``actions`` as
        ``(first_frame, last_frame, action)``) and ``frame_ends`` (per frame
        entry: ``(frame_num, byte offset just after its closing brace)``).
    """
    if num_frames < 1 or num_tracks < 1 or frames_per_batch < 1:
        raise ValueError('num_frames, num_tracks and frames_per_batch must be >= 1')
    rng = np.random.default_rng(seed)
    ids = rng.choice(np.arange(1, 1 << 20), size=num_tracks, replace=False).tolist()
    tracks = []
    for k, oid in enumerate(ids):
        first = int(rng.integers(0, max(1, num_frames // 3)))
        last = int(min(num_frames - 1, first + rng.integers(max(2, num_frames // 4), num_frames)))
        frames = np.arange(first, last + 1)
        frames = frames[rng.random(len(frames)) > 0.02]  # the detector misses a frame now and then
        if k == 0 and reappear_gap:
            mid = frames[len(frames) // 2] if len(frames) else 0
            frames = np.concatenate([frames[frames < mid], frames[frames >= mid] + reappear_gap])
            frames = frames[frames < num_frames + reappear_gap]
        poses = _track_poses(len(frames), rng, width, height, focal_length, actions)
        sched = [(int(frames[s]), int(frames[e - 1]), a) for s, e, a in poses['schedule']]
        tracks.append(dict(object_id=int(oid), frame_nums=frames.tolist(), actions=sched, **poses))
    total_frames = num_frames + (reappear_gap or 0)
    per_frame: Dict[int, List[tuple]] = {}
    for t in tracks:
        for i, fn in enumerate(t['frame_nums']):
            per_frame.setdefault(fn, []).append((t, i))
    frame_list = [fn for fn in range(total_frames) if fn in per_frame]
    info: Dict[str, Any] = dict(path=path, tracks=[{k: t[k] for k in ('object_id', 'frame_nums', 'actions')}
                                                   for t in tracks], frame_ends=[])
    writer = _LimitedWriter(path, truncate_at)
    writer.write('[')
    t0 = 1_700_000_000_000_000_000
    for b in range(0, len(frame_list), frames_per_batch):
        group = frame_list[b:b + frames_per_batch]
        if b:
            writer.write(', ')
        writer.write('{\n  "num_frames_in_batch": %d,\n  "batches": [' % len(group))
        for j, fn in enumerate(group):
            objs = per_frame[fn]
            if j:
                writer.write(', ')
            writer.write('{\n    "batch_id": %d,\n    "frame_num": %d,\n    "ntp_timestamp": %d,\n'
                         '    "num_obj_meta": %d,\n    "objects": [' % (j, fn, t0 + fn * 33_333_333, len(objs)))
            writer.write(', '.join('{\n      "object_id": %d,\n      "pose25d": [%s],\n      "pose3d": [%s]\n    }'
                                   % (t['object_id'], _fmt(t['pose25d'][i].ravel()), _fmt(t['pose3d'][i].ravel()))
                                   for t, i in objs))
            writer.write(']\n  }')
            info['frame_ends'].append((fn, writer.logical))
        writer.write(']\n}')
    writer.write(']\n')
    writer.close()
    info.update(bytes=writer.written, full_bytes=writer.logical, truncated_at=writer.limit,
                frames=sum(1 for _, end in info['frame_ends'] if end <= writer.written))
    return info


class _LimitedWriter:
    """Streams text to an atomic file, optionally stopping after ``limit`` bytes (a crashed run)."""

    def __init__(self, path: str, truncate_at: Union[None, int, float]) -> None:
        self._ctx = atomic_open(path, 'wb')
        self._f = self._ctx.__enter__()
        self._parts: List[bytes] = []
        self._truncate_at = truncate_at
        self.limit: Optional[int] = None if truncate_at is None else (
            int(truncate_at) if isinstance(truncate_at, (int, np.integer)) else None)
        if truncate_at is not None and self.limit is None and not 0 < float(truncate_at) < 1:
            raise ValueError(f'truncate_at={truncate_at!r}: expected a byte count or a fraction in (0, 1)')
        self.logical = 0
        self.written = 0

    def write(self, text: str) -> None:
        data = text.encode('ascii')
        self.logical += len(data)
        if self.limit is None and self._truncate_at is not None:
            self._parts.append(data)  # fraction: size known only at the end
            return
        if self.limit is not None and self.written + len(data) > self.limit:
            data = data[:max(0, self.limit - self.written)]
        self._f.write(data)
        self.written += len(data)

    def close(self) -> None:
        if self._parts:
            whole = b''.join(self._parts)
            self.limit = int(len(whole) * float(self._truncate_at))
            self._f.write(whole[:self.limit])
            self.written = self.limit
        self._ctx.__exit__(None, None, None)


def ground_truth_labels(info: Dict[str, Any], path: Optional[str] = None) -> str:
    """Labels CSV text (file,object_id,start_frame,end_frame,label) of a generated file's action schedule.

    Args:
        info: The dict returned by :func:`generate_deepstream_json`.
        path: If given, also write the CSV there (atomically).

    Returns:
        The CSV text.
    """
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator='\n')
    w.writerow(['file', 'object_id', 'start_frame', 'end_frame', 'label'])
    name = osp.basename(info['path'])
    for t in info['tracks']:
        for first, last, action in t['actions']:
            w.writerow([name, t['object_id'], first, last, action])
    text = buf.getvalue()
    if path is not None:
        atomic_write_bytes(path, text.encode())
    return text
