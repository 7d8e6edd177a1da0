"""Literal re-implementations of TAO's dataset_convert and of the Triton client's segment rule.

Written from the description in shared/docs/docs/reference.md §5.2/§5.4/§7.3 as
plain per-object, per-joint, per-channel Python loops with ``np.concatenate``
in the window loop, like TAO does. Used by the tests (bit-exactness) and by
benchmarks/bench_dataset_convert.py (speed-up). Not part of the package.
"""
import json
import os

import numpy as np


def tao_sequences(pose_data, pose_type='3dbp', num_joints=34, input_width=1920, input_height=1080,
                  focal_length=1200.0):
    """Per-object lists of per-appearance joint lists (TAO step 1-2), plus the frame numbers."""
    width, height = float(input_width), float(input_height)
    seqs, frames = {}, {}
    for batch in pose_data:
        assert batch['num_frames_in_batch'] == len(batch['batches'])
        for frame in batch['batches']:
            for person in frame['objects']:
                oid = person['object_id']
                if oid not in seqs:
                    seqs[oid] = []
                    frames[oid] = []
                joints = []
                if pose_type == '3dbp':
                    a = person['pose3d']
                    assert num_joints == len(a) // 4
                    for j in range(num_joints):
                        if a[j * 4 + 3] == 0.0:
                            joints.append([0.0, 0.0, 0.0])
                            continue
                        joints.append([(a[j * 4 + 0] - a[0]) / focal_length, (a[j * 4 + 1] - a[1]) / focal_length,
                                       (a[j * 4 + 2] - a[2]) / focal_length])
                else:
                    a = person['pose25d']
                    assert num_joints == len(a) // 4
                    for j in range(num_joints):
                        if a[j * 4 + 3] == 0.0:
                            joints.append([0.0, 0.0, 0.0] if pose_type == '25dbp' else [0.0, 0.0])
                            continue
                        x = a[j * 4 + 0] / width - 0.5
                        y = a[j * 4 + 1] / height - 0.5
                        joints.append([x, y, a[j * 4 + 2]] if pose_type == '25dbp' else [x, y])
                seqs[oid].append(joints)
                frames[oid].append(frame['frame_num'])
    return seqs, frames


def tao_windows(seq, pose_type, num_joints, sequence_length_max, sequence_length_min, sequence_length,
                sequence_overlap):
    """TAO step 3 for one object: windows filled joint by joint, concatenated one by one (None if none)."""
    dims = 2 if pose_type == '2dbp' else 3
    step = int(sequence_length * sequence_overlap)
    out = None
    start = 0
    while len(seq) - start >= sequence_length_min:
        end = start + sequence_length
        if len(seq) - start < sequence_length:
            end = len(seq)
        w = np.zeros((1, dims, sequence_length_max, num_joints, 1), dtype='float32')
        t = 0
        for fi in range(start, end):
            for j in range(num_joints):
                for d in range(dims):
                    w[0, d, t, j, 0] = seq[fi][j][d]
            t += 1
        out = w if out is None else np.concatenate((out, w), axis=0)
        start += step
    return out


def tao_convert(pose_data, pose_type='3dbp', num_joints=34, input_width=1920, input_height=1080,
                focal_length=1200.0, sequence_length_max=300, sequence_length_min=10, sequence_length=100,
                sequence_overlap=0.5, results_dir=None):
    """TAO's dataset_convert: {object_id: (S, C, T, V, 1) float32}; optionally np.save to results_dir.

    ``pose_data`` is the parsed JSON or a path (then read with ``json.load`` as TAO does).
    """
    if isinstance(pose_data, str):
        with open(pose_data) as f:
            pose_data = json.load(f)
    seqs, _ = tao_sequences(pose_data, pose_type, num_joints, input_width, input_height, focal_length)
    out = {}
    for oid, seq in seqs.items():
        arr = tao_windows(seq, pose_type, num_joints, sequence_length_max, sequence_length_min, sequence_length,
                          sequence_overlap)
        if arr is not None:
            out[oid] = arr
            if results_dir is not None:
                np.save(os.path.join(results_dir, f'object_{oid}.npy'), arr, allow_pickle=False)
    return out


def triton_segments(pose_data, sequence_length=100, sequence_overlap=0.5, sequence_length_min=10):
    """The Triton client's rule, literally: {(object_id, frame_num): segment id} for assigned appearances only."""
    frames = {}
    for batch in pose_data:
        for frame in batch['batches']:
            for person in frame['objects']:
                frames.setdefault(person['object_id'], []).append(frame['frame_num'])
    step = int(sequence_length * sequence_overlap)
    assignments = {}
    segment_id = 0
    for oid, fr in frames.items():
        start = 0
        while len(fr) - start >= sequence_length_min:
            end = start + sequence_length
            if len(fr) - start < sequence_length:
                end = len(fr)
            if end - start > step:
                for i in range(start + step, end):
                    assignments[(oid, fr[i])] = segment_id
            segment_id += 1
            start += step
    return assignments


def triton_results(pose_data, assignments, top1):
    """The Triton postprocessor's JSON: num_obj_meta removed, "action" = top-1 label of the segment or ""."""
    for batch in pose_data:
        for frame in batch['batches']:
            frame.pop('num_obj_meta', None)
            for person in frame['objects']:
                person['segment_id'] = assignments.get((person['object_id'], frame['frame_num']), -1)
                person['action'] = ''
    for idx, label in enumerate(top1):
        for batch in pose_data:
            for frame in batch['batches']:
                for person in frame['objects']:
                    if person['segment_id'] == idx:
                        person['action'] = label
    for batch in pose_data:
        for frame in batch['batches']:
            for person in frame['objects']:
                del person['segment_id']
    return pose_data
