"""Synthetic NVIDIA-layout skeleton sequences: the embedded sample dataset.

A procedural 34-joint body (BodyPose3DNet order) is animated with six actions
whose motions really differ -- sitting_down, getting_up, sitting, standing,
walking, jumping -- with random body size, facing direction, speed, phase,
sensor noise and occluded joints. Sequences are written like TAO's
``dataset_convert`` 3dbp output: joint positions in millimetres relative to the
pelvis divided by the focal length (1200), occluded joints (confidence 0) as
zeros, 100 real frames (sometimes fewer) zero-padded to 300.

Everything is drawn from ``np.random.default_rng(seed)``: the same seed gives
byte-identical files.
"""
import json
import os
import os.path as osp
from typing import Dict, List, Tuple

import numpy as np

from posecls.datasets.label_io import save_label_file
from posecls.utils.atomic_io import atomic_open

CLASSES = ('sitting_down', 'getting_up', 'sitting', 'standing', 'walking', 'jumping')
LABEL_MAP = {name: i for i, name in enumerate(CLASSES)}
NUM_JOINTS = 34
FOCAL_LENGTH = 1200.0


def _rot_x(v: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Rotate vectors v (..., 3) about the x axis by angle (...) (positive: +y towards +z)."""
    c, s = np.cos(angle), np.sin(angle)
    x, y, z = v[..., 0], v[..., 1], v[..., 2]
    return np.stack([x, c * y - s * z, s * y + c * z], axis=-1)


def _dir(angle: np.ndarray) -> np.ndarray:
    """Unit vector pointing down (-y) rotated forward (+z) by angle, shape (T, 3)."""
    return np.stack([np.zeros_like(angle), -np.cos(angle), np.sin(angle)], axis=-1)


def body_joints(p: Dict[str, np.ndarray], size: float) -> np.ndarray:
    """Forward kinematics: joint angles over T frames -> (T, 34, 3) positions in mm, body frame.

    Body frame: x to the subject's left, y up, z forward, pelvis at the origin.
    ``p`` holds (T,) arrays: ``lean`` (trunk forward), ``hip_l/hip_r`` (thigh
    flexion), ``knee_l/knee_r``, ``sh_l/sh_r`` (arm flexion, 0 = hanging),
    ``elb_l/elb_r``, ``abd`` (arm abduction).
    """
    T = len(p['lean'])
    J = np.zeros((T, NUM_JOINTS, 3))
    s = size
    up = _rot_x(np.broadcast_to([0.0, 1.0, 0.0], (T, 3)), p['lean'])
    J[:, 3] = up * 250 * s  # torso
    J[:, 6] = up * 500 * s  # neck
    head_fwd = _rot_x(np.broadcast_to([0.0, 0.0, 1.0], (T, 3)), p['lean'])
    J[:, 15] = J[:, 6] + up * 150 * s + head_fwd * 70 * s  # nose
    for side, sx in (('l', 1.0), ('r', -1.0)):
        o = 0 if side == 'l' else 1
        hip = np.array([sx * 100 * s, -20 * s, 0.0])
        J[:, 1 + o] = hip
        thigh = _dir(p[f'hip_{side}'])
        shin = _dir(p[f'hip_{side}'] - p[f'knee_{side}'])
        J[:, 4 + o] = hip + thigh * 430 * s
        J[:, 7 + o] = J[:, 4 + o] + shin * 420 * s
        foot_fwd = _rot_x(np.broadcast_to([0.0, 0.0, 1.0], (T, 3)), np.clip(p[f'hip_{side}'] - p[f'knee_{side}'],
                                                                              -0.3, 0.3))
        ank = J[:, 7 + o]
        J[:, 13 + o] = ank + np.array([0, -50 * s, 0]) - foot_fwd * 50 * s  # heel
        J[:, 9 + o] = ank + np.array([sx * 10 * s, -70 * s, 0]) + foot_fwd * 150 * s  # big toe
        J[:, 11 + o] = ank + np.array([sx * 45 * s, -70 * s, 0]) + foot_fwd * 125 * s  # small toe
        J[:, 16 + o] = J[:, 15] + up * 35 * s + np.array([sx * 35 * s, 0, 0]) - head_fwd * 10 * s  # eye
        J[:, 18 + o] = J[:, 15] + up * 20 * s + np.array([sx * 75 * s, 0, 0]) - head_fwd * 80 * s  # ear
        sh = J[:, 6] + np.array([sx * 180 * s, 0, 0]) - up * 20 * s
        J[:, 20 + o] = sh
        arm_angle = p[f'sh_{side}'] + p['lean']
        upper = _dir(arm_angle)
        upper = upper * np.cos(p['abd'])[:, None] + np.array([sx, 0, 0]) * np.sin(p['abd'])[:, None]
        fore = _dir(arm_angle + p[f'elb_{side}'])
        J[:, 22 + o] = sh + upper * 280 * s
        wrist = J[:, 22 + o] + fore * 250 * s
        J[:, 24 + o] = wrist
        J[:, 26 + o] = wrist + fore * 80 * s + np.array([sx * 30 * s, 0, 0])  # pinky knuckle
        J[:, 28 + o] = wrist + fore * 180 * s  # middle tip
        J[:, 30 + o] = wrist + fore * 85 * s - np.array([sx * 15 * s, 0, 0])  # index knuckle
        J[:, 32 + o] = wrist + fore * 110 * s - np.array([sx * 45 * s, 0, 0]) + head_fwd * 20 * s  # thumb tip
    return J


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def action_angles(action: str, T: int, rng: np.random.Generator) -> Dict[str, np.ndarray]:
    """Joint-angle trajectories (radians, (T,) each) of one action instance."""
    t = np.arange(T, dtype=np.float64)
    z = np.zeros(T)
    p = {k: z.copy() for k in ('lean', 'hip_l', 'hip_r', 'knee_l', 'knee_r', 'sh_l', 'sh_r', 'elb_l', 'elb_r',
                               'abd')}
    jitter = lambda amp: amp * np.sin(2 * np.pi * t / rng.uniform(40, 90) + rng.uniform(0, 2 * np.pi))  # noqa
    p['elb_l'] += 0.2 + jitter(0.05)
    p['elb_r'] += 0.2 + jitter(0.05)
    p['abd'] += 0.1
    sit_hip, sit_knee = rng.uniform(1.35, 1.65), rng.uniform(1.3, 1.7)
    if action in ('sitting_down', 'getting_up'):
        dur = rng.uniform(30, 55)
        start = rng.uniform(5, max(6.0, T - dur - 5))
        u = _smoothstep((t - start) / dur)
        if action == 'getting_up':
            u = 1 - u
        bump = np.sin(np.pi * np.clip((t - start) / dur, 0, 1))  # lean forward during the transition
        p['lean'] = 0.45 * bump + 0.05 * u
        for side in 'lr':
            p[f'hip_{side}'] = u * sit_hip + 0.45 * bump
            p[f'knee_{side}'] = u * sit_knee
            p[f'sh_{side}'] = 0.35 * bump + 0.2 * u
    elif action == 'sitting':
        p['lean'] += 0.05 + jitter(0.05)
        for side in 'lr':
            p[f'hip_{side}'] += sit_hip + jitter(0.04)
            p[f'knee_{side}'] += sit_knee + jitter(0.05)
            p[f'sh_{side}'] += 0.3 + jitter(0.08)
            p[f'elb_{side}'] += 0.8
    elif action == 'standing':
        p['lean'] += jitter(0.03)
        for side in 'lr':
            p[f'hip_{side}'] += jitter(0.03)
            p[f'knee_{side}'] += 0.03 + np.abs(jitter(0.03))
            p[f'sh_{side}'] += jitter(0.06)
    elif action == 'walking':
        period = rng.uniform(24, 40)
        ph = 2 * np.pi * t / period + rng.uniform(0, 2 * np.pi)
        amp = rng.uniform(0.3, 0.45)
        p['lean'] += 0.06
        p['hip_l'] = amp * np.sin(ph)
        p['hip_r'] = amp * np.sin(ph + np.pi)
        p['knee_l'] = 0.55 * np.clip(np.sin(ph - 1.2), 0, None) + 0.05
        p['knee_r'] = 0.55 * np.clip(np.sin(ph + np.pi - 1.2), 0, None) + 0.05
        p['sh_l'] = 0.8 * amp * np.sin(ph + np.pi)
        p['sh_r'] = 0.8 * amp * np.sin(ph)
    elif action == 'jumping':
        period = rng.uniform(22, 34)
        ph = 2 * np.pi * t / period + rng.uniform(0, 2 * np.pi)
        crouch = 0.5 * (1 + np.cos(ph))  # 1 = deepest crouch
        air = np.clip(np.sin(ph - np.pi / 2), 0, None)
        p['lean'] = 0.35 * crouch
        for side in 'lr':
            p[f'hip_{side}'] = 1.0 * crouch + 0.15 * air
            p[f'knee_{side}'] = 1.5 * crouch + 0.1 * air
            p[f'sh_{side}'] = -0.5 * crouch + 2.4 * air
    else:
        raise ValueError(f'unknown action {action!r}; choose from {CLASSES}')
    return p


def make_sequence(action: str, rng: np.random.Generator, t_max: int = 300,
                  length_range: Tuple[int, int] = (70, 100)) -> np.ndarray:
    """One (3, t_max, 34, 1) float32 sequence of ``action`` in TAO's 3dbp form."""
    T = int(rng.integers(length_range[0], length_range[1] + 1)) if rng.random() < 0.3 else length_range[1]
    p = action_angles(action, T, rng)
    size = rng.uniform(0.85, 1.15)
    J = body_joints(p, size)  # (T, V, 3) body frame, mm
    yaw = rng.uniform(-np.pi / 3, np.pi / 3)  # roughly facing the camera, like a DeepStream scene
    c, s = np.cos(yaw), np.sin(yaw)
    x, y, zz = J[..., 0], J[..., 1], J[..., 2]
    cam = np.stack([c * x + s * zz, -y, -s * x + c * zz], axis=-1)  # camera frame: Y down
    cam += rng.normal(0.0, 12.0, cam.shape)  # sensor noise (mm)
    cam[:, 0] = 0.0  # the pelvis is the reference point
    feats = cam / FOCAL_LENGTH
    occluded = rng.random((T, NUM_JOINTS)) < rng.uniform(0.0, 0.05)
    occluded[:, 0] = False
    feats[occluded] = 0.0  # confidence 0 -> zeros, as TAO's converter writes them
    out = np.zeros((3, t_max, NUM_JOINTS, 1), dtype=np.float32)
    out[:, :T, :, 0] = feats.transpose(2, 0, 1)
    return out


def make_split(num_per_class: int, rng: np.random.Generator, t_max: int = 300, prefix: str = 'sample',
               length_range: Tuple[int, int] = (70, 100)) -> Tuple[np.ndarray, List[str], List[int]]:
    """``num_per_class`` sequences of every class, interleaved by class."""
    if length_range[1] > t_max:
        raise ValueError(f'sequence length {length_range[1]} exceeds t_max={t_max}')
    data, names, labels = [], [], []
    for i in range(num_per_class):
        for label, action in enumerate(CLASSES):
            data.append(make_sequence(action, rng, t_max=t_max, length_range=length_range))
            names.append(f'{prefix}_{action}_{i:03d}')
            labels.append(label)
    return np.stack(data), names, labels


def write_sample_dataset(out_dir: str, num_train_per_class: int = 10, num_val_per_class: int = 5,
                         seed: int = 0, t_max: int = 300,
                         length_range: Tuple[int, int] = (70, 100)) -> Dict[str, str]:
    """Write ``{train,val}_data.npy``, ``{train,val}_label.pkl`` and ``label_map.json``.

    Args:
        out_dir: Output folder (created).
        num_train_per_class: Training sequences per class.
        num_val_per_class: Validation sequences per class.
        seed: RNG seed; the same seed gives byte-identical files.
        t_max: Frames per array (TAO: 300).
        length_range: Real frames per sequence (most get the maximum), the rest is zero padding.

    Returns:
        dict of the written paths.
    """
    os.makedirs(out_dir, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = {}
    for split, n in (('train', num_train_per_class), ('val', num_val_per_class)):
        data, names, labels = make_split(n, rng, t_max=t_max, prefix=split, length_range=length_range)
        paths[f'{split}_data'] = osp.join(out_dir, f'{split}_data.npy')
        paths[f'{split}_label'] = osp.join(out_dir, f'{split}_label.pkl')
        with atomic_open(paths[f'{split}_data']) as f:
            np.save(f, data, allow_pickle=False)
        save_label_file(paths[f'{split}_label'], names, labels)
    paths['label_map'] = osp.join(out_dir, 'label_map.json')
    with atomic_open(paths['label_map'], 'w') as f:
        json.dump(LABEL_MAP, f, indent=1)
    return paths
