"""Preprocessing transforms of the real-data recipes: centring, scaling, rotation, resampling, streams."""
import numpy as np
import pytest

from posecls.datasets.transforms import (
    CenterOnJoint,
    NormalizeScale,
    PoseStream,
    RandomRotate,
    RandomScale,
    UniformSample,
)
from posecls.datasets.transforms.augmentation import rotation_matrix
from posecls.datasets.transforms.sampling import uniform_indices
from posecls.datasets.transforms.skeleton_utils import bone_parents, num_valid_frames

# Kinect v1 (NW-UCLA) bones, 0-based, and CTR-GCN's NW-UCLA bone pairs (feeders/bone_pairs.py, 1-based
# (joint, parent)): the independent reference for the parents found from the layout.
KINECT_EDGES = [(0, 1), (1, 2), (2, 3), (2, 4), (4, 5), (5, 6), (6, 7), (2, 8), (8, 9), (9, 10), (10, 11), (0, 12),
                (12, 13), (13, 14), (14, 15), (0, 16), (16, 17), (17, 18), (18, 19)]
CTRGCN_UCLA_PAIRS = ((1, 2), (2, 3), (3, 3), (4, 3), (5, 3), (6, 5), (7, 6), (8, 7), (9, 3), (10, 9), (11, 10),
                     (12, 11), (13, 1), (14, 13), (15, 14), (16, 15), (17, 1), (18, 17), (19, 18), (20, 19))
KINECT = dict(num_node=20, edges=KINECT_EDGES, center=2)


def clip(T=10, pad=5, V=20, M=1, seed=0, offset=2.0):
    """(3, T + pad, V, M) random clip away from the origin, zero-padded after T frames."""
    rng = np.random.default_rng(seed)
    kp = np.zeros((3, T + pad, V, M), dtype=np.float32)
    kp[:, :T] = rng.normal(size=(3, T, V, M)) + offset
    return kp


def run(transform, kp, seed=0, **extra):
    return transform(dict(keypoint=kp.copy(), rng=np.random.default_rng(seed), **extra))


# ---------------------------------------------------------------- helpers
def test_bone_parents_from_the_layout_equal_ctrgcn_ucla_pairs():
    parents = bone_parents(20, KINECT_EDGES, center=2)
    assert [(v + 1, int(p) + 1) for v, p in enumerate(parents)] == list(CTRGCN_UCLA_PAIRS)
    with pytest.raises(ValueError, match=r'joints \[3\] are not connected to the centre joint 0'):
        bone_parents(4, [(0, 1), (1, 2)], center=0)


def test_valid_frames_end_at_the_last_frame_with_data():
    kp = clip(T=7, pad=4)
    assert num_valid_frames(dict(keypoint=kp)) == 7
    assert num_valid_frames(dict(keypoint=np.zeros((3, 5, 2, 1)))) == 0


# ---------------------------------------------------------------- CenterOnJoint
def test_center_first_frame_keeps_motion_and_padding():
    kp = clip(T=6, pad=3)
    kp[:, 2, 5] = 0  # a missing joint
    out = run(CenterOnJoint(joint=1, mode='first'), kp)['keypoint']
    np.testing.assert_allclose(out[:, 0, 1, 0], 0, atol=1e-6)
    present = np.any(kp != 0, axis=0)
    expected = np.where(present[None], kp - kp[:, 0, 1, 0][:, None, None, None], 0)
    np.testing.assert_allclose(out, expected, atol=1e-5)
    assert np.all(out[:, 6:] == 0) and np.all(out[:, 2, 5] == 0)


def test_center_per_frame_and_each_person():
    kp = clip(T=5, pad=0, M=2)
    out = run(CenterOnJoint(joint=3, mode='per_frame', person='each'), kp)['keypoint']
    np.testing.assert_allclose(out[:, :, 3, :], 0, atol=1e-6)
    shared = run(CenterOnJoint(joint=3, mode='per_frame', person='first'), kp)['keypoint']
    np.testing.assert_allclose(shared[:, :, 3, 0], 0, atol=1e-6)
    np.testing.assert_allclose(shared[:, :, 3, 1], kp[:, :, 3, 1] - kp[:, :, 3, 0], atol=1e-5)


def test_center_falls_back_to_the_mean_of_present_joints():
    kp = clip(T=3, pad=0, V=4)
    kp[:, 0, 2] = 0  # centre joint missing in frame 0
    out = run(CenterOnJoint(joint=2, mode='per_frame'), kp)['keypoint']
    present = [0, 1, 3]
    np.testing.assert_allclose(out[:, 0, present, 0].mean(axis=1), 0, atol=1e-5)


def test_center_checks_its_arguments():
    with pytest.raises(ValueError, match='joint 25 is outside the V=20 joints'):
        run(CenterOnJoint(joint=25), clip())
    with pytest.raises(ValueError, match="mode must be one of"):
        CenterOnJoint(mode='mean')
    with pytest.raises(ValueError, match=r'channels \[3\] must be indices in \[0, 2\]'):
        run(CenterOnJoint(channels=[3]), clip())


# ---------------------------------------------------------------- NormalizeScale
def test_minmax_maps_every_channel_to_minus_one_one_and_keeps_zeros():
    kp = clip(T=8, pad=4)
    kp[:, 3, 7] = 0
    out = run(NormalizeScale(mode='minmax'), kp)['keypoint']
    present = np.any(kp != 0, axis=0)
    vals = out[:, present]
    np.testing.assert_allclose(vals.min(axis=1), -1, atol=1e-6)
    np.testing.assert_allclose(vals.max(axis=1), 1, atol=1e-6)
    assert np.all(out[:, ~present] == 0)


def test_centre_joint_at_the_origin_stays_present_for_later_transforms():
    """After centring the spine is exactly 0 in frame 0; min-max must still scale it like any joint."""
    kp = clip(T=6, pad=2)
    results = run(CenterOnJoint(joint=1, mode='first'), kp)
    assert np.all(results['keypoint'][:, 0, 1, 0] == 0)
    out = NormalizeScale(mode='minmax')(results)['keypoint']
    assert np.any(out[:, 0, 1, 0] != 0)


def test_max_abs_keeps_shape_and_zero_span_is_safe():
    kp = clip(T=5, pad=0)
    out = run(NormalizeScale(mode='max_abs'), kp)['keypoint']
    assert np.isclose(np.abs(out).max(), 1)
    np.testing.assert_allclose(out * np.abs(kp).max(), kp, rtol=1e-5)
    flat = np.ones((3, 4, 5, 1), dtype=np.float32)  # every joint at the same point: no spread
    assert np.all(run(NormalizeScale(mode='minmax'), flat)['keypoint'] == 0)


# ---------------------------------------------------------------- RandomRotate / RandomScale
def test_rotation_matrices_are_rotations():
    R = rotation_matrix(0.3, -0.7, 1.1)
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-12)
    assert np.isclose(np.linalg.det(R), 1)
    np.testing.assert_allclose(rotation_matrix(0, 0, np.pi / 2) @ [1, 0, 0], [0, 1, 0], atol=1e-12)


def test_random_rotate_preserves_distances_and_is_seeded():
    kp = clip(T=6, pad=2)
    out = run(RandomRotate(angle=(60, 60, 30)), kp, seed=3)['keypoint']
    d_in = np.linalg.norm(kp[:, :6, 0] - kp[:, :6, 5], axis=0)
    d_out = np.linalg.norm(out[:, :6, 0] - out[:, :6, 5], axis=0)
    np.testing.assert_allclose(d_in, d_out, rtol=1e-5)
    assert not np.allclose(out, kp)
    assert np.all(out[:, 6:] == 0)
    np.testing.assert_array_equal(out, run(RandomRotate(angle=(60, 60, 30)), kp, seed=3)['keypoint'])
    assert not np.array_equal(out, run(RandomRotate(angle=(60, 60, 30)), kp, seed=4)['keypoint'])


def test_random_rotate_respects_the_angle_limits():
    kp = np.zeros((3, 1, 1, 1), dtype=np.float32)
    kp[0] = 1.0  # a unit x vector: rotating about y only moves it within +-limit of the x axis
    for seed in range(20):
        v = run(RandomRotate(angle=(0, 10, 0)), kp, seed=seed)['keypoint'][:, 0, 0, 0]
        assert abs(v[1]) < 1e-6 and np.degrees(np.arccos(np.clip(v[0], -1, 1))) <= 10 + 1e-4
    zero = run(RandomRotate(angle=0.0, unit='rad'), clip())['keypoint']
    np.testing.assert_allclose(zero, clip(), atol=1e-6)


def test_random_rotate_in_plane_for_2d_and_argument_checks():
    kp = clip(T=4, pad=0)
    out = run(RandomRotate(angle=(0, 0, 90), channels=(0, 1)), kp)['keypoint']
    np.testing.assert_allclose(np.linalg.norm(out[:2], axis=0), np.linalg.norm(kp[:2], axis=0), rtol=1e-5)
    np.testing.assert_array_equal(out[2], kp[2])
    with pytest.raises(ValueError, match='unit must be one of'):
        RandomRotate(unit='grad')
    with pytest.raises(ValueError, match='angle must be a non-negative number or three'):
        RandomRotate(angle=(1, 2))


def test_random_scale_ranges():
    kp = clip(T=4, pad=0)
    for seed in range(10):
        out = run(RandomScale(scale=(0.5, 1.5), per_axis=False), kp, seed=seed)['keypoint']
        ratio = out / kp
        assert np.allclose(ratio, ratio.flat[0]) and 0.5 <= ratio.flat[0] <= 1.5
        per_axis = run(RandomScale(scale=0.1), kp, seed=seed)['keypoint'] / kp
        assert np.all((per_axis >= 0.9 - 1e-6) & (per_axis <= 1.1 + 1e-6))
    with pytest.raises(ValueError, match='0 < low <= high'):
        RandomScale(scale=(1.5, 0.5))


# ---------------------------------------------------------------- UniformSample
def test_uniform_indices_cover_every_segment_in_order():
    rng = np.random.default_rng(0)
    idx = uniform_indices(100, 10, rng.random(10))
    assert np.all(np.diff(idx) >= 0) and np.all(idx // 10 == np.arange(10))
    short = uniform_indices(4, 10, np.full(10, 0.5))
    assert short.tolist() == [0, 0, 1, 1, 1, 2, 2, 3, 3, 3]  # (j + 0.5) * 4 / 10, floored


def test_uniform_sample_never_samples_padding():
    kp = clip(T=7, pad=20)
    for seed in range(5):
        out = run(UniformSample(clip_len=16), kp, seed=seed)['keypoint']
        assert out.shape == (3, 16, 20, 1)
        assert np.all(np.any(out != 0, axis=(0, 2, 3)))  # every sampled frame holds data


def test_uniform_sample_test_mode_is_deterministic_and_multi_clip():
    kp = clip(T=40, pad=10)
    a = run(UniformSample(clip_len=8, test_mode=True), kp, seed=1)['keypoint']
    b = run(UniformSample(clip_len=8, test_mode=True), kp, seed=2)['keypoint']
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, kp[:, [2, 7, 12, 17, 22, 27, 32, 37]])  # segment centres
    clips = run(UniformSample(clip_len=8, num_clips=4, test_mode=True), kp)['keypoint']
    assert clips.shape == (4, 3, 8, 20, 1) and not np.array_equal(clips[0], clips[3])
    train = [run(UniformSample(clip_len=8), kp, seed=s)['keypoint'] for s in range(3)]
    assert not np.array_equal(train[0], train[1])


def test_uniform_sample_random_draw_is_sorted_within_the_clip_and_varies_the_tempo():
    kp = clip(T=10, pad=30)
    kp[0, :10] = np.arange(10)[:, None, None]  # x of every joint = its frame number
    frames = [run(UniformSample(clip_len=16, sampling='random'), kp, seed=s)['keypoint'][0, :, 0, 0]
              for s in range(20)]
    for f in frames:
        assert np.all(np.diff(f) >= 0) and f.min() >= 0 and f.max() <= 9  # ordered, never padding
    # segment sampling keeps output frame j within one frame of j * 10 / 16 (the tempo); random draws drift away
    expected = np.arange(16) * 10 / 16
    assert any(np.abs(f - expected).max() > 1.5 for f in frames)
    seg = [run(UniformSample(clip_len=16), kp, seed=s)['keypoint'][0, :, 0, 0] for s in range(20)]
    assert all(np.abs(f - expected).max() < 1 for f in seg)
    # test mode ignores the training draw
    a = run(UniformSample(clip_len=8, test_mode=True, sampling='random'), kp, seed=1)['keypoint']
    np.testing.assert_array_equal(a, run(UniformSample(clip_len=8, test_mode=True), kp, seed=2)['keypoint'])
    with pytest.raises(ValueError, match="sampling must be one of \\('segment', 'random'\\)"):
        UniformSample(clip_len=8, sampling='dense')


def test_uniform_sample_of_an_empty_clip_is_zeros():
    out = run(UniformSample(clip_len=6), np.zeros((3, 10, 20, 1), dtype=np.float32))['keypoint']
    assert out.shape == (3, 6, 20, 1) and not out.any()
    with pytest.raises(ValueError, match='clip_len must be a positive int'):
        UniformSample(clip_len=0)


# ---------------------------------------------------------------- PoseStream
def test_bone_stream_uses_the_layout_parents():
    kp = clip(T=5, pad=2)
    out = run(PoseStream('bone', layout=KINECT), kp)['keypoint']
    parents = [p - 1 for _, p in CTRGCN_UCLA_PAIRS]
    np.testing.assert_allclose(out[:, :5], kp[:, :5] - kp[:, :5][:, :, parents], atol=1e-6)
    assert np.all(out[:, :, 2] == 0)  # the centre's bone
    assert np.all(out[:, 5:] == 0)
    pairs = run(PoseStream('bone', bone_pairs=[(v, p) for v, p in enumerate(parents)]), kp)['keypoint']
    np.testing.assert_array_equal(out, pairs)


def test_bone_of_a_missing_joint_is_zero():
    kp = clip(T=4, pad=0)
    kp[:, 1, 5] = 0  # elbow_left missing in frame 1: its bone and its child's bone vanish there
    out = run(PoseStream('bone', layout=KINECT), kp)['keypoint']
    assert np.all(out[:, 1, 5] == 0) and np.all(out[:, 1, 6] == 0)
    assert np.any(out[:, 1, 7] != 0)


def test_motion_streams_stop_at_the_last_valid_frame():
    kp = clip(T=6, pad=3)
    jm = run(PoseStream('joint_motion'), kp)['keypoint']
    np.testing.assert_allclose(jm[:, :5], kp[:, 1:6] - kp[:, :5], atol=1e-6)
    assert np.all(jm[:, 5:] == 0)
    bm = run(PoseStream('bone_motion', layout=KINECT), kp)['keypoint']
    bone = run(PoseStream('bone', layout=KINECT), kp)['keypoint']
    np.testing.assert_allclose(bm[:, :5], bone[:, 1:6] - bone[:, :5], atol=1e-6)
    assert np.all(bm[:, 5:] == 0)


def test_streams_concatenate_and_validate():
    kp = clip(T=4, pad=0)
    out = run(PoseStream(['joint', 'bone'], layout=KINECT), kp)['keypoint']
    assert out.shape == (6, 4, 20, 1)
    np.testing.assert_array_equal(out[:3], kp)
    with pytest.raises(ValueError, match='bone streams need the skeleton'):
        PoseStream('bone')
    with pytest.raises(ValueError, match='stream must be one of'):
        PoseStream('velocity')
    with pytest.raises(ValueError, match='the bone layout has 20 joints but the data has V=17'):
        run(PoseStream('bone', layout=KINECT), clip(V=17))


def test_streams_copy_channels_that_are_not_coordinates():
    kp = clip(T=4, pad=0)
    out = run(PoseStream('bone', layout=KINECT, channels=(0, 1)), kp)['keypoint']
    np.testing.assert_array_equal(out[2], kp[2])  # e.g. a detection score
