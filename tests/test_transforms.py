"""Transforms: TAO's auto_pad / random_choose / random_move semantics, reproducibility, packing."""
import numpy as np
import pytest
import torch

from posecls.datasets.transforms import AutoPad, PackPoseInputs, RandomChoose, RandomMove
from posecls.registry import TRANSFORMS


def seq(T=10, C=3, V=4, M=2, seed=0):
    return np.random.default_rng(seed).normal(size=(C, T, V, M)).astype(np.float32)


def test_auto_pad_pads_at_end_and_never_crops():
    x = seq(6)
    out = AutoPad(10)(dict(keypoint=x.copy()))['keypoint']
    assert out.shape == (3, 10, 4, 2)
    np.testing.assert_array_equal(out[:, :6], x)
    assert not out[:, 6:].any()
    long = seq(12)
    np.testing.assert_array_equal(AutoPad(10)(dict(keypoint=long.copy()))['keypoint'], long)
    rp = AutoPad(10, random_pad=True)(dict(keypoint=x.copy(), rng=np.random.default_rng(3)))['keypoint']
    begin = int(np.argmax(np.abs(rp).sum(axis=(0, 2, 3)) > 0))
    np.testing.assert_array_equal(rp[:, begin:begin + 6], x)
    assert TRANSFORMS.get('Window') is AutoPad


def test_random_choose_crop_pad_and_identity():
    x = seq(20)
    same = RandomChoose(20)(dict(keypoint=x.copy()))['keypoint']
    np.testing.assert_array_equal(same, x)
    begins = set()
    for s in range(40):
        out = RandomChoose(8)(dict(keypoint=x.copy(), rng=np.random.default_rng(s)))['keypoint']
        assert out.shape == (3, 8, 4, 2)
        b = [b for b in range(13) if np.array_equal(x[:, b:b + 8], out)]
        assert len(b) == 1
        begins.add(b[0])
    assert min(begins) >= 0 and max(begins) <= 12 and len(begins) > 5  # uniform over [0, T - size]
    short = seq(5)
    padded = RandomChoose(9)(dict(keypoint=short.copy(), rng=np.random.default_rng(1)))['keypoint']
    assert padded.shape == (3, 9, 4, 2)
    assert np.abs(padded).sum() == pytest.approx(np.abs(short).sum(), rel=1e-6)
    unpadded = RandomChoose(9, auto_pad=False)(dict(keypoint=short.copy()))['keypoint']
    assert unpadded.shape == (3, 5, 4, 2)


def tao_random_move_loop(data, A, S, TX, TY, node):
    """TAO / original feeder/tools.py random_move, literally (per-frame loop, np.dot)."""
    C, T, V, M = data.shape
    a, s, t_x, t_y = np.zeros(T), np.zeros(T), np.zeros(T), np.zeros(T)
    for i in range(len(node) - 1):
        a[node[i]:node[i + 1]] = np.linspace(A[i], A[i + 1], node[i + 1] - node[i]) * np.pi / 180
        s[node[i]:node[i + 1]] = np.linspace(S[i], S[i + 1], node[i + 1] - node[i])
        t_x[node[i]:node[i + 1]] = np.linspace(TX[i], TX[i + 1], node[i + 1] - node[i])
        t_y[node[i]:node[i + 1]] = np.linspace(TY[i], TY[i + 1], node[i + 1] - node[i])
    theta = np.array([[np.cos(a) * s, -np.sin(a) * s], [np.sin(a) * s, np.cos(a) * s]])
    out = data.copy()
    for i_frame in range(T):
        xy = out[0:2, i_frame, :, :]
        new_xy = np.dot(theta[:, :, i_frame], xy.reshape(2, -1))
        new_xy[0] += t_x[i_frame]
        new_xy[1] += t_y[i_frame]
        out[0:2, i_frame, :, :] = new_xy.reshape(2, V, M)
    return out


@pytest.mark.parametrize('move_time', [1, 3])
def test_random_move_equals_tao_loop_with_same_draws(move_time):
    x = seq(30)
    x[:, 20:] = 0  # zero padding is transformed too (TAO behaviour)
    t = RandomMove(move_time_candidate=[move_time])
    out = t(dict(keypoint=x.copy(), rng=np.random.default_rng(11)))['keypoint']
    # replay the same draws in the same order
    rng = np.random.default_rng(11)
    mt = int(rng.choice([move_time]))
    node = np.append(np.arange(0, 30, 30 / mt).round().astype(int), 30)
    A = rng.choice(t.angle_candidate, len(node))
    S = rng.choice(t.scale_candidate, len(node))
    TX = rng.choice(t.transform_candidate, len(node))
    TY = rng.choice(t.transform_candidate, len(node))
    ref = tao_random_move_loop(x, A, S, TX, TY, node)
    np.testing.assert_allclose(out, ref, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(out[2], x[2])  # channel 2 untouched
    assert out.dtype == np.float32
    assert np.abs(out[:2, 25]).sum() > 0 or (TX[-1] == 0 and TY[-1] == 0)


def test_random_move_candidates_are_tao_defaults_and_validated():
    t = RandomMove()
    assert t.angle_candidate == [-10., -5., 0., 5., 10.]
    assert t.scale_candidate == [0.9, 1.0, 1.1]
    assert t.transform_candidate == [-0.2, -0.1, 0.0, 0.1, 0.2]
    assert t.move_time_candidate == [1]
    with pytest.raises(ValueError, match='at least 2 channels'):
        t(dict(keypoint=np.zeros((1, 4, 3, 1), np.float32)))
    with pytest.raises(ValueError, match='empty'):
        RandomMove(angle_candidate=[])


def test_transforms_reproducible_from_seed_and_fallback_rng():
    x = seq(30)
    a = RandomChoose(10)(dict(keypoint=x.copy(), rng=np.random.default_rng([1, 2, 3])))['keypoint']
    b = RandomChoose(10)(dict(keypoint=x.copy(), rng=np.random.default_rng([1, 2, 3])))['keypoint']
    np.testing.assert_array_equal(a, b)
    c = RandomMove(seed=5)(dict(keypoint=x.copy()))['keypoint']
    d = RandomMove(seed=5)(dict(keypoint=x.copy()))['keypoint']
    np.testing.assert_array_equal(c, d)


def test_pack_pose_inputs():
    out = PackPoseInputs()(dict(keypoint=seq(5), label=2, sample_name='x', sample_idx=4, rng=None))
    assert isinstance(out['inputs'], torch.Tensor) and out['inputs'].dtype == torch.float32
    ds = out['data_samples']
    assert int(ds.gt_label) == 2 and ds.sample_name == 'x' and ds.sample_idx == 4
    with pytest.raises(KeyError, match='keypoint'):
        PackPoseInputs()(dict(label=1))
    with pytest.raises(ValueError, match=r'\(C, T, V, M\)'):
        AutoPad(5)(dict(keypoint=np.zeros((3, 4, 5))))
