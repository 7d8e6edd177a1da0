"""dataset_convert is bit-identical to a literal re-implementation of TAO's per-joint loops."""
import json
import os
import os.path as osp

import numpy as np
import pytest

from posecls.datasets.deepstream import convert, generate_deepstream_json, pose_features, read_tracks, window_bounds
from posecls.datasets.deepstream.options import ConvertOptions

from tao_dataset_convert_ref import tao_convert


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal shapes, dtypes and bit patterns (so -0.0 != 0.0)."""
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


def check_against_tao(json_path, out_dir, **opts):
    summary = convert(json_path, str(out_dir), progress=False, **opts)
    with open(json_path) as f:
        ref = tao_convert(json.load(f), **opts)
    written = sorted(osp.basename(p) for p in summary['outputs'])
    assert written == sorted(f'object_{oid}.npy' for oid in ref)
    for oid, arr in ref.items():
        got = np.load(osp.join(out_dir, f'object_{oid}.npy'), allow_pickle=False)
        assert same_bits(got, arr), f'object {oid} differs'
    assert summary['windows'] == sum(len(a) for a in ref.values())
    return summary, ref


@pytest.fixture(scope='module')
def scene(tmp_path_factory):
    path = str(tmp_path_factory.mktemp('ds') / 'scene.json')
    info = generate_deepstream_json(path, num_frames=260, num_tracks=4, seed=3)
    return path, info


@pytest.mark.parametrize('pose_type', ['3dbp', '25dbp', '2dbp'])
def test_bit_exact_every_pose_type(scene, tmp_path, pose_type):
    summary, ref = check_against_tao(scene[0], tmp_path, pose_type=pose_type)
    shapes = {tuple(s) for s in summary['arrays'].values()}
    assert {s[1:] for s in shapes} == {(2 if pose_type == '2dbp' else 3, 300, 34, 1)}
    assert summary['objects'] == 4


@pytest.mark.parametrize('opts', [
    dict(sequence_overlap=0.25),
    dict(sequence_overlap=1.0),
    dict(sequence_overlap=0.29),  # int(100 * 0.29) == 28, TAO's float truncation
    dict(sequence_overlap=1.5),  # gaps between windows
    dict(sequence_length=30, sequence_length_min=5, sequence_length_max=40, sequence_overlap=0.5),  # many tails
    dict(sequence_length=64, sequence_length_min=64, sequence_length_max=64),  # no short tail windows
    dict(pose_type='25dbp', input_width=1280, input_height=720, sequence_overlap=0.75),
    dict(focal_length=800.79041, sequence_length_min=1),
])
def test_bit_exact_window_options(scene, tmp_path, opts):
    check_against_tao(scene[0], tmp_path, **opts)


def test_short_tracks_tails_and_skipped_frames(tmp_path):
    path = str(tmp_path / 'short.json')
    generate_deepstream_json(path, num_frames=120, num_tracks=6, seed=11)
    summary, ref = check_against_tao(path, tmp_path / 'out', sequence_length=40, sequence_length_min=15,
                                     sequence_overlap=1.0, sequence_length_max=50)
    tracks, _, _ = read_tracks(path, ConvertOptions())
    lengths = {t.object_id: len(t) for t in tracks}
    # objects shorter than sequence_length_min get no file; frames after the last window are skipped
    assert set(summary['objects_skipped']) == {str(o) for o, n in lengths.items() if n < 15}
    expected_skipped = sum(n if n < 15 else (n % 40 if n % 40 < 15 else 0) for n in lengths.values())
    assert summary['frames_skipped'] == expected_skipped


def _pose(n_joints=34, conf=0.9, offset=0.0):
    rng = np.random.default_rng(int(offset * 10))
    vals = []
    for j in range(n_joints):
        vals += [float(f'{rng.uniform(100, 1800):f}'), float(f'{rng.uniform(50, 1000):f}'),
                 float(f'{rng.uniform(2000, 6000) + offset:f}'), conf]
    return vals


def _write(path, frames):
    """frames: list of (frame_num, [(object_id, pose25d, pose3d), ...]) -> one batch per frame."""
    batches = [{'num_frames_in_batch': 1, 'batches': [{'batch_id': 0, 'frame_num': fn, 'ntp_timestamp': 0,
                                                       'num_obj_meta': len(objs),
                                                       'objects': [{'object_id': o, 'pose25d': p25, 'pose3d': p3}
                                                                   for o, p25, p3 in objs]}]} for fn, objs in frames]
    with open(path, 'w') as f:
        json.dump(batches, f)
    return batches


def test_confidence_zero_and_pelvis_confidence_zero(tmp_path):
    frames = []
    for fn in range(12):
        p3 = _pose(offset=fn)
        p25 = _pose(offset=fn + 0.5)
        p3[3 + 4 * 5] = 0.0  # joint 5 unseen
        p25[3 + 4 * 5] = 0.0
        if fn % 3 == 0:
            p3[3] = 0.0  # pelvis unseen: it is still subtracted from the other joints
            p25[3] = 0.0
        p25[2 + 4 * 7] = -0.0  # C printf "-0.000000": keeps its sign in 25dbp
        frames.append((fn, [(7, p25, p3)]))
    path = str(tmp_path / 'conf.json')
    data = _write(path, frames)
    opts = dict(sequence_length_min=1)
    check_against_tao(path, tmp_path / 'a', **opts)
    check_against_tao(path, tmp_path / 'b', pose_type='25dbp', **opts)
    got = np.load(tmp_path / 'a' / 'object_7.npy')
    p3 = data[0]['batches'][0]['objects'][0]['pose3d']
    assert got.shape == (1, 3, 300, 34, 1)
    assert np.all(got[0, :, :12, 5, 0] == 0)  # confidence 0 -> zeros
    assert np.all(got[0, :, :12, 0, 0] == 0)  # pelvis is the origin
    assert got[0, 0, 0, 1, 0] == np.float32((p3[4] - p3[0]) / 1200.0)  # pelvis conf 0 at frame 0, still subtracted
    assert np.all(got[0, :, 12:] == 0)  # zero padding at the end
    g25 = np.load(tmp_path / 'b' / 'object_7.npy')
    assert np.signbit(g25[0, 2, 1, 7, 0]) and g25[0, 2, 1, 7, 0] == 0


def test_features_match_per_joint_formula():
    rng = np.random.default_rng(0)
    poses = rng.normal(0, 1000, (5, 136))
    poses[:, 3::4] = rng.choice([0.0, 0.5, 1.0], (5, 34))
    f = pose_features(poses, '3dbp', focal_length=1000.0)
    for i in range(5):
        for j in range(34):
            exp = [0.0] * 3 if poses[i, 4 * j + 3] == 0 else [(poses[i, 4 * j + d] - poses[i, d]) / 1000.0
                                                              for d in range(3)]
            assert f[i, :, j].tolist() == np.float32(exp).tolist()


def test_window_bounds_match_tao_loop():
    for n in range(0, 130, 7):
        for L, step, lmin in [(100, 50, 10), (30, 7, 1), (20, 20, 20), (10, 25, 3)]:
            ref, start = [], 0
            while n - start >= lmin:
                end = start + L if n - start >= L else n
                ref.append((start, end))
                start += step
            assert window_bounds(n, L, step, lmin).tolist() == [list(r) for r in ref]


def test_reformatted_json_and_tiny_chunks_give_same_output(scene, tmp_path):
    src, _ = scene
    base = convert(src, str(tmp_path / 'base'), progress=False)
    with open(src) as f:
        data = json.load(f)
    pretty = str(tmp_path / 'pretty.json')
    with open(pretty, 'w') as f:  # sorted keys: "batches" before "num_frames_in_batch" -> exact (slow) path
        json.dump(data, f, indent=2, sort_keys=True)
    for name, path, extra in [('pretty', pretty, {}), ('chunks', src, dict(chunk_bytes=1024)),
                              ('pretty_chunks', pretty, dict(chunk_bytes=2048))]:
        s = convert(path, str(tmp_path / name), progress=False, **extra)
        assert s['windows'] == base['windows']
        for p in base['outputs']:
            assert same_bits(np.load(p), np.load(tmp_path / name / osp.basename(p)))


def test_multi_frame_batches_and_several_inputs(tmp_path):
    a, b = str(tmp_path / 'cam_a.json'), str(tmp_path / 'cam_b.json')
    generate_deepstream_json(a, num_frames=150, num_tracks=2, seed=5, frames_per_batch=4)
    generate_deepstream_json(b, num_frames=150, num_tracks=2, seed=6, frames_per_batch=3)
    s = convert([a, b], str(tmp_path / 'out'), progress=False)
    for src in (a, b):
        with open(src) as f:
            ref = tao_convert(json.load(f))
        stem = osp.splitext(osp.basename(src))[0]
        for oid, arr in ref.items():
            assert same_bits(np.load(tmp_path / 'out' / stem / f'object_{oid}.npy'), arr)
    assert len(s['outputs']) == s['objects'] - len(s['objects_skipped'])
    assert s['inputs'][0]['batches'] == -(-s['inputs'][0]['frames'] // 4)
    # a folder works as input too
    s2 = convert(str(tmp_path), str(tmp_path / 'out2'), progress=False)
    assert s2['windows'] == s['windows']
    assert sorted(os.listdir(tmp_path / 'out2')) == ['cam_a', 'cam_b']
